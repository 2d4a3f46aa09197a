"""Consent for third-party applications: asked before the code, remembered per user, client
and scopes; denying sends access_denied back to the registered redirect_uri."""

from __future__ import annotations

from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest

from app.testing import USER_PASSWORD
from app.testing import authorize
from app.testing import exchange_code
from app.testing import sign_in
from app.testing import submit_form


@pytest.fixture
def third_party(make_client):
    client, secret = make_client("Partner app", settings={"require_consent": True})
    return client, secret


def start(browser, client, **params):
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": "openid email",
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        **params,
    }
    return browser.get("/authorize", query_string=query)


def test_first_party_clients_get_a_code_without_asking(client, user, oidc_client):
    sign_in(client, user)
    assert "code" in authorize(client, oidc_client[0])


def test_third_party_client_waits_for_consent_then_gets_the_code(
    client, user, third_party, recorded_events
):
    app_client, secret = third_party
    sign_in(client, user)
    response = start(client, app_client)
    assert response.status_code == 303 and "/consent?tx=" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert "Partner app" in body and 'data-scope="email"' in body and 'id="allow"' in body
    final = submit_form(client, page, "consent-form", decision="allow")
    assert final.status_code == 303  # Allow answers with the code at once
    answer = dict(parse_qsl(urlsplit(final.headers["Location"]).query))
    assert final.headers["Location"].startswith(app_client.redirect_uris[0])
    assert "code" in answer and answer["state"] == "st4te"
    assert recorded_events("consent_granted")
    # remembered: the same scopes go straight through
    assert "code" in authorize(client, app_client, scope="openid email")
    # a new scope asks again
    assert (
        start(client, app_client, scope="openid email profile")
        .headers["Location"]
        .startswith("/consent")
        or "/consent?tx="
        in start(client, app_client, scope="openid email profile").headers["Location"]
    )


def test_deny_sends_access_denied_to_the_client(client, user, third_party, recorded_events):
    app_client, _secret = third_party
    sign_in(client, user)
    page = client.get(start(client, app_client).headers["Location"])
    denied = submit_form(client, page, "consent-form", decision="deny")
    assert denied.status_code == 303
    location = denied.headers["Location"]
    assert location.startswith(app_client.redirect_uris[0])
    answer = dict(parse_qsl(urlsplit(location).query))
    assert answer["error"] == "access_denied" and answer["state"] == "st4te"
    assert answer["iss"] == "https://login.test"
    assert recorded_events("consent_denied")


def test_prompt_none_answers_consent_required(client, user, third_party):
    app_client, _secret = third_party
    sign_in(client, user)
    response = start(client, app_client, prompt="none")
    answer = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert answer["error"] == "consent_required"


def test_consent_after_the_hosted_login(client, user, third_party):
    from app.testing import login
    from app.testing import pkce_pair

    app_client, secret = third_party
    verifier, challenge = pkce_pair()
    response = start(client, app_client, code_challenge=challenge)
    tx = dict(parse_qsl(urlsplit(response.headers["Location"]).query))["tx"]
    signed = login(client, "alice@example.com", USER_PASSWORD, tx=tx)
    assert "/consent?tx=" in signed.headers["Location"]
    page = client.get(signed.headers["Location"])
    final = submit_form(client, page, "consent-form", decision="allow")
    answer = dict(parse_qsl(urlsplit(final.headers["Location"]).query))
    tokens = exchange_code(
        client,
        app_client,
        {"code": answer["code"], "redirect_uri": app_client.redirect_uris[0], "verifier": verifier},
        secret,
    )
    assert tokens.status_code == 200 and "id_token" in tokens.get_json()


def test_consent_page_without_a_transaction_is_an_error(client, user):
    sign_in(client, user)
    assert client.get("/consent").status_code == 400
    assert client.get("/consent?tx=unknown").status_code == 400
