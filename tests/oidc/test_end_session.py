"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): redirect back only with a
valid id_token_hint and an exactly registered post_logout_redirect_uri."""

from __future__ import annotations

import time
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.db import session
from app.oidc import keys
from app.sessions.models import SsoSession

SIGNED_OUT = "https://app.test/signed-out"


def logout(client, **params):
    return client.get("/oidc/logout", query_string=params)


def sso_ended(sso):
    return session.scalar(sa.select(SsoSession.ended_at).where(SsoSession.id == sso.id)) is not None


def assert_confirmation_page(response):
    assert response.status_code in (302, 303)
    assert urlsplit(response.headers["Location"]).path == "/logout"


def test_valid_hint_and_registered_uri_end_the_session_and_return_with_state(
    client, oidc_client, issue_tokens, signed_in, recorded_events
):
    model, _secret = oidc_client
    hint = issue_tokens()["id_token"]
    response = logout(client, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT, state="xyz")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SIGNED_OUT
    assert parse_qs(location.query) == {"state": ["xyz"]}
    assert sso_ended(signed_in)
    events = recorded_events("logout")
    assert [(e.user_id, e.client_id) for e in events] == [(signed_in.user_id, model.client_id)]


def test_after_logout_prompt_none_answers_login_required(client, oidc_client, issue_tokens):
    from app.testing import authorize

    model, _secret = oidc_client
    hint = issue_tokens()["id_token"]
    logout(client, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT)
    assert authorize(client, model, prompt="none")["error"] == "login_required"


def test_logout_by_post_redirects_with_303(client, issue_tokens, signed_in):
    hint = issue_tokens()["id_token"]
    response = client.post(
        "/oidc/logout", data={"id_token_hint": hint, "post_logout_redirect_uri": SIGNED_OUT}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == SIGNED_OUT


def test_expired_hint_is_accepted(client, issue_tokens, signed_in, tenant):
    from joserfc import jwt

    claims = jwt.decode(issue_tokens()["id_token"], keys.keyring(tenant.id).public_keyset).claims
    claims["exp"] = int(time.time()) - 3600
    key = keys.signer(tenant.id).key
    expired = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    response = logout(client, id_token_hint=expired, post_logout_redirect_uri=SIGNED_OUT)
    assert response.headers["Location"] == SIGNED_OUT
    assert sso_ended(signed_in)


def test_missing_hint_never_redirects_and_asks_for_confirmation(client, signed_in, issue_tokens):
    issue_tokens()
    response = logout(client, post_logout_redirect_uri=SIGNED_OUT, state="xyz")
    assert_confirmation_page(response)
    assert not sso_ended(signed_in)


def test_no_parameters_asks_for_confirmation(client, signed_in):
    assert_confirmation_page(logout(client))
    assert not sso_ended(signed_in)


def test_valid_hint_without_redirect_uri_asks_for_confirmation(client, issue_tokens, signed_in):
    assert_confirmation_page(logout(client, id_token_hint=issue_tokens()["id_token"]))


def test_unregistered_or_modified_redirect_uri_is_never_used(client, issue_tokens, signed_in):
    hint = issue_tokens()["id_token"]
    for uri in (
        "https://evil.test/signed-out",
        SIGNED_OUT + "?foo=bar",
        SIGNED_OUT + "/",
        "https://app.test/callback",  # a redirect_uri, not a post-logout one
    ):
        response = logout(client, id_token_hint=hint, post_logout_redirect_uri=uri)
        assert_confirmation_page(response)
        assert "evil" not in response.headers["Location"]
    assert not sso_ended(signed_in)


def test_hint_with_alg_none_is_refused(client, issue_tokens, signed_in):
    import base64
    import json

    header, payload, _sig = issue_tokens()["id_token"].split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    forged = f"{none}.{payload}."
    assert_confirmation_page(
        logout(client, id_token_hint=forged, post_logout_redirect_uri=SIGNED_OUT)
    )
    assert not sso_ended(signed_in)


def test_hint_signed_by_a_foreign_key_is_refused(client, issue_tokens, signed_in, tenant):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    claims = jwt.decode(issue_tokens()["id_token"], keys.keyring(tenant.id).public_keyset).claims
    foreign = RSAKey.generate_key(2048, auto_kid=True)
    forged = jwt.encode({"alg": "RS256", "kid": foreign.kid}, claims, foreign)
    assert_confirmation_page(
        logout(client, id_token_hint=forged, post_logout_redirect_uri=SIGNED_OUT)
    )
    assert not sso_ended(signed_in)


def test_client_id_that_does_not_match_the_hint_is_refused(
    client, issue_tokens, signed_in, make_client
):
    other, _secret = make_client(name="Other", post_logout_redirect_uris=[SIGNED_OUT])
    hint = issue_tokens()["id_token"]
    response = logout(
        client, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT, client_id=other.client_id
    )
    assert_confirmation_page(response)
    assert not sso_ended(signed_in)


def test_hint_of_another_user_does_not_sign_this_browser_out(
    client, oidc_client, issue_tokens, make_user
):
    from app.testing import sign_in

    hint = issue_tokens()["id_token"]  # alice's
    mallory = sign_in(client, make_user(email="mallory@example.com"))
    response = logout(client, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT)
    assert_confirmation_page(response)
    assert not sso_ended(mallory)
