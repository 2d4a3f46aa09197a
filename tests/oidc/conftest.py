"""Fixtures for the provider's tests: clients of each kind and a signed-in browser."""

from __future__ import annotations

import threading
import typing as t

import pytest
import requests
from werkzeug.serving import make_server

from app.db import session
from app.tenancy.models import TenantDomain
from app.testing import sign_in

if t.TYPE_CHECKING:
    from flask.testing import FlaskClient

    from app.accounts.models import User
    from app.clients.models import Client
    from app.sessions.models import SsoSession


@pytest.fixture
def public_client(make_client: t.Callable[..., tuple[Client, str | None]]) -> Client:
    """A public client (no secret, PKCE required) with the refresh_token grant."""
    client, _secret = make_client(
        name="Single-page app",
        token_endpoint_auth_method="none",
        post_logout_redirect_uris=["https://app.test/signed-out"],
    )
    return client


@pytest.fixture
def machine_client(
    make_client: t.Callable[..., tuple[Client, str | None]],
) -> tuple[Client, str]:
    """A confidential client for client_credentials with its own API audience and scopes."""
    client, secret = make_client(
        name="Billing worker",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="invoices:read invoices:write",
        audience="https://api.test/billing https://api.test/reports",
    )
    assert secret is not None
    return client, secret


@pytest.fixture
def signed_in(client: FlaskClient, user: User) -> SsoSession:
    """The ``client`` browser holds an SSO session of ``user``."""
    return sign_in(client, user)


@pytest.fixture
def decode(client: FlaskClient) -> t.Callable[..., t.Any]:
    """Verify a JWT against the tenant's published JWKS, as a relying party would.

    ``decode(token)`` returns the joserfc token (``.header``, ``.claims``).
    """
    from joserfc import jwt
    from joserfc.jwk import KeySet

    def decode(value: str, algorithms: t.Sequence[str] = ("RS256", "ES256")) -> t.Any:
        keyset = KeySet.import_key_set(client.get("/.well-known/jwks.json").get_json())
        return jwt.decode(value, keyset, algorithms=list(algorithms))

    return decode


@pytest.fixture
def issue_tokens(
    client: FlaskClient, oidc_client: tuple[Client, str], signed_in: SsoSession
) -> t.Callable[..., dict[str, t.Any]]:
    """Run the code flow for the signed-in ``user`` and ``oidc_client``; returns the tokens."""
    from app.testing import authorize
    from app.testing import exchange_code

    def issue(
        scope: str = "openid profile email offline_access", **params: t.Any
    ) -> dict[str, t.Any]:
        model, secret = oidc_client
        result = authorize(client, model, scope=scope, **params)
        response = exchange_code(client, model, result, secret)
        assert response.status_code == 200, response.get_json()
        return t.cast(dict[str, t.Any], response.get_json())

    return issue


@pytest.fixture
def live_server(foyer_app: t.Any, tenant: t.Any) -> t.Iterator[str]:
    """Serve the test app on 127.0.0.1:<free port>, a domain of the tenant."""
    server = make_server("127.0.0.1", 0, foyer_app, threaded=True)
    tenant.domains.append(TenantDomain(hostname="127.0.0.1", scheme="http", port=server.port))
    session.commit()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def browser(foyer_app: t.Any, live_server: str, user: t.Any, client: t.Any) -> requests.Session:
    """A browser holding the session cookie of a signed-in ``user``."""
    sso = sign_in(client, user)
    cookie = foyer_app.session_interface.get_signing_serializer(foyer_app).dumps(
        {"_user_id": sso.sid, "_fresh": True, "_permanent": True}
    )
    browser = requests.Session()
    browser.cookies.set(foyer_app.config["SESSION_COOKIE_NAME"], cookie, domain="127.0.0.1")
    return browser
