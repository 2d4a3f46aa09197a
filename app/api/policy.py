"""Who may do what through the management API: the one policy every endpoint goes through.

A principal is an API client of the tenant holding a client-credentials access token for
the management API's audience (``<issuer>/api/v1/``), with scopes such as ``read:users``.
A client may be **bound to one organization** (``Client.settings["api_organization"]``):
it then sees only that organization, its members, invitations, connections and branding;
anything else answers 404 as if it did not exist, and tenant-wide endpoints (clients,
signing keys, creating organizations) answer 403.

Endpoints declare their scope with :func:`requires`; the resources they touch come from
:func:`organization_for` and :func:`user_for` (or :func:`users_visible` for lists), which
apply the binding. No view reads a token or compares ids itself.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

import sqlalchemy as sa
from flask import g
from flask import request
from flask_smorest.utils import deepupdate

from app.accounts.models import User
from app.api.errors import ApiError
from app.api.errors import not_found
from app.clients.models import Client
from app.clients.services import API_ORGANIZATION
from app.clients.services import api_organization_id
from app.clients.services import tenant_client
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.db import session
from app.oidc.tokens import decode_access_token
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.services import find_organization
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

API_PATH = "/api/v1/"
ORGANIZATION_BINDING = API_ORGANIZATION

SCOPES: dict[str, str] = {
    "read:users": "Search and read users, their sessions, tokens, identities, memberships",
    "create:users": "Create (invite) users",
    "update:users": "Change users' profiles and metadata, block them, end their sessions",
    "delete:users": "Delete users",
    "read:organizations": "Read organizations, their connections, domains and branding",
    "create:organizations": "Create organizations (tenant-wide clients only)",
    "update:organizations": "Change organizations, their connections, domains and branding",
    "delete:organizations": "Delete organizations (tenant-wide clients only)",
    "read:organization_members": "List an organization's members and their roles",
    "create:organization_members": "Add members and set their roles",
    "delete:organization_members": "Remove members",
    "read:organization_invitations": "List invitations",
    "create:organization_invitations": "Invite people into an organization",
    "delete:organization_invitations": "Revoke invitations",
    "read:scim_tokens": "List an organization's SCIM tokens",
    "create:scim_tokens": "Create SCIM tokens (shown once)",
    "delete:scim_tokens": "Revoke SCIM tokens",
    "read:connections": "Read connections",
    "create:connections": "Create connections (a bound client: its organization's own)",
    "update:connections": "Change connections and their secrets",
    "delete:connections": "Delete connections with their users",
    "read:clients": "Read applications (tenant-wide)",
    "create:clients": "Register applications (tenant-wide)",
    "update:clients": "Rotate applications' secrets (tenant-wide)",
    "delete:clients": "Delete applications (tenant-wide)",
    "read:signing_keys": "Read signing keys (tenant-wide)",
    "create:signing_keys": "Rotate signing keys (tenant-wide)",
    "read:events": "Query the event log",
}
"""Every scope the management API knows, with what it allows."""


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: an API client of the tenant, its scopes, maybe its organization."""

    tenant: Tenant
    client: Client
    scopes: frozenset[str]
    organization_id: str | None

    @property
    def bound(self) -> bool:
        return self.organization_id is not None


def management_audience(issuer: str) -> str:
    """The ``aud`` of access tokens for the management API of the tenant at ``issuer``."""
    return issuer.rstrip("/") + API_PATH


organization_binding = api_organization_id


def _unauthorized(message: str, error: str = "invalid_token") -> ApiError:
    challenge = f'Bearer realm="api", error="{error}"' if error else 'Bearer realm="api"'
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def authenticate() -> Principal:
    """The request's principal (once per request).

    :raises ApiError: 401 for a missing, malformed, expired, foreign or revoked token.
    """
    found = g.get("api_principal")
    if found is not None:
        return t.cast(Principal, found)
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("A bearer access token is required.", error="")
    tenant = current_tenant()
    token = decode_access_token(value.strip(), tenant)
    if token is None or token.expired:
        raise _unauthorized("The access token is invalid or expired.")
    if token.grant_id is not None:
        raise _unauthorized("A user's token cannot call the management API.")
    audience = token.claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if management_audience(request_issuer()) not in audiences:
        raise _unauthorized("The access token is not meant for this API (aud).")
    client = tenant_client(tenant.id, str(token.claims.get("client_id")))
    if client is None or "client_credentials" not in (client.grant_types or []):
        raise _unauthorized("The token's client no longer exists.")
    principal = Principal(
        tenant=tenant,
        client=client,
        scopes=frozenset(token.scopes),
        organization_id=organization_binding(client),
    )
    g.api_principal = principal
    return principal


def current_principal() -> Principal:
    return t.cast(Principal, g.api_principal)


def requires(scope: str, *, tenant_wide: bool = False) -> t.Callable[[F], F]:
    """The endpoint needs a token with ``scope``; ``tenant_wide`` ones refuse clients bound
    to an organization (403). Documented in the OpenAPI operation's ``security``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            principal = authenticate()
            if scope not in principal.scopes:
                raise ApiError(
                    403,
                    "insufficient_scope",
                    f"The access token lacks the scope {scope}.",
                    headers={
                        "WWW-Authenticate": (
                            f'Bearer realm="api", error="insufficient_scope", scope="{scope}"'
                        )
                    },
                )
            if tenant_wide and principal.bound:
                raise ApiError(
                    403,
                    "organization_bound",
                    "A client bound to an organization cannot use tenant-wide endpoints.",
                )
            return view(*args, **kwargs)

        wrapper._api_scope = scope  # type: ignore[attr-defined]
        wrapper._api_tenant_wide = tenant_wide  # type: ignore[attr-defined]
        wrapper._apidoc = deepupdate(  # type: ignore[attr-defined]
            getattr(view, "_apidoc", {}), {"manual_doc": {"security": [{"bearer": [scope]}]}}
        )
        return t.cast(F, wrapper)

    return decorate


# --- what a principal may see ----------------------------------------------------------------


def organization_for(name_or_id: str) -> Organization:
    """The tenant's organization by name or id, if the principal may see it; else 404."""
    principal = current_principal()
    if len(name_or_id) > 63 + 40:
        raise not_found("organization")
    org = find_organization(principal.tenant, name_or_id)
    if org is None or (principal.bound and org.id != principal.organization_id):
        raise not_found("organization")
    return org


def dedicated_connections(organization_id: str) -> sa.Select[tuple[str]]:
    """Ids of the connections only this organization enables (its isolated users)."""
    others = sa.select(OrganizationConnection.connection_id).where(
        OrganizationConnection.organization_id != organization_id
    )
    return sa.select(OrganizationConnection.connection_id).where(
        OrganizationConnection.organization_id == organization_id,
        OrganizationConnection.connection_id.not_in(others),
    )


def in_organization(organization_id: str) -> sa.ColumnElement[bool]:
    """A user belongs to the organization: a member, or a user of a connection only it
    enables."""
    member = sa.exists().where(
        Membership.user_id == User.id, Membership.organization_id == organization_id
    )
    return sa.or_(member, User.connection_id.in_(dedicated_connections(organization_id)))


def users_visible() -> sa.Select[tuple[User]]:
    """The users the principal may see (its tenant's; a bound client: its organization's)."""
    principal = current_principal()
    stmt = sa.select(User).where(User.tenant_id == principal.tenant.id)
    if principal.organization_id is not None:
        stmt = stmt.where(in_organization(principal.organization_id))
    return stmt


def user_for(user_id: str) -> User:
    """The user with this id, if the principal may see it; else 404."""
    if len(user_id) > 40:
        raise not_found("user")
    user = session.scalar(users_visible().where(User.id == user_id))
    if user is None:
        raise not_found("user")
    return user


def connection_to_change(name: str) -> Connection:
    """The tenant's connection of this name, if the principal may change it; else 404. A
    bound client changes only connections its organization alone enables (409
    ``connection_shared`` for one it sees because other organizations use it too)."""
    principal = current_principal()
    connection = session.scalar(
        sa.select(Connection).where(
            Connection.tenant_id == principal.tenant.id, Connection.name == name[:63]
        )
    )
    if connection is None:
        raise not_found("connection")
    if principal.organization_id is not None:
        enabled = session.scalar(
            sa.select(sa.func.count())
            .select_from(OrganizationConnection)
            .where(
                OrganizationConnection.connection_id == connection.id,
                OrganizationConnection.organization_id == principal.organization_id,
            )
        )
        if not enabled:
            raise not_found("connection")
        dedicated = dedicated_connections(principal.organization_id).where(
            OrganizationConnection.connection_id == connection.id
        )
        if session.scalar(dedicated) is None:
            raise ApiError(
                409,
                "connection_shared",
                "Other organizations use this connection too: only an unbound client may "
                "change it.",
            )
    return connection


def check_may_change_everywhere(user: User) -> None:
    """A bound client may block or delete a user only when the user belongs to no other
    organization (a shared user's other organizations are not its business): 409."""
    principal = current_principal()
    if principal.organization_id is None:
        return
    elsewhere = session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(
            Membership.user_id == user.id, Membership.organization_id != principal.organization_id
        )
    )
    if elsewhere:
        raise ApiError(
            409,
            "user_shared",
            "The user belongs to other organizations too: remove the membership instead.",
        )
