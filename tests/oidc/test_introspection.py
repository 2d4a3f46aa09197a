"""Token introspection (RFC 7662) for resource servers."""

from __future__ import annotations

import base64

import pytest

from app.testing import token_request


def introspect(client, model, secret, token, hint=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    auth = base64.b64encode(f"{model.client_id}:{secret}".encode()).decode()
    return client.post("/oauth/introspect", data=data, headers={"Authorization": f"Basic {auth}"})


@pytest.fixture
def resource_server(make_client):
    """An API registered as a client, whose identifier is ``https://api.test/orders``."""
    return make_client(
        name="Orders API",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope="orders",
        audience="https://api.test/orders",
    )


def test_client_introspects_its_own_access_token(client, oidc_client, issue_tokens, user):
    model, secret = oidc_client
    tokens = issue_tokens()
    response = introspect(client, model, secret, tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["active"] is True
    assert body["sub"] == user.id
    assert body["client_id"] == model.client_id
    assert body["scope"] == "openid profile email offline_access"
    assert body["token_type"] == "Bearer"
    assert body["iss"] == "https://login.test"


def test_revoked_family_is_inactive(client, oidc_client, issue_tokens):
    model, secret = oidc_client
    tokens = issue_tokens()
    auth = base64.b64encode(f"{model.client_id}:{secret}".encode()).decode()
    client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        headers={"Authorization": f"Basic {auth}"},
    )
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(client, model, secret, token).get_json() == {"active": False}


def test_rotated_refresh_token_is_inactive_and_its_successor_active(
    client, oidc_client, issue_tokens
):
    model, secret = oidc_client
    first = issue_tokens()
    second = token_request(
        client, model, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).get_json()
    old = introspect(client, model, secret, first["refresh_token"], "refresh_token")
    assert old.get_json() == {"active": False}
    new = introspect(client, model, secret, second["refresh_token"], "refresh_token").get_json()
    assert new["active"] is True
    assert new["client_id"] == model.client_id


def test_api_introspects_tokens_meant_for_it(client, make_client, signed_in, resource_server):
    from app.testing import authorize
    from app.testing import exchange_code

    app_client, app_secret = make_client(audience="https://api.test/orders")
    tokens = exchange_code(client, app_client, authorize(client, app_client), app_secret).get_json()
    api, api_secret = resource_server
    body = introspect(client, api, api_secret, tokens["access_token"]).get_json()
    assert body["active"] is True
    assert "https://api.test/orders" in body["aud"]


def test_unrelated_client_learns_nothing(client, issue_tokens, make_client):
    tokens = issue_tokens()
    other, other_secret = make_client(name="Other app")
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(client, other, other_secret, token).get_json() == {"active": False}


def test_machine_token_is_active_until_it_expires(client, machine_client):
    model, secret = machine_client
    token = token_request(client, model, secret, grant_type="client_credentials").get_json()
    body = introspect(client, model, secret, token["access_token"]).get_json()
    assert body["active"] is True
    assert body["sub"] == model.client_id


def test_unknown_token_is_inactive(client, oidc_client):
    model, secret = oidc_client
    assert introspect(client, model, secret, "nope").get_json() == {"active": False}


def test_introspection_requires_a_confidential_client(client, oidc_client, public_client):
    model, _secret = oidc_client
    assert introspect(client, model, "wrong" * 10, "nope").status_code == 401
    response = client.post(
        "/oauth/introspect", data={"token": "nope", "client_id": public_client.client_id}
    )
    assert response.status_code == 401
