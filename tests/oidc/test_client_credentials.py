"""Client credentials (RFC 6749 §4.4): machine tokens limited to the client's scopes and
audiences (RFC 8707 error codes)."""

from __future__ import annotations

import pytest

from app.testing import token_request


def machine_token(client, machine_client, **form):
    model, secret = machine_client
    return token_request(client, model, secret, grant_type="client_credentials", **form)


def test_machine_token_is_an_rfc9068_jwt_for_the_default_audience(client, machine_client, decode):
    response = machine_token(client, machine_client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert body["scope"] == "invoices:read invoices:write"
    token = decode(body["access_token"])
    model, _secret = machine_client
    assert token.header["typ"] == "at+jwt"
    assert token.claims["sub"] == model.client_id
    assert token.claims["client_id"] == model.client_id
    assert token.claims["aud"] == "https://api.test/billing"
    assert token.claims["iss"] == "https://login.test"
    assert "grant_id" not in token.claims
    assert token.claims["exp"] - token.claims["iat"] == body["expires_in"]


def test_audience_parameter_picks_one_of_the_clients_audiences(client, machine_client, decode):
    body = machine_token(client, machine_client, audience="https://api.test/reports").get_json()
    assert decode(body["access_token"]).claims["aud"] == "https://api.test/reports"


def test_audience_the_client_may_not_ask_for_is_refused(client, machine_client):
    response = machine_token(client, machine_client, audience="https://api.test/payroll")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_target"


def test_client_without_audience_gets_tokens_for_the_issuer(client, make_client, decode):
    model, secret = make_client(
        grant_types=["client_credentials"], redirect_uris=[], scope="reports"
    )
    body = token_request(client, model, secret, grant_type="client_credentials").get_json()
    assert decode(body["access_token"]).claims["aud"] == "https://login.test"


def test_scope_is_limited_to_the_clients_scopes(client, machine_client, decode):
    body = machine_token(client, machine_client, scope="invoices:read").get_json()
    assert body["scope"] == "invoices:read"
    assert decode(body["access_token"]).claims["scope"] == "invoices:read"
    refused = machine_token(client, machine_client, scope="invoices:read payroll:write")
    assert refused.get_json()["error"] == "invalid_scope"


def test_identity_scopes_are_not_for_machine_tokens(client, make_client):
    model, secret = make_client(
        grant_types=["client_credentials"], redirect_uris=[], scope="openid profile api"
    )
    body = token_request(client, model, secret, grant_type="client_credentials").get_json()
    assert body["scope"] == "api"
    refused = token_request(client, model, secret, grant_type="client_credentials", scope="openid")
    assert refused.get_json()["error"] == "invalid_scope"


def test_bad_secret_answers_401_with_www_authenticate(client, machine_client):
    model, _secret = machine_client
    response = token_request(client, model, "wrong" * 10, grant_type="client_credentials")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_client_without_the_grant_gets_unauthorized_client(client, oidc_client):
    model, secret = oidc_client
    response = token_request(client, model, secret, grant_type="client_credentials")
    assert response.get_json()["error"] == "unauthorized_client"


def test_public_client_cannot_use_client_credentials(client, public_client):
    response = token_request(client, public_client, grant_type="client_credentials")
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_machine_token_is_refused_at_userinfo(client, machine_client):
    token = machine_token(client, machine_client).get_json()["access_token"]
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_client_of_another_tenant_cannot_get_tokens_here(client, foyer_app, tenant):
    from app.clients.services import create_client
    from app.db import session
    from app.tenancy.services import create_tenant

    other = create_tenant("other", "Other", ["https://other.test"])
    model, secret = create_client(
        other, "Other worker", grant_types=["client_credentials"], scope="api"
    )
    session.commit()
    response = token_request(client, model, secret, grant_type="client_credentials")
    assert response.status_code == 401


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_token": "3 per minute"}


def test_token_endpoint_is_rate_limited_with_a_json_answer(client, machine_client):
    for _ in range(3):
        assert machine_token(client, machine_client).status_code == 200
    response = machine_token(client, machine_client)
    assert response.status_code == 429
    assert response.get_json()["error"] == "slow_down"
    assert response.headers["Retry-After"]


def test_token_limit_counts_per_address_and_per_endpoint(client, machine_client):
    model, secret = machine_client
    for _ in range(3):
        assert machine_token(client, machine_client).status_code == 200
    assert machine_token(client, machine_client).status_code == 429
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # another address has its own budget
    assert machine_token(client, machine_client).status_code == 200
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    revoked = client.post(
        "/oauth/revoke",
        data={"token": "x"},
        headers={"Authorization": _basic(model.client_id, secret)},
    )
    assert revoked.status_code == 200  # revocation keeps a budget of its own


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_undecodable_basic_credentials_answer_invalid_client(client, machine_client):
    import base64

    header = "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()
    for path, data in (
        ("/oauth/token", {"grant_type": "client_credentials"}),
        ("/oauth/revoke", {"token": "x"}),
    ):
        response = client.post(path, data=data, headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_client"
