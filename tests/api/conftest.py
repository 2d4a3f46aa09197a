"""Fixtures of the management API tests: API clients of the tenant, tokens for them."""

from __future__ import annotations

import threading
import typing as t

import pytest
from werkzeug.serving import make_server

from app.api.policy import SCOPES
from app.clients.services import API_ORGANIZATION as ORGANIZATION_BINDING
from app.db import session as db_session
from app.tenancy.models import TenantDomain
from app.testing import token_request

AUDIENCE = "https://login.test/api/v1/"
ALL_SCOPES = " ".join(SCOPES)


@pytest.fixture
def api_token(client, make_client):
    """``api_token(scopes, organization=None)``: a management API access token."""

    def make(scope: str = ALL_SCOPES, organization=None, host_client=None) -> str:
        settings = {ORGANIZATION_BINDING: organization.id} if organization is not None else {}
        model, secret = make_client(
            name="Back office",
            grant_types=["client_credentials"],
            redirect_uris=[],
            scope=scope,
            audience=AUDIENCE,
            settings=settings,
        )
        response = token_request(
            host_client or client, model, secret, grant_type="client_credentials"
        )
        assert response.status_code == 200, response.get_json()
        return t.cast(str, response.get_json()["access_token"])

    return make


@pytest.fixture
def auth(api_token):
    """Headers with a token holding every scope, bound to no organization."""
    return {"Authorization": f"Bearer {api_token()}"}


@pytest.fixture
def acme_org(make_organization):
    return make_organization("acme-corp")


def commit():
    db_session.commit()


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "secure_cookies": False}  # plain http on loopback


@pytest.fixture
def live_server(foyer_app, tenant):
    """Serve the test app on 127.0.0.1:<free port>, a domain of the tenant."""
    server = make_server("127.0.0.1", 0, foyer_app, threaded=True)
    tenant.domains.append(TenantDomain(hostname="127.0.0.1", scheme="http", port=server.port))
    db_session.commit()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
