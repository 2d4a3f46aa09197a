"""Seed the e2e tenant with one organization per example theme, each on a vanity host.

Called by ``e2e/seed.py``. Chromium resolves every ``*.localhost`` name to the loopback
address, so ``http://ember.localhost:PORT`` reaches the same server as the tenant and
shows the Ember organization's pages.
"""

from __future__ import annotations

import typing as t

from app.orgs.services import add_member
from app.orgs.services import create_organization
from app.tenancy.services import set_domains

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.tenancy.models import Tenant

THEMED_ORGANIZATIONS = {
    "ember": ("ember-org", "Acme Corporation"),
    "nocturne": ("nocturne-org", "Globex Corporation"),
    "harbor": ("harbor-org", "Initech"),
}
"""theme -> (organization name, display name)."""


def seed_themed_organizations(
    tenant: Tenant, connection: Connection, port: int, members: t.Sequence[User] = ()
) -> dict[str, dict[str, str]]:
    """Create the organizations (``members`` may sign in to each); returns the accounts
    file's ``organizations`` entry."""
    organizations: dict[str, dict[str, str]] = {}
    wanted = [(domain.base_url, domain.organization_id) for domain in tenant.domains]
    for theme, (name, display_name) in THEMED_ORGANIZATIONS.items():
        org = create_organization(
            tenant,
            name,
            display_name,
            connections=[connection],
            theme=theme,
            branding={
                "support_email": f"help@{name}.example",
                "support_url": f"https://help.{name}.example/",
                "privacy_url": f"https://{name}.example/privacy",
            },
        )
        for user in members:
            add_member(org, user)
        url = f"http://{theme}.localhost:{port}"
        wanted.append((url, org.id))
        organizations[theme] = {"name": name, "display_name": display_name, "url": url}
    set_domains(tenant, wanted)
    return organizations
