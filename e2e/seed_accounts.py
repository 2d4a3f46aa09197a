"""Seed the accounts the account-flow scenarios use (one per scenario, so they never meet)
and an organization with its own connection to invite people into.

Called by ``e2e/seed.py``; returns what goes into the accounts file.
"""

from __future__ import annotations

import typing as t

from app.accounts.services import create_user
from app.clients.services import create_client
from app.connections.services import create_connection
from app.orgs.services import create_organization

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.tenancy.models import Tenant

ACCOUNT_USERS = {
    "resetter": ("reset@e2e.test", "Robin Reset"),
    "changer": ("change@e2e.test", "Charlie Change"),
    "mfa": ("mfa@e2e.test", "Morgan Factor"),
}
INVITING_ORGANIZATION = ("e2e-team", "E2E Team")
SIGNUP_ORGANIZATION = ("e2e-open", "E2E Open Community")
"""An organization whose own connection allows sign-up (the tenant's does not)."""


def seed_account_flows(
    tenant: Tenant, connection: Connection, password: str, rp_port: int
) -> dict[str, t.Any]:
    users = {}
    for key, (email, name) in ACCOUNT_USERS.items():
        create_user(connection, email=email, password=password, name=name, email_verified=True)
        users[key] = {"email": email, "password": password, "name": name}
    own = create_connection(tenant, "team-users", "database", "E2E Team users")
    name, display_name = INVITING_ORGANIZATION
    create_organization(tenant, name, display_name, connections=[own])
    open_connection = create_connection(tenant, "open-users", "database", "Open community")
    open_connection.signup_enabled = True
    open_name, open_display_name = SIGNUP_ORGANIZATION
    create_organization(tenant, open_name, open_display_name, connections=[open_connection])
    redirect_uri = f"http://127.0.0.1:{rp_port}/partner/callback"
    partner, secret = create_client(
        tenant,
        "Partner analytics",
        redirect_uris=[redirect_uri],
        settings={"require_consent": True},
    )
    return {
        "users": users,
        "invitations": {"tenant": tenant.name, "organization": name, "display_name": display_name},
        "signup": {"organization": open_name, "display_name": open_display_name},
        "partner": {
            "client_id": partner.client_id,
            "client_secret": secret,
            "redirect_uri": redirect_uri,
        },
    }
