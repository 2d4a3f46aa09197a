"""The identifier -> password -> signed-in flow of the hosted pages."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app import hookimpl
from app.db import session
from app.login.rules import LoginDecision
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import read_form
from app.testing import submit_form


def text(response) -> str:
    return response.get_data(as_text=True)


def test_sign_in_without_application_ends_on_signed_in_page(client, user, recorded_events):
    start = client.get("/login")
    assert start.status_code == 302
    assert start.headers["Location"].startswith("/login?tx=")

    done = login(client, "alice@example.com", USER_PASSWORD)

    assert done.status_code == 303
    assert done.headers["Location"] == "/login/done"
    page = client.get("/login/done")
    assert page.status_code == 200
    assert "You are signed in as <strong><bdi>alice@example.com</bdi></strong>" in text(page)
    assert read_form(text(page), "logout-form").action == "/logout"
    sso = session.scalar(sa.select(SsoSession).where(SsoSession.user_id == user.id))
    assert sso is not None and sso.ended_at is None
    [event] = recorded_events("login_succeeded")
    assert event.user_id == user.id
    assert event.data["hrd"][0]["method"] == "user_lookup"


def test_each_step_answers_a_post_with_303(client, user):
    page = client.get("/login", follow_redirects=True)
    step = submit_form(client, page, "login-identifier-form", identifier="alice@example.com")
    assert step.status_code == 303
    assert step.headers["Location"].startswith("/login/password?tx=")
    page = client.get(step.headers["Location"])
    assert "alice@example.com" in text(page)
    final = submit_form(client, page, "login-password-form", password=USER_PASSWORD)
    assert final.status_code == 303


def test_username_signs_in_too(client, make_user):
    make_user(email=None, username="bob")
    assert login(client, "bob", USER_PASSWORD).headers["Location"] == "/login/done"


def test_email_is_matched_case_insensitively(client, user):
    assert login(client, "  ALICE@Example.com ", USER_PASSWORD).status_code == 303


def test_login_hint_prefills_the_identifier(client, tenant, make_login_tx):
    tx = make_login_tx(params={"login_hint": "bob@example.com"})
    page = client.get(f"/login?tx={tx}")
    assert read_form(text(page), "login-identifier-form").fields["identifier"] == "bob@example.com"


def test_not_you_link_goes_back_to_the_identifier_page(client, user, make_login_tx):
    tx = make_login_tx()
    page = client.get(f"/login?tx={tx}")
    step = submit_form(client, page, "login-identifier-form", identifier="alice@example.com")
    page = client.get(step.headers["Location"])
    assert f'id="not-you" href="/login?tx={tx}"' in text(page)
    again = client.get(f"/login?tx={tx}")
    assert again.status_code == 200
    assert read_form(text(again), "login-identifier-form").fields["identifier"] == ""


def test_empty_identifier_is_explained_next_to_the_field(client, tenant):
    page = client.get("/login", follow_redirects=True)
    answer = submit_form(client, page, "login-identifier-form", identifier="   ")
    assert answer.status_code == 400
    body = text(answer)
    assert 'aria-invalid="true"' in body
    assert 'aria-describedby="identifier-error"' in body
    assert "Enter your email address or username." in body


def test_unknown_transaction_shows_login_expired(client, tenant):
    for url in ("/login?tx=nope", "/login/password?tx=nope", "/login/password"):
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert "Your sign-in expired" in text(answer)


def test_expired_transaction_shows_login_expired(client, foyer_app, user, make_login_tx):
    lifetime = foyer_app.extensions["foyer.settings"].login_transaction_lifetime
    tx = make_login_tx(created_at=time.time() - lifetime - 1)
    answer = client.get(f"/login?tx={tx}")
    assert answer.status_code == 400
    assert 'id="error-title">Your sign-in expired' in text(answer)


def test_post_without_transaction_shows_login_expired(client, tenant):
    page = client.get("/login", follow_redirects=True)
    token = read_form(text(page), "login-identifier-form").fields["csrf_token"]
    answer = client.post("/login", data={"csrf_token": token, "identifier": "a@b.test"})
    assert answer.status_code == 400
    assert "Your sign-in expired" in text(answer)


def test_password_page_before_identifier_goes_back_to_page_one(client, make_login_tx, tenant):
    tx = make_login_tx()
    answer = client.get(f"/login/password?tx={tx}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/login?tx={tx}"


def test_signed_in_browser_visiting_login_sees_signed_in_page(client, user):
    login(client, "alice@example.com", USER_PASSWORD)
    answer = client.get("/login")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login/done"


def test_forced_login_asks_for_credentials_even_when_signed_in(client, user, make_login_tx):
    login(client, "alice@example.com", USER_PASSWORD)
    tx = make_login_tx(force_login=True)
    page = client.get(f"/login?tx={tx}")
    assert page.status_code == 200
    assert 'id="login-identifier-form"' in text(page)
    first = session.scalar(sa.select(SsoSession).where(SsoSession.user_id == user.id))
    answer = login(client, "alice@example.com", USER_PASSWORD, tx=tx)
    assert answer.status_code == 303
    sessions = session.scalars(sa.select(SsoSession).where(SsoSession.user_id == user.id)).all()
    assert len(sessions) == 2
    session.refresh(first)
    assert first.ended_at is not None


def test_signed_in_page_without_session_goes_to_login(client, tenant):
    answer = client.get("/login/done")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login"


def test_login_rule_denial_shows_access_denied_with_reason(client, user, register_plugin):
    class DenyAll:
        @hookimpl
        def check_login(self, context):
            return LoginDecision(code="closed", reason="Sign-in is closed for maintenance.")

    register_plugin(DenyAll(), name="deny-all")
    answer = login(client, "alice@example.com", USER_PASSWORD)
    assert answer.status_code == 403
    assert "Sign-in is closed for maintenance." in text(answer)
    assert 'id="error-title">You cannot sign in here' in text(answer)
    assert client.get("/login/done").status_code == 302  # nobody is signed in


def test_raising_login_rule_shows_plugin_failure_page(client, user, register_plugin):
    class Broken:
        @hookimpl
        def check_login(self, context):
            raise RuntimeError("rule crashed")

    register_plugin(Broken(), name="broken-rule")
    answer = login(client, "alice@example.com", USER_PASSWORD)
    assert answer.status_code == 502
    assert 'id="error-title">Sign-in could not be completed' in text(answer)
    assert "rule crashed" not in text(answer)


def test_organization_without_password_connection_says_sign_in_is_not_set_up(
    client, make_organization, make_login_tx
):
    org = make_organization("initech", "Initech", connections=[])
    tx = make_login_tx(organization=org)
    page = client.get(f"/login?tx={tx}")
    answer = submit_form(client, page, "login-identifier-form", identifier="a@initech.test")
    assert answer.status_code == 503
    assert "Sign-in is not set up here" in text(answer)


def test_organization_of_the_transaction_brands_the_page(client, make_organization, make_login_tx):
    org = make_organization("globex", "Globex Corporation")
    tx = make_login_tx(organization=org)
    page = text(client.get(f"/login?tx={tx}"))
    assert 'id="brand-name" dir="auto">Globex Corporation<' in page
    assert "<title>Sign in · Globex Corporation</title>" in page


def test_application_name_is_shown_and_escaped(client, tenant, make_client, make_login_tx):
    app_client, _secret = make_client(name="<b>Demo</b> app")
    tx = make_login_tx(app_client=app_client)
    page = text(client.get(f"/login?tx={tx}"))
    assert "to continue to <strong><bdi>&lt;b&gt;Demo&lt;/b&gt; app</bdi></strong>" in page


def test_sign_in_for_an_application_answers_with_its_code(client, user, oidc_client):
    """The password form's answer is the redirect to the application: no hop through the
    browser between the sign-in and its code."""
    from tests.security.test_required_two_step import start
    from tests.security.test_required_two_step import tx_of

    app_client, _secret = oidc_client
    started, _verifier = start(client, app_client)
    tx = tx_of(started)
    answer = login(client, "alice@example.com", USER_PASSWORD, tx=tx)
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(app_client.redirect_uris[0] + "?"), location
    assert "code=" in location and "state=st" in location
    assert client.get(f"/authorize/resume?tx={tx}").status_code == 400  # used up
