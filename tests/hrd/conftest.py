"""Organizations of every kind, an upstream (redirecting) strategy, and a browser driver
that follows Foyer's own redirects (so flows on ``/o/<name>/`` paths and vanity hosts stay
where the server sends them).

The realm ``world``:

- ``acme``: isolated users in its own ``acme-staff`` connection, email domain
  ``acme.example`` with subdomains, vanity host ``acme.login.test``;
- ``globex``: its own ``globex-staff`` plus the shared ``partners`` pool, email domain
  ``globex.example`` (exactly, no subdomains);
- ``initech``: the shared ``partners`` pool only;
- ``umbrella``: an enterprise IdP (``umbrella-sso``, a redirecting connection) for
  ``umbrella.example`` plus a ``umbrella-contractors`` database;
- ``users``: the tenant's connection of no organization (from the ``tenant`` fixture).
"""

from __future__ import annotations

import dataclasses
import secrets
import typing as t
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from app import hookimpl
from app.connections.strategies import AuthResult
from app.db import session
from app.orgs.services import add_member
from app.orgs.services import set_email_domains
from app.tenancy.models import TenantDomain
from app.testing import CLIENT_REDIRECT_URI
from app.testing import pkce_pair
from app.testing import read_form

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient

    from app.accounts.models import User
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.connections.strategies import UpstreamLogin
    from app.orgs.models import Organization

PASSWORDS = {
    "alice": "alice's acme password",
    "sam-acme": "sam's password at acme",
    "sam-globex": "sam's password at globex",
    "gina": "gina's globex password",
    "carla": "carla's partner password",
    "dora": "dora's partner password",
    "otto": "otto's contractor password",
}


class UpstreamStrategy:
    """A redirecting strategy for tests: its IdP lives at https://idp.test."""

    name = "test-upstream"
    kind = "redirect"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def start_login(self, login: UpstreamLogin) -> str:
        hint = quote(login.login_hint or "")
        org = login.organization.name if login.organization else ""
        return (
            f"https://idp.test/{self.connection.name}/authorize"
            f"?state={login.transaction_id}&login_hint={hint}&org={org}"
        )

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        return AuthResult(None)

    def find_user(self, identifier: str) -> None:
        return None

    def set_password(self, user: User, password: str) -> None:
        raise NotImplementedError("an upstream IdP keeps its own passwords")


class UpstreamPlugin:
    @hookimpl
    def register_connection_strategies(self) -> list[type]:
        return [UpstreamStrategy]


@pytest.fixture
def foyer_plugins() -> list[object]:
    return [UpstreamPlugin()]


@dataclasses.dataclass
class World:
    acme: Organization
    globex: Organization
    initech: Organization
    umbrella: Organization
    acme_staff: Connection
    globex_staff: Connection
    partners: Connection
    umbrella_sso: Connection
    contractors: Connection
    users: dict[str, User]


@pytest.fixture
def world(tenant, connection, make_connection, make_organization, make_user) -> World:
    acme_staff = make_connection("acme-staff", display_name="Acme staff")
    globex_staff = make_connection("globex-staff", display_name="Globex staff")
    partners = make_connection("partners", display_name="Partner accounts")
    umbrella_sso = make_connection("umbrella-sso", "test-upstream")
    umbrella_sso.display_name = "Umbrella SSO"
    contractors = make_connection("umbrella-contractors")
    acme = make_organization("acme", "Acme Corporation", connections=[acme_staff])
    globex = make_organization("globex", "Globex Corporation", connections=[globex_staff, partners])
    initech = make_organization("initech", "Initech", connections=[partners])
    umbrella = make_organization("umbrella", "Umbrella", connections=[umbrella_sso, contractors])
    set_email_domains(acme, [("acme.example", True, acme_staff.id)])
    set_email_domains(globex, [("globex.example", False, globex_staff.id)])
    set_email_domains(umbrella, [("umbrella.example", False, umbrella_sso.id)])
    tenant.domains.append(TenantDomain(hostname="acme.login.test", organization_id=acme.id))
    session.commit()
    users = {
        "alice": make_user("alice@acme.example", PASSWORDS["alice"], acme_staff),
        "sam-acme": make_user("sam@shared.example", PASSWORDS["sam-acme"], acme_staff),
        "sam-globex": make_user("sam@shared.example", PASSWORDS["sam-globex"], globex_staff),
        "gina": make_user("gina@globex.example", PASSWORDS["gina"], globex_staff),
        "carla": make_user("carla@consultants.example", PASSWORDS["carla"], partners),
        "dora": make_user("dora@consultants.example", PASSWORDS["dora"], partners),
        "otto": make_user("otto@freelance.example", PASSWORDS["otto"], contractors),
    }
    add_member(initech, users["carla"])
    add_member(initech, users["dora"])
    add_member(globex, users["dora"])
    session.commit()
    return World(
        acme,
        globex,
        initech,
        umbrella,
        acme_staff,
        globex_staff,
        partners,
        umbrella_sso,
        contractors,
        users,
    )


# --- Driving the flow the way a browser does ---------------------------------------------


@dataclasses.dataclass
class Authorization:
    """One authorization request of an application: what it must check on the way back."""

    client: Client
    prefix: str
    verifier: str
    state: str
    nonce: str
    redirect_uri: str


def text(response: t.Any) -> str:
    return str(response.get_data(as_text=True))


def location(response: t.Any) -> str:
    return str(response.headers.get("Location", ""))


def follow(browser: FlaskClient, response: t.Any) -> t.Any:
    """Follow Foyer's redirects (relative ones) until a page, or a redirect elsewhere."""
    for _ in range(10):
        target = location(response)
        if response.status_code not in (302, 303) or not target.startswith("/"):
            return response
        response = browser.get(target)
    raise AssertionError("too many redirects")


def authorize(
    browser: FlaskClient, client: Client, prefix: str = "", **params: t.Any
) -> tuple[t.Any, Authorization]:
    """GET ``{prefix}/authorize`` with PKCE, state and nonce; the response, followed."""
    verifier, challenge = pkce_pair()
    request = Authorization(
        client,
        prefix,
        verifier,
        secrets.token_urlsafe(12),
        secrets.token_urlsafe(12),
        params.pop("redirect_uri", CLIENT_REDIRECT_URI),
    )
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": request.redirect_uri,
        "scope": "openid profile email",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return follow(browser, browser.get(f"{prefix}/authorize", query_string=query)), request


def submit(browser: FlaskClient, page: t.Any, form_id: str, **values: str) -> t.Any:
    form = read_form(text(page), form_id)
    return follow(browser, browser.post(form.action, data={**form.fields, **values}))


def type_identifier(browser: FlaskClient, page: t.Any, identifier: str) -> t.Any:
    assert page.status_code == 200, text(page)[:400]
    return submit(browser, page, "login-identifier-form", identifier=identifier)


def type_password(browser: FlaskClient, page: t.Any, password: str) -> t.Any:
    assert page.status_code == 200, text(page)[:400]
    return submit(browser, page, "login-password-form", password=password)


def callback(response: t.Any, request: Authorization) -> dict[str, str]:
    """The parameters the application receives (asserting the browser went back to it)."""
    target = location(response)
    assert response.status_code in (302, 303) and target.startswith(request.redirect_uri), (
        response.status_code,
        target,
        text(response)[:600],
    )
    answer = dict(parse_qsl(urlsplit(target).query))
    assert answer.get("state") == request.state
    return answer


@dataclasses.dataclass
class Tokens:
    raw: dict[str, t.Any]
    id_token: dict[str, t.Any]
    userinfo: dict[str, t.Any]


def exchange(
    browser: FlaskClient, secret: str, request: Authorization, answer: dict[str, str]
) -> Tokens:
    """Redeem the code at ``{prefix}/oauth/token`` and verify the ID token like an
    application configured with the issuer of ``prefix`` would."""
    import base64

    client = request.client
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    token = browser.post(
        f"{request.prefix}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.get_json()
    raw = token.get_json()
    metadata = browser.get(f"{request.prefix}/.well-known/openid-configuration").get_json()
    assert answer["iss"] == metadata["issuer"]
    keyset = KeySet.import_key_set(browser.get(urlsplit(metadata["jwks_uri"]).path).get_json())
    claims = dict(jwt.decode(raw["id_token"], keyset, algorithms=["RS256", "ES256"]).claims)
    assert claims["iss"] == metadata["issuer"]
    assert claims["nonce"] == request.nonce
    assert claims["aud"] == client.client_id
    userinfo = browser.get(
        urlsplit(metadata["userinfo_endpoint"]).path,
        headers={"Authorization": f"Bearer {raw['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.get_json()
    return Tokens(raw, claims, userinfo.get_json())


def sign_in(
    browser: FlaskClient,
    client: Client,
    secret: str,
    identifier: str,
    password: str,
    prefix: str = "",
    **params: t.Any,
) -> Tokens:
    """The whole flow: authorize, identifier, password, code, tokens (verified)."""
    page, request = authorize(browser, client, prefix, **params)
    page = type_identifier(browser, page, identifier)
    done = type_password(browser, page, password)
    return exchange(browser, secret, request, callback(done, request))


@pytest.fixture
def app_client(make_client) -> tuple[Client, str]:
    """An application using organizations when asked (``organization_usage: allow``)."""
    client, secret = make_client("Portal")
    assert secret is not None
    return client, secret
