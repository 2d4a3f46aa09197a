"""The stored state of a tenant in the file's shape, and the file's values in the same
normalized shape, so plans compare like with like and export writes what apply reads.

Secrets are not part of these states: the plan compares them separately and never shows
them.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import normalize_email
from app.clients.models import Client
from app.configfile.spec import CLIENT
from app.configfile.spec import IDENTIFIER_ROUTE
from app.configfile.spec import USER
from app.connections.models import Connection
from app.db import session
from app.hrd.identifier_map import routes as hrd_routes
from app.hrd.models import IdentifierRoute
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.tenancy.services import canonical_domain

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant
    from app.tenancy.models import TenantDomain

State = dict[str, t.Any]

TENANT_SETTINGS = (
    "support_email",
    "support_url",
    "theme",
    "branding",
    "hrd",
    "attack_protection",
    "events",
    "passwords",
    "plugins",
    "require_two_step",
)
"""Keys of ``Tenant.settings`` the file manages; other keys are left as they are."""
CLIENT_SETTINGS: dict[str, t.Any] = {
    "organization_prompt": "picker",
    "logout_revokes_refresh_tokens": None,
    "backchannel_logout_uri": None,
    "backchannel_logout_session_required": False,
    "require_two_step": False,
    "require_consent": False,
}
"""Fields of ``clients[]`` kept in ``Client.settings``, with their defaults (None: not
stored); other keys there are left as they are."""


def _branding(value: t.Mapping[str, t.Any] | None) -> State:
    return {k: v for k, v in (value or {}).items() if v not in (None, {}, "")}


def _domain(row: TenantDomain) -> str:
    try:
        return canonical_domain(row.base_url)
    except ValueError:  # stored by other means in a form files cannot write
        return row.base_url


def _tenant_domains(primary_first: list[str]) -> list[str]:
    """Primary first, the rest sorted: their order carries no meaning."""
    return primary_first[:1] + sorted(primary_first[1:])


# -- the file's values, normalized ------------------------------------------------------------


def desired_tenant(spec: State) -> State:
    tenant = spec["tenant"]
    return {
        "name": tenant["name"],
        "display_name": tenant["display_name"],
        "domains": _tenant_domains(list(dict.fromkeys(tenant["domains"]))),
        "default_locale": tenant["default_locale"],
        "support_email": tenant["support_email"],
        "support_url": tenant["support_url"],
        "theme": tenant["theme"],
        "branding": _branding(tenant["branding"]),
        "hrd": tenant["hrd"],
        "attack_protection": tenant["attack_protection"],
        "events": tenant["events"],
        "passwords": tenant["passwords"],
        "plugins": tenant["plugins"],
        "require_two_step": tenant["require_two_step"],
    }


def desired_connection(item: State) -> State:
    return {
        "name": item["name"],
        "strategy": item["strategy"],
        "display_name": item["display_name"] or item["name"],
        "signup": item["signup"],
        "enabled": item["enabled"],
        "options": item["options"],
    }


def desired_organization(item: State) -> State:
    return {
        "name": item["name"],
        "display_name": item["display_name"],
        "theme": item["theme"],
        "default_locale": item["default_locale"],
        "branding": _branding(item["branding"]),
        "metadata": item["metadata"],
        "connections": item["connections"],
        "email_domains": sorted(
            (dict(d) for d in item["email_domains"]), key=lambda d: d["domain"]
        ),
        "domains": sorted(set(item["domains"])),
        "plugins": item["plugins"],
        "require_two_step": item["require_two_step"],
    }


def desired_client(item: State) -> State:
    return {k: item[k] for k in CLIENT.fields if k != "secret"}


def desired_user(item: State) -> State:
    return {
        **{k: item[k] for k in USER.fields if k not in ("password", "password_hash")},
        "organizations": sorted(
            ({"name": m["name"], "roles": sorted(set(m["roles"]))} for m in item["organizations"]),
            key=lambda m: m["name"],
        ),
    }


# -- the stored state ---------------------------------------------------------------------------


def tenant_state(tenant: Tenant) -> State:
    settings = tenant.settings or {}
    rows = [d for d in tenant.domains if d.organization_id is None]
    rows.sort(key=lambda d: (not d.is_primary, _domain(d)))
    return {
        "name": tenant.name,
        "display_name": tenant.display_name,
        "domains": _tenant_domains([_domain(d) for d in rows]),
        "default_locale": tenant.default_locale,
        "support_email": settings.get("support_email"),
        "support_url": settings.get("support_url"),
        "theme": settings.get("theme"),
        "branding": _branding(settings.get("branding")),
        "hrd": settings.get("hrd") or {},
        "attack_protection": settings.get("attack_protection") or {},
        "events": settings.get("events") or {},
        "passwords": settings.get("passwords") or {},
        "plugins": settings.get("plugins") or {},
        "require_two_step": bool(settings.get("require_two_step")),
    }


def connections(tenant: Tenant) -> dict[str, Connection]:
    query = sa.select(Connection).where(Connection.tenant_id == tenant.id).order_by(Connection.name)
    return {c.name: c for c in session.scalars(query)}


def connection_state(connection: Connection) -> State:
    return {
        "name": connection.name,
        "strategy": connection.strategy,
        "display_name": connection.display_name or connection.name,
        "signup": connection.signup_enabled,
        "enabled": connection.enabled,
        "options": connection.options or {},
    }


def organizations(tenant: Tenant) -> dict[str, Organization]:
    query = (
        sa.select(Organization)
        .where(Organization.tenant_id == tenant.id)
        .order_by(Organization.name)
    )
    return {o.name: o for o in session.scalars(query)}


def organization_state(org: Organization, tenant: Tenant) -> State:
    names = {c.id: c.name for c in connections(tenant).values()}
    return {
        "name": org.name,
        "display_name": org.display_name,
        "theme": org.theme,
        "default_locale": org.default_locale,
        "branding": _branding(org.branding),
        "metadata": org.metadata_ or {},
        "connections": [names[link.connection_id] for link in org.connection_links],
        "email_domains": sorted(
            (
                {
                    "domain": d.domain,
                    "include_subdomains": d.include_subdomains,
                    "connection": names.get(d.connection_id) if d.connection_id else None,
                }
                for d in org.email_domains
            ),
            key=lambda d: d["domain"],
        ),
        "domains": sorted(_domain(d) for d in tenant.domains if d.organization_id == org.id),
        "plugins": org.plugins or {},
        "require_two_step": org.require_two_step,
    }


def clients(tenant: Tenant) -> dict[str, Client]:
    query = sa.select(Client).where(Client.tenant_id == tenant.id).order_by(Client.client_id)
    return {c.client_id: c for c in session.scalars(query)}


def client_state(client: Client) -> State:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "auth_method": client.token_endpoint_auth_method,
        "require_pkce": client.requires_pkce,
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "grant_types": list(client.grant_types or []),
        "scope": client.scope,
        "audience": client.audience,
        "id_token_alg": client.id_token_signed_response_alg,
        "organization_usage": client.organization_usage,
        "theme": ((client.settings or {}).get("branding") or {}).get("theme"),
        "metadata": client.metadata,
        **{
            key: (client.settings or {}).get(key, default)
            for key, default in CLIENT_SETTINGS.items()
        },
    }


def find_user(connection: Connection, email: str | None, username: str | None) -> User | None:
    query = sa.select(User).where(User.connection_id == connection.id)
    if email:
        query = query.where(User.email_normalized == normalize_email(email))
    else:
        query = query.where(User.username == username)
    return session.scalar(query)


def user_state(user: User, connection: Connection) -> State:
    memberships = session.execute(
        sa.select(Organization.name, Membership.roles)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
    )
    return {
        "connection": connection.name,
        "email": user.email,
        "username": user.username,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
        "email_verified": user.email_verified,
        "blocked": user.blocked,
        "organizations": [
            {"name": name, "roles": sorted(set(roles or []))} for name, roles in memberships
        ],
    }


def desired_route(item: State) -> State:
    return {k: item[k] for k in IDENTIFIER_ROUTE.fields}


def identifier_routes(tenant: Tenant) -> dict[str, IdentifierRoute]:
    return {route.identifier: route for route in hrd_routes(tenant)}


def route_state(route: IdentifierRoute) -> State:
    organization = session.get(Organization, route.organization_id or "")
    connection = session.get(Connection, route.connection_id or "")
    return {
        "identifier": route.identifier,
        "organization": organization.name if organization is not None else None,
        "connection": connection.name if connection is not None else None,
    }
