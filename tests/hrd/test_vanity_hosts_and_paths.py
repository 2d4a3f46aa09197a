"""Vanity hosts (``acme.login.test``) and paths (``/o/acme/...``) preselect the organization.

Each is an issuer of its own (``https://acme.login.test``, ``https://login.test/o/acme``),
with discovery, keys and endpoints under it: an application configured with either form
validates its tokens with the tenant's keys, and the flow stays on the form it started on.
"""

from __future__ import annotations

import pytest

from app.db import session
from app.tenancy.models import TenantDomain
from app.testing import host_client
from app.testing import read_form
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import follow
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier


@pytest.fixture
def acme_browser(foyer_app, world):
    return host_client(foyer_app, "acme.login.test")


def test_vanity_host_signs_in_to_its_organization_with_its_own_issuer(
    acme_browser, world, app_client, recorded_events
):
    app, secret = app_client
    tokens = sign_in(acme_browser, app, secret, "alice@acme.example", PASSWORDS["alice"])
    assert tokens.id_token["iss"] == "https://acme.login.test"
    assert tokens.id_token["org_name"] == "acme"
    assert tokens.userinfo["sub"] == world.users["alice"].id
    [event] = recorded_events("login_succeeded")
    assert event.data["hrd"][0]["method"] == "vanity_host"
    assert event.data["hrd"][0]["detail"] == "host acme.login.test"


def test_vanity_host_login_page_without_application_is_the_organizations(acme_browser, world):
    page = follow(acme_browser, acme_browser.get("/login"))
    assert page.status_code == 200
    assert "Acme Corporation" in text(page)
    assert 'id="choose-organization"' not in text(page)


def test_path_form_signs_in_with_the_path_issuer(client, world, app_client, recorded_events):
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "gina@globex.example", PASSWORDS["gina"], prefix="/o/globex"
    )
    assert tokens.id_token["iss"] == "https://login.test/o/globex"
    assert tokens.id_token["org_name"] == "globex"
    assert tokens.userinfo["sub"] == world.users["gina"].id
    [event] = recorded_events("login_succeeded")
    assert event.data["hrd"][0] == {
        "method": "vanity_path",
        "detail": "path /o/globex/",
        "organization": world.globex.id,
        "connection": "",
    }


def test_path_discovery_document_lives_under_the_path(client, world):
    metadata = client.get("/o/acme/.well-known/openid-configuration").get_json()
    assert metadata["issuer"] == "https://login.test/o/acme"
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert metadata[name].startswith("https://login.test/o/acme/"), name
    assert (
        client.get("/o/acme/.well-known/jwks.json").get_json()
        == client.get("/.well-known/jwks.json").get_json()
    )
    root = client.get("/.well-known/openid-configuration").get_json()
    assert root["issuer"] == "https://login.test"
    assert root["authorization_endpoint"] == "https://login.test/authorize"


def test_pages_of_a_path_flow_keep_the_path(client, world, app_client):
    page, _request = authorize(client, app_client[0], prefix="/o/acme")
    assert page.request.path == "/o/acme/login"
    form = read_form(text(page), "login-identifier-form")
    assert form.action.startswith("/o/acme/login?tx=")
    password_page = type_identifier(client, page, "alice@acme.example")
    assert password_page.request.path == "/o/acme/login/password"


def test_tenant_issuer_with_organization_parameter_keeps_the_tenant_issuer(
    client, world, app_client
):
    app, secret = app_client
    tokens = sign_in(
        client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme"
    )
    assert tokens.id_token["iss"] == "https://login.test"
    assert tokens.id_token["org_name"] == "acme"


def test_unknown_organization_path_is_a_branded_404(client, world):
    for path in ("/o/nope/login", "/o/nope/authorize", "/o/nope/.well-known/openid-configuration"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Unknown organization" in text(response)


def test_organization_id_is_not_a_path(client, world):
    assert client.get(f"/o/{world.acme.id}/login").status_code == 404


def test_path_contradicting_the_vanity_host_is_a_404(acme_browser, world):
    assert acme_browser.get("/o/globex/login").status_code == 404
    assert acme_browser.get("/o/acme/login").status_code == 302


def test_path_and_parameter_must_agree(client, world, app_client):
    from tests.hrd.conftest import callback

    response, request = authorize(client, app_client[0], prefix="/o/acme", organization="globex")
    answer = callback(response, request)
    assert answer["error"] == "invalid_request"
    assert answer["iss"] == "https://login.test/o/acme"


@pytest.mark.parametrize(
    ("host", "served"), [("acme.localhost:5555", True), ("acme.login.test", False)]
)
def test_plain_http_is_only_for_loopback_names(foyer_app, world, tenant, app_client, host, served):
    """``*.localhost`` is loopback (RFC 6761), as authlib treats ``localhost``: development
    vanity hosts work over http; any other host must use https."""
    hostname = host.split(":")[0]
    if hostname != "acme.login.test":
        tenant.domains.append(
            TenantDomain(hostname=hostname, organization_id=world.acme.id, scheme="http", port=5555)
        )
        session.commit()
    browser = host_client(foyer_app, host, scheme="http")
    page, _request = authorize(browser, app_client[0])
    if served:
        assert page.request.path == "/login"
        assert "Acme Corporation" in text(page)
    else:
        assert page.status_code == 400  # insecure transport, never a redirect


def test_the_unknown_organization_page_links_to_assets_that_exist(client, world):
    import re

    page = text(client.get("/o/nope/login"))
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert stylesheets and all(not href.startswith("/o/") for href in stylesheets)
    for href in stylesheets:
        assert client.get(href).status_code == 200
