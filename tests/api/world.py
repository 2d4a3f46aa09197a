"""A tenant with two organizations, their members, sessions, tokens, invitations and SCIM
tokens, and a second tenant: what the authorization tests and the walk-through act on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from app.api.models import ImportJob
from app.api.policy import SCOPES
from app.clients.services import API_ORGANIZATION as ORGANIZATION_BINDING
from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.db import utcnow
from app.oidc.models import TokenGrant
from app.orgs import invitations
from app.orgs.services import add_member
from app.orgs.services import set_connections
from app.scim.tokens import create_scim_token
from app.sessions.services import new_sso_session
from app.tenancy.services import create_tenant
from app.testing import host_client
from app.testing import token_request

ALL_SCOPES = " ".join(SCOPES)


def api_token(
    browser: t.Any, tenant: t.Any, scope: str = ALL_SCOPES, organization: t.Any = None
) -> str:
    """A client-credentials token of a new API client of ``tenant`` (``browser`` is on the
    tenant's host)."""
    host = browser.host_url
    settings = {ORGANIZATION_BINDING: organization.id} if organization is not None else {}
    model, secret = create_client(
        tenant,
        "Back office",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope=scope,
        audience=f"{host}/api/v1/",
        settings=settings,
    )
    session.commit()
    response = token_request(browser, model, secret, grant_type="client_credentials")
    assert response.status_code == 200, response.get_json()
    return t.cast(str, response.get_json()["access_token"])


@dataclasses.dataclass
class Side:
    """One organization's things."""

    org: t.Any
    user: t.Any
    session: t.Any
    grant: t.Any
    invitation: t.Any
    scim_token: t.Any
    connection: t.Any
    """A connection only this organization enables."""


def grant_for(user: t.Any, client_id: str = "rp") -> TokenGrant:
    now = utcnow()
    grant = TokenGrant(
        tenant_id=user.tenant_id,
        client_id=client_id,
        user_id=user.id,
        scope="openid offline_access",
        auth_time=now,
        amr=["pwd"],
        issuer="https://login.test",
        expires_at=now + dt.timedelta(days=1),
    )
    session.add(grant)
    return grant


def side(tenant: t.Any, org: t.Any, make_user: t.Callable[..., t.Any], email: str) -> Side:
    own = create_connection(tenant, f"{org.name}-db", "database")
    set_connections(org, [*org.connections, own])
    user = make_user(email=email)
    add_member(org, user, ["admin"])
    sso = new_sso_session(user, ["pwd"], org)
    grant = grant_for(user)
    session.commit()
    invitation = invitations.invite(org, f"invitee@{org.name}.test", send=False).invitation
    scim_token, _value = create_scim_token(org, "idp")
    return Side(org, user, sso, grant, invitation, scim_token, own)


@dataclasses.dataclass
class World:
    tenant: t.Any
    a: Side
    b: Side
    other_tenant_token: str
    app_client: t.Any
    """An ordinary application of the tenant (the clients endpoints act on it)."""
    import_job: t.Any


def build_world(app: t.Any, tenant: t.Any, make_organization, make_user) -> World:
    a = side(tenant, make_organization("org-a"), make_user, "ua@a.test")
    b = side(tenant, make_organization("org-b"), make_user, "ub@b.test")
    other = create_tenant("globex", "Globex", ["https://other.test"])
    create_connection(other, "users", "database")
    session.commit()
    other_token = api_token(host_client(app, "other.test"), other)
    app_client, _secret = create_client(
        tenant, "Shop", redirect_uris=["https://shop.test/cb"], grant_types=["authorization_code"]
    )
    job = ImportJob(
        tenant_id=tenant.id,
        connection_id=a.connection.id,
        client_id=app_client.client_id,
        status="done",
    )
    session.add(job)
    session.commit()
    return World(tenant, a, b, other_token, app_client, job)
