"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414, RFC 9207) and the JWKS."""

from __future__ import annotations

from app.testing import host_client


def test_metadata_names_this_host_as_issuer_and_every_endpoint(client, tenant):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    meta = response.get_json()
    assert meta["issuer"] == "https://login.test"
    for name, path in {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/oauth/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/.well-known/jwks.json",
        "revocation_endpoint": "/oauth/revoke",
        "introspection_endpoint": "/oauth/introspect",
        "end_session_endpoint": "/oidc/logout",
    }.items():
        assert meta[name] == "https://login.test" + path


def test_metadata_advertises_what_the_provider_supports(client, tenant):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert "openid" in meta["scopes_supported"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"sub", "email", "org_id", "org_name"} <= set(meta["claims_supported"])
    assert "en" in meta["ui_locales_supported"]
    assert meta["subject_types_supported"] == ["public"]


def test_metadata_passes_authlib_validation(client, tenant):
    from authlib.oidc.discovery import OpenIDProviderMetadata

    OpenIDProviderMetadata(client.get("/.well-known/openid-configuration").get_json()).validate()


def test_metadata_and_jwks_allow_cors_and_caching(client, tenant):
    for path in ("/.well-known/openid-configuration", "/.well-known/jwks.json"):
        response = client.get(path, headers={"Origin": "https://spa.test"})
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Cache-Control"].startswith("public, max-age=")


def test_authorization_endpoint_sends_no_cors_headers(client, tenant):
    response = client.get("/authorize", headers={"Origin": "https://spa.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_token_endpoint_answers_cors_preflight(client, tenant):
    response = client.options("/oauth/token", headers={"Origin": "https://spa.test"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_each_domain_of_a_tenant_is_its_own_issuer(foyer_app, tenant):
    from app.db import session
    from app.tenancy.models import TenantDomain

    tenant.domains.append(TenantDomain(hostname="sso.acme.test", scheme="https"))
    session.commit()
    meta = host_client(foyer_app, "sso.acme.test").get("/.well-known/openid-configuration")
    assert meta.get_json()["issuer"] == "https://sso.acme.test"
    assert meta.get_json()["token_endpoint"] == "https://sso.acme.test/oauth/token"


def test_unknown_host_gets_404_not_metadata(foyer_app, tenant):
    browser = host_client(foyer_app, "evil.test")
    assert browser.get("/.well-known/openid-configuration").status_code == 404
    assert browser.get("/.well-known/jwks.json").status_code == 404


def test_jwks_publishes_public_keys_only(client, tenant):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    assert keys, "a tenant publishes keys before it signs anything"
    kids = [key["kid"] for key in keys]
    assert len(kids) == len(set(kids))
    for key in keys:
        assert key["use"] == "sig"
        assert key["alg"] in ("RS256", "ES256")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
