"""Federation against a real upstream OpenID provider (npm's ``oidc-provider``).

The realm:

- ``acme``: signs in at its own IdP only (``acme-sso``, ``strategy: oidc``), email domain
  ``acme.example``, vanity host ``acme.login.test``, support address ``help@acme.example``;
- ``globex``: its ``globex-staff`` database next to the ``globex-sso`` IdP (two choices);
- ``users``: the tenant's database connection (from the ``tenant`` fixture).
"""

from __future__ import annotations

import dataclasses
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.db import session
from app.orgs.services import set_email_domains
from app.strategies import oidc_metadata
from app.tenancy.models import TenantDomain
from app.testing import read_form
from tests.federation.upstream_idp import CLIENT_SECRET
from tests.federation.upstream_idp import UpstreamIdp
from tests.federation.upstream_idp import at_foyer
from tests.federation.upstream_idp import upstream_idp  # noqa: F401 - the fixture
from tests.hrd.conftest import Authorization
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import follow
from tests.hrd.conftest import location
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient

    from app.connections.models import Connection
    from app.orgs.models import Organization

__all__ = ["Authorization", "authorize", "callback", "exchange", "follow", "location", "text"]


@pytest.fixture(autouse=True)
def fresh_caches() -> t.Iterator[None]:
    oidc_metadata.clear()
    yield
    oidc_metadata.clear()


@pytest.fixture
def idp(upstream_idp: UpstreamIdp) -> t.Iterator[UpstreamIdp]:  # noqa: F811
    """The IdP, with nobody known yet."""
    upstream_idp.accounts.clear()
    upstream_idp.save_accounts()
    yield upstream_idp


@dataclasses.dataclass
class Realm:
    acme: Organization
    globex: Organization
    acme_sso: Connection
    globex_sso: Connection
    globex_staff: Connection


@pytest.fixture
def realm(tenant, idp, make_connection, make_organization) -> Realm:
    acme_sso = make_connection(
        "acme-sso",
        "oidc",
        options=idp.options(scope="openid profile email groups department"),
        secrets={"client_secret": CLIENT_SECRET},
        display_name="Acme SSO",
    )
    globex_sso = make_connection(
        "globex-sso",
        "oidc",
        options=idp.options("foyer-post", auth_method="client_secret_post"),
        secrets={"client_secret": CLIENT_SECRET},
        display_name="Globex SSO",
    )
    globex_staff = make_connection("globex-staff", display_name="Globex staff")
    acme = make_organization(
        "acme",
        "Acme Corporation",
        connections=[acme_sso],
        branding={"support_email": "help@acme.example"},
    )
    globex = make_organization("globex", "Globex", connections=[globex_staff, globex_sso])
    set_email_domains(acme, [("acme.example", False, acme_sso.id)])
    tenant.domains.append(TenantDomain(hostname="acme.login.test", organization_id=acme.id))
    session.commit()
    return Realm(acme, globex, acme_sso, globex_sso, globex_staff)


@pytest.fixture
def app_client(make_client):
    client, secret = make_client("Portal")
    return client, secret


def upstream_url(response: t.Any) -> str:
    """The IdP URL Foyer sent the browser to (asserting it did)."""
    target = location(response)
    assert response.status_code == 303 and target.startswith("http://127.0.0.1"), (
        response.status_code,
        target,
        text(response)[:800],
    )
    return target


def upstream_params(response: t.Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(upstream_url(response)).query).items()}


def come_back(browser: FlaskClient, idp: UpstreamIdp, response: t.Any, sub: str | None) -> t.Any:
    """At the IdP as ``sub`` (None: cancel), then Foyer's callback, followed."""
    back = idp.sign_in(upstream_url(response), sub, getattr(browser, "idp_session", None))
    return follow(browser, browser.get(at_foyer(back)))


def start_by_email(browser: FlaskClient, client: t.Any, email: str, **params: t.Any):
    page, request = authorize(browser, client, **params)
    return type_identifier(browser, page, email), request


def submit(browser: FlaskClient, page: t.Any, form_id: str, **values: str) -> t.Any:
    form = read_form(text(page), form_id)
    return follow(browser, browser.post(form.action, data={**form.fields, **values}))


def press(browser: FlaskClient, page: t.Any, connection: str) -> t.Any:
    """The organization's button for an upstream connection."""
    assert f'id="connection-{connection}"' in text(page), text(page)[:1500]
    return submit(browser, page, "login-connection-form", connection=connection)


def follow_connection(browser: FlaskClient, app: t.Any, name: str) -> t.Any:
    """An application's sign-in naming the connection (``connection=``), followed."""
    return follow(
        browser,
        browser.get(
            "/authorize",
            query_string={
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": app.redirect_uris[0],
                "scope": "openid",
                "connection": name,
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            },
        ),
    )


def users_of(connection: Connection) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.connection_id == connection.id)))
