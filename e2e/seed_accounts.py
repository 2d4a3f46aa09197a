"""Seed the accounts the account-flow scenarios use (one per scenario, so they never meet)
and an organization with its own connection to invite people into.

Called by ``e2e/seed.py``; returns what goes into the accounts file.
"""

from __future__ import annotations

import typing as t

from app.accounts.services import create_user
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


def seed_account_flows(tenant: Tenant, connection: Connection, password: str) -> dict[str, t.Any]:
    users = {}
    for key, (email, name) in ACCOUNT_USERS.items():
        create_user(connection, email=email, password=password, name=name, email_verified=True)
        users[key] = {"email": email, "password": password, "name": name}
    own = create_connection(tenant, "team-users", "database", "E2E Team users")
    name, display_name = INVITING_ORGANIZATION
    create_organization(tenant, name, display_name, connections=[own])
    return {
        "users": users,
        "invitations": {"tenant": tenant.name, "organization": name,
                        "display_name": display_name},
    }
