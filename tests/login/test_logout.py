"""Signing out: a GET asks, a POST with a CSRF token signs out and says so."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import session
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import read_form
from app.testing import submit_form


def text(response) -> str:
    return response.get_data(as_text=True)


def sso_of(user) -> SsoSession:
    sso = session.scalar(sa.select(SsoSession).where(SsoSession.user_id == user.id))
    session.refresh(sso)
    return sso


def test_get_asks_for_confirmation_and_signs_nobody_out(client, user):
    login(client, "alice@example.com", USER_PASSWORD)
    page = client.get("/logout")
    assert page.status_code == 200
    body = text(page)
    assert 'id="page-title">Sign out?<' in body
    assert "You are signed in as <strong><bdi>alice@example.com</bdi></strong>" in body
    form = read_form(body, "logout-form")
    assert form.action == "/logout" and form.fields["csrf_token"]
    assert 'id="submit" type="submit">Sign out<' in body
    assert 'id="stay-signed-in" href="/login/done"' in body
    assert sso_of(user).ended_at is None


def test_post_signs_out_and_shows_signed_out_page(client, user, recorded_events):
    login(client, "alice@example.com", USER_PASSWORD)
    answer = submit_form(client, client.get("/logout"), "logout-form")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/logout"

    page = client.get("/logout")
    assert 'id="page-title">You are signed out<' in text(page)
    assert 'id="sign-in-again" href="/login"' in text(page)
    sso = sso_of(user)
    assert sso.ended_at is not None
    [event] = recorded_events("logout")
    assert event.user_id == user.id
    assert event.data["session"] == sso.id
    assert sso.sid not in str(event.data)  # the cookie's session id is never logged
    assert client.get("/login/done").headers["Location"] == "/login"


def test_sign_out_button_of_the_signed_in_page_works(client, user):
    login(client, "alice@example.com", USER_PASSWORD)
    page = client.get("/login/done")
    assert 'id="sign-out" type="submit">Sign out<' in text(page)
    assert submit_form(client, page, "logout-form").status_code == 303
    assert sso_of(user).ended_at is not None


def test_post_without_csrf_token_is_refused_with_branded_page(client, user):
    login(client, "alice@example.com", USER_PASSWORD)
    answer = client.post("/logout")
    assert answer.status_code == 400
    assert 'id="error-title">Your form expired<' in text(answer)
    assert sso_of(user).ended_at is None


def test_logout_when_not_signed_in_says_signed_out(client, tenant, recorded_events):
    page = client.get("/logout")
    assert page.status_code == 200
    assert "You are signed out" in text(page)
    token = read_form(
        text(client.get("/login", follow_redirects=True)), "login-identifier-form"
    ).fields["csrf_token"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not recorded_events("logout")


def test_replaying_the_old_cookie_after_logout_does_not_sign_in(client, foyer_app, user):
    login(client, "alice@example.com", USER_PASSWORD)
    cookie = client.get_cookie(foyer_app.config["SESSION_COOKIE_NAME"], domain="login.test")
    submit_form(client, client.get("/logout"), "logout-form")
    client.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert client.get("/login/done").headers["Location"] == "/login"
