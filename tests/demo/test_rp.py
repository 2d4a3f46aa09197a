"""The demo application's pages, without a provider: rendering, PKCE, state, logout."""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from app.demo.rp import create_rp_app
from app.testing import host_client

ISSUER = "http://localhost:5000"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/oauth/token",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "jwks_uri": f"{ISSUER}/.well-known/jwks.json",
    "end_session_endpoint": f"{ISSUER}/logout",
}
SIGNED_IN = {
    "claims": {
        "sub": "u1",
        "name": "Alice <b>Anderson</b>",
        "email": "alice@acme.example",
        "org_name": "acme",
    },
    "userinfo": {"sub": "u1", "email": "alice@acme.example"},
    "id_token": "header.payload.signature",
}


@pytest.fixture
def rp():
    app = create_rp_app(
        ISSUER,
        "demo-app",
        "secret",
        metadata=METADATA,
        organizations=[("acme", "Acme Corporation")],
    )
    app.testing = True
    return host_client(app, "localhost:5001", "http")


def form_token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_home_offers_sign_in_and_organizations(rp):
    response = rp.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="sign-in"' in html and 'id="sign-in-acme"' in html
    assert "Acme Corporation" in html
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_sign_in_redirects_with_pkce_state_and_nonce(rp):
    token = form_token(rp.get("/").get_data(as_text=True))
    response = rp.post("/login", data={"token": token, "organization": "acme"})
    assert response.status_code == 303
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["authorization_endpoint"]
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["client_id"] == "demo-app"
    assert query["redirect_uri"] == "http://localhost:5001/callback"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert query["state"] and query["nonce"]
    assert query["organization"] == "acme"
    assert "openid" in query["scope"].split()


def test_sign_in_ignores_an_organization_it_does_not_offer(rp):
    token = form_token(rp.get("/").get_data(as_text=True))
    response = rp.post("/login", data={"token": token, "organization": "evil"})
    assert "organization" not in parse_qs(urlsplit(response.headers["Location"]).query)


def test_forms_need_the_session_token(rp):
    rp.get("/")
    assert rp.post("/login", data={"token": "forged"}).status_code == 400
    assert rp.post("/logout", data={}).status_code == 400


def test_signed_in_page_shows_claims_userinfo_and_sign_out(rp):
    with rp.session_transaction() as s:
        s["signed_in"] = SIGNED_IN
    html = rp.get("/").get_data(as_text=True)
    assert 'id="sign-out"' in html
    assert "Alice &lt;b&gt;Anderson&lt;/b&gt;" in html  # escaped, never markup
    assert 'id="claims"' in html and 'id="userinfo"' in html
    assert "alice@acme.example" in html
    assert 'id="organization">acme<' in html


def test_sign_out_uses_rp_initiated_logout(rp):
    with rp.session_transaction() as s:
        s["signed_in"] = SIGNED_IN
    token = form_token(rp.get("/").get_data(as_text=True))
    response = rp.post("/logout", data={"token": token})
    assert response.status_code == 303
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == METADATA["end_session_endpoint"]
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["id_token_hint"] == SIGNED_IN["id_token"]
    assert query["post_logout_redirect_uri"] == "http://localhost:5001/signed-out"
    assert query["client_id"] == "demo-app"

    back = rp.get(f"/signed-out?state={query['state']}")
    assert back.headers["Location"].endswith("signed_out=1")
    html = rp.get("/?signed_out=1").get_data(as_text=True)
    assert 'id="signed-out"' in html and 'id="sign-in"' in html


def test_signed_out_needs_the_state_sent_and_only_once(rp):
    with rp.session_transaction() as s:
        s["signed_in"] = SIGNED_IN
    token = form_token(rp.get("/").get_data(as_text=True))
    location = rp.post("/logout", data={"token": token}).headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]

    wrong = rp.get("/signed-out?state=wrong")
    assert wrong.headers["Location"].endswith("error=logout_state_mismatch")
    replay = rp.get(f"/signed-out?state={state}")  # the failed attempt consumed it
    assert replay.headers["Location"].endswith("error=logout_state_mismatch")


def test_an_error_from_the_provider_is_shown(rp):
    response = rp.get("/callback?error=access_denied&state=x")
    assert response.status_code == 303
    html = rp.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="error"' in html and "access_denied" in html


def test_a_callback_without_a_pending_sign_in_fails_cleanly(rp):
    response = rp.get("/callback?code=abc&state=forged")
    assert response.status_code == 303
    assert "error=" in response.headers["Location"]


def test_a_response_from_another_issuer_is_refused(rp):
    """RFC 9207: an ``iss`` that is not Foyer's means a mix-up; no code is redeemed."""
    response = rp.get("/callback?code=abc&state=x&iss=https://evil.test")
    assert response.headers["Location"].endswith("error=issuer_mismatch")
