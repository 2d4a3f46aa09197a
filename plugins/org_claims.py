"""Example claims rule: the organization and the user's roles in it, as namespaced claims.

Enable it for a tenant or an organization (``plugins: {org_claims: {}}``); tokens of a
sign-in into an organization then carry::

    "https://login.example.com/claims/organization": {"id": "...", "name": "acme", ...}
    "https://login.example.com/claims/roles": ["admin", "billing"]

The namespace is the tenant's primary domain, so the claims never clash with standard ones.
Roles come from the user's membership in the organization (``member_roles``).
"""

from __future__ import annotations

import dataclasses
import typing as t

from app import hookimpl
from app import member_roles
from app import plugin_settings

if t.TYPE_CHECKING:
    from app import Organization
    from app import Tenant
    from app import User

FOYER_SCOPED = True


@dataclasses.dataclass(frozen=True)
class Settings:
    roles: bool = True
    """Add the roles claim (an empty list for a user with no membership)."""
    targets: list[str] = dataclasses.field(
        default_factory=lambda: ["id_token", "access_token", "userinfo"]
    )
    """Which answers carry the claims."""


FOYER_SETTINGS = Settings


def namespace(tenant: Tenant) -> str:
    domain = tenant.primary_domain
    return f"https://{domain.hostname if domain else tenant.name}/claims/"


@hookimpl
def extra_token_claims(
    target: str, user: User, tenant: Tenant, organization: Organization | None
) -> dict[str, t.Any] | None:
    settings: Settings = plugin_settings()
    if organization is None or target not in settings.targets:
        return None
    ns = namespace(tenant)
    claims: dict[str, t.Any] = {
        f"{ns}organization": {
            "id": organization.id,
            "name": organization.name,
            "display_name": organization.display_name,
        }
    }
    if settings.roles:
        claims[f"{ns}roles"] = member_roles(organization, user)
    return claims
