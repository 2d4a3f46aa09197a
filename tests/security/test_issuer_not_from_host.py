"""The issuer is the configured domain's scheme, host and port, never the request's
(DESIGN.md security baseline; SECURITY.md L-07's rule applied to the issuer).

A ``Host: login.test:1`` or a plain-http request to an https domain selects the tenant by
its host name, but the discovery document, the authorization response's ``iss`` and the
tokens all carry the configured issuer, and the cached discovery document cannot be
poisoned. Vanity hosts and ``/o/<name>/`` paths keep their own issuers
(docs/organizations.md).
"""

from __future__ import annotations

import pytest

from app.db import session
from app.tenancy.models import TenantDomain
from app.testing import authorize
from app.testing import decode_jwt
from app.testing import exchange_code
from app.testing import host_client
from app.testing import sign_in

DISCOVERY = "/.well-known/openid-configuration"


@pytest.mark.parametrize(
    ("host", "scheme"),
    [
        ("login.test:1", "https"),
        ("login.test:8443", "https"),
        ("LOGIN.TEST", "https"),
        ("login.test", "http"),
        ("login.test:80", "http"),
    ],
)
def test_discovery_names_the_configured_issuer(foyer_app, tenant, host, scheme):
    meta = host_client(foyer_app, host, scheme=scheme).get(DISCOVERY).get_json()
    assert meta["issuer"] == "https://login.test"
    endpoints = [value for key, value in meta.items() if key.endswith("_endpoint")]
    assert endpoints and all(url.startswith("https://login.test/") for url in endpoints)
    assert meta["jwks_uri"] == "https://login.test/.well-known/jwks.json"


def test_a_spoofed_port_does_not_poison_the_cached_document(foyer_app, tenant, client):
    host_client(foyer_app, "login.test:1").get(DISCOVERY)
    host_client(foyer_app, "login.test", scheme="http").get(DISCOVERY)
    assert client.get(DISCOVERY).get_json()["issuer"] == "https://login.test"
    assert set(foyer_app.extensions["foyer.oidc.discovery"]) == {"https://login.test"}


def test_a_configured_port_is_kept_whatever_port_the_request_names(foyer_app, tenant):
    tenant.domains.append(TenantDomain(hostname="localhost", scheme="http", port=5000))
    session.commit()
    for host in ("localhost:5000", "localhost:1", "localhost"):
        meta = host_client(foyer_app, host, scheme="http").get(DISCOVERY).get_json()
        assert meta["issuer"] == "http://localhost:5000", host


def test_authorization_response_and_tokens_carry_the_configured_issuer(
    foyer_app, tenant, user, oidc_client
):
    model, secret = oidc_client
    browser = host_client(foyer_app, "login.test:1")
    sign_in(browser, user)
    result = authorize(browser, model)
    assert result["iss"] == "https://login.test"
    tokens = exchange_code(browser, model, result, secret).get_json()
    assert decode_jwt(browser, tokens["id_token"])["iss"] == "https://login.test"
    assert decode_jwt(browser, tokens["access_token"])["iss"] == "https://login.test"


def test_vanity_hosts_and_paths_keep_their_issuers(foyer_app, tenant, organization):
    tenant.domains.append(
        TenantDomain(hostname="globex.login.test", organization_id=organization.id)
    )
    session.commit()
    vanity = host_client(foyer_app, "globex.login.test:444").get(DISCOVERY).get_json()
    assert vanity["issuer"] == "https://globex.login.test"
    assert vanity["token_endpoint"] == "https://globex.login.test/oauth/token"
    path = host_client(foyer_app, "login.test:1").get("/o/globex" + DISCOVERY).get_json()
    assert path["issuer"] == "https://login.test/o/globex"
    assert path["authorization_endpoint"] == "https://login.test/o/globex/authorize"
    unknown = host_client(foyer_app, "login.test:1").get("/o/nobody" + DISCOVERY)
    assert unknown.status_code == 404


def test_an_unknown_host_gets_no_issuer(foyer_app, tenant):
    response = host_client(foyer_app, "evil.test:443").get(DISCOVERY)
    assert response.status_code == 404
    assert b"evil" not in response.data
