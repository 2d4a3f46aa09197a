"""Change password: the current password is required, the policy applies, the user is told
by email, and other browsers and refresh tokens are signed out when asked (L-05)."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import session
from app.oidc.models import TokenGrant
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import run_authorization_code_flow
from app.testing import sign_in
from app.testing import submit_form

NEW_PASSWORD = "another long passphrase for alice"


def open_form(client, user):
    sign_in(client, user)
    page = client.get("/account/password")
    assert page.status_code == 200
    return page


def test_signed_out_visitor_is_sent_to_sign_in(client, tenant):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_form_has_the_autocomplete_hints(client, user):
    body = open_form(client, user).get_data(as_text=True)
    assert 'id="current_password"' in body and 'autocomplete="current-password"' in body
    assert 'id="new_password"' in body and 'autocomplete="new-password"' in body
    assert '<label class="field__label" for="new_password">' in body


def test_wrong_current_password_changes_nothing(client, user, mails, recorded_events):
    page = open_form(client, user)
    response = submit_form(
        client,
        page,
        "change-password-form",
        current_password="not my password at all",
        new_password=NEW_PASSWORD,
    )
    assert response.status_code == 400
    assert "This is not your current password." in response.get_data(as_text=True)
    assert (
        login(host_client(client.application), "alice@example.com", USER_PASSWORD).status_code
        == 303
    )
    assert recorded_events("password_change_failed") and not mails()


def test_policy_refuses_a_short_password(client, user):
    page = open_form(client, user)
    response = submit_form(
        client, page, "change-password-form", current_password=USER_PASSWORD, new_password="short"
    )
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)


def test_change_notifies_and_signs_out_other_browsers(client, foyer_app, user, oidc_client, mails):
    other = host_client(foyer_app)
    app_client, secret = oidc_client
    result = run_authorization_code_flow(
        other, app_client, secret, "alice@example.com", USER_PASSWORD, scope="openid offline_access"
    )
    assert "refresh_token" in result.tokens
    page = open_form(client, user)
    done = submit_form(
        client,
        page,
        "change-password-form",
        current_password=USER_PASSWORD,
        new_password=NEW_PASSWORD,
        sign_out_others="y",
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/account?done=password")
    account = client.get(done.headers["Location"])
    assert account.status_code == 200 and 'id="status-message"' in account.get_data(as_text=True)
    assert other.get("/account").status_code == 302  # the other browser is signed out
    session.expire_all()
    assert all(g.revoked_at is not None for g in session.scalars(sa.select(TokenGrant)))
    active = session.scalars(sa.select(SsoSession).where(SsoSession.ended_at.is_(None))).all()
    assert len(active) == 1  # this browser stays signed in
    messages = mails()
    assert [m.purpose for m in messages] == ["password_changed"]
    assert "was just changed" in messages[0].text
    assert login(host_client(foyer_app), "alice@example.com", NEW_PASSWORD).status_code == 303


def test_other_sessions_may_be_kept(client, foyer_app, user, mails):
    other = host_client(foyer_app)
    sign_in(other, user)
    page = open_form(client, user)
    submit_form(
        client,
        page,
        "change-password-form",
        current_password=USER_PASSWORD,
        new_password=NEW_PASSWORD,
        sign_out_others="",
    )
    assert other.get("/account").status_code == 200


def test_a_user_whose_identity_provider_keeps_the_password_is_not_offered_a_change(
    client, make_connection, make_user
):
    upstream = make_connection(
        "acme-sso",
        "oidc",
        options={"issuer": "https://idp.acme.example", "client_id": "foyer"},
        secrets={"client_secret": "an upstream client secret of some length"},
    )
    una = make_user(email="una@acme.example", password=None, connection_=upstream)
    sign_in(client, una)
    account = client.get("/account").get_data(as_text=True)
    assert 'id="mfa-settings"' in account and 'id="change-password"' not in account
    answer = client.get("/account/password")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/account")


def test_a_password_user_is_offered_the_change(client, user):
    sign_in(client, user)
    assert 'id="change-password"' in client.get("/account").get_data(as_text=True)
