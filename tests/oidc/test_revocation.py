"""Token revocation (RFC 7009)."""

from __future__ import annotations

import base64

from app.testing import token_request


def revoke(client, model, secret, token, hint=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    if model.token_endpoint_auth_method == "none":
        return client.post("/oauth/revoke", data={**data, "client_id": model.client_id})
    auth = base64.b64encode(f"{model.client_id}:{secret}".encode()).decode()
    return client.post("/oauth/revoke", data=data, headers={"Authorization": f"Basic {auth}"})


def userinfo_status(client, token):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def test_revoking_a_refresh_token_revokes_its_family(
    client, oidc_client, issue_tokens, recorded_events
):
    model, secret = oidc_client
    tokens = issue_tokens()
    response = revoke(client, model, secret, tokens["refresh_token"], "refresh_token")
    assert response.status_code == 200
    refreshed = token_request(
        client, model, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert userinfo_status(client, tokens["access_token"]) == 401
    events = recorded_events("token_revoked")
    assert [e.data["token_type"] for e in events] == ["refresh_token"]


def test_revoking_an_access_token_revokes_its_family(client, oidc_client, issue_tokens):
    model, secret = oidc_client
    tokens = issue_tokens()
    assert revoke(client, model, secret, tokens["access_token"]).status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401
    refreshed = token_request(
        client, model, secret, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_unknown_token_answers_200(client, oidc_client):
    model, secret = oidc_client
    assert revoke(client, model, secret, "never-issued").status_code == 200
    assert revoke(client, model, secret, "never-issued", "weird_hint").status_code == 200


def test_client_cannot_revoke_another_clients_token(client, oidc_client, make_client, issue_tokens):
    tokens = issue_tokens()
    other, other_secret = make_client(name="Other app")
    response = revoke(client, other, other_secret, tokens["refresh_token"])
    assert response.status_code == 400
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_revocation_requires_client_authentication(client, oidc_client, issue_tokens):
    model, _secret = oidc_client
    tokens = issue_tokens()
    response = revoke(client, model, "wrong-secret" * 4, tokens["refresh_token"])
    assert response.status_code == 401
    assert userinfo_status(client, tokens["access_token"]) == 200
    anonymous = client.post("/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert anonymous.status_code in (400, 401)


def test_public_client_revokes_its_own_token(client, public_client, signed_in):
    from app.testing import authorize
    from app.testing import exchange_code

    result = authorize(client, public_client, scope="openid offline_access")
    tokens = exchange_code(client, public_client, result).get_json()
    assert revoke(client, public_client, None, tokens["refresh_token"]).status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401


def test_machine_token_revocation_is_a_harmless_no_op(client, machine_client):
    model, secret = machine_client
    token = token_request(client, model, secret, grant_type="client_credentials").get_json()
    assert revoke(client, model, secret, token["access_token"]).status_code == 200
