"""Failed sign-ins never reveal whether an account exists, and never log a password."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from app.branding.loader import soft_breaks
from app.db import session
from app.sessions.models import SsoSession
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import submit_form

WRONG = "not the right password at all"


def normalized(response, *values: str) -> str:
    """The page with its CSRF token and the given values blanked, for comparing answers."""
    text = re.sub(
        r'(name="csrf_token" type="hidden" value=")[^"]*', r"\1", response.get_data(as_text=True)
    )
    for value in values:
        text = text.replace(str(soft_breaks(value)), "<identifier>")  # the wrappable form
        text = text.replace(value, "<identifier>")
    return text


def attempt(client, tx: str, identifier: str, password: str):
    page = client.get(f"/login?tx={tx}")
    step = submit_form(client, page, "login-identifier-form", identifier=identifier)
    assert step.status_code == 303
    page = client.get(step.headers["Location"])
    return submit_form(client, page, "login-password-form", password=password)


def test_unknown_email_and_wrong_password_get_the_same_answer(client, user, make_login_tx):
    tx = make_login_tx()
    wrong_password = attempt(client, tx, "alice@example.com", WRONG)
    unknown_user = attempt(client, tx, "nobody@example.com", WRONG)

    assert wrong_password.status_code == unknown_user.status_code == 400
    assert "Wrong email or password." in wrong_password.get_data(as_text=True)
    assert normalized(wrong_password, "alice@example.com") == normalized(
        unknown_user, "nobody@example.com"
    )
    assert 'id="form-error" role="alert"' in wrong_password.get_data(as_text=True)


def test_unknown_user_still_spends_one_hash(client, user, make_login_tx, hash_checks):
    tx = make_login_tx()
    attempt(client, tx, "nobody@example.com", WRONG)
    assert len(hash_checks) == 1
    attempt(client, tx, "alice@example.com", WRONG)
    assert len(hash_checks) == 2
    assert hash_checks[1] == user.password_hash
    assert hash_checks[0] != user.password_hash


def test_identifier_page_answers_the_same_for_known_and_unknown_users(client, user, make_login_tx):
    tx = make_login_tx()
    known = submit_form(
        client,
        client.get(f"/login?tx={tx}"),
        "login-identifier-form",
        identifier="alice@example.com",
    )
    unknown = submit_form(
        client,
        client.get(f"/login?tx={tx}"),
        "login-identifier-form",
        identifier="nobody@example.com",
    )
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]


def test_blocked_user_gets_the_generic_failure_and_a_login_blocked_event(
    client, user, make_login_tx, recorded_events
):
    user.blocked = True
    session.commit()
    tx = make_login_tx()
    blocked = attempt(client, tx, "alice@example.com", USER_PASSWORD)
    other = attempt(client, tx, "nobody@example.com", USER_PASSWORD)

    assert blocked.status_code == other.status_code == 400
    assert normalized(blocked, "alice@example.com") == normalized(other, "nobody@example.com")
    assert session.scalar(sa.select(SsoSession).where(SsoSession.user_id == user.id)) is None
    [event] = recorded_events("login_blocked")
    assert event.user_id == user.id
    assert event.data["identifier"] == "alice@example.com"
    assert not recorded_events("login_succeeded")


def test_failed_sign_ins_are_logged_without_the_password(client, user, recorded_events):
    login(client, "alice@example.com", WRONG)
    login(client, "nobody@example.com", WRONG)
    failed = recorded_events("login_failed")
    assert [e.data["identifier"] for e in failed] == ["alice@example.com", "nobody@example.com"]
    assert failed[0].user_id == user.id
    assert failed[1].user_id is None
    everything = json.dumps([e.data for e in recorded_events()])
    assert WRONG not in everything
    assert USER_PASSWORD not in everything
