"""Brute force per (account, address): after 10 failures in a row the pair is blocked; the
right password then fails like a wrong one (same page, status, a hash spent); the user
gets a single-use unblock link; the link, a reset or an admin lifts the block; it expires.
Figures checked with a clock the test moves, on the database and on Redis."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from app.accounts.cli import register_commands
from app.accounts.protection import Figures
from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import submit_form
from tests.accounts.conftest import link_in
from tests.accounts.conftest import path_of

register_commands(cli)
WRONG = "a wrong password, again"
DEFAULTS = Figures()


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_login": "1000 per minute"}


def page_of(response) -> str:
    """The page without what differs between any two requests (CSRF token, sign-in id)."""
    body = response.get_data(as_text=True)
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", body)
    return re.sub(r"tx=[A-Za-z0-9_-]+", "tx=", body)


def fail(browser, times: int, email: str = "alice@example.com") -> None:
    for _ in range(times):
        assert login(browser, email, WRONG).status_code == 400


def test_after_ten_failures_the_right_password_gets_the_wrong_passwords_answer(
    backend, clock, client, user, hash_checks, recorded_events
):
    assert DEFAULTS.max_failed_logins == 10
    fail(client, 10)
    assert len(recorded_events("login_pair_blocked")) == 1
    hash_checks.clear()
    blocked = login(client, "alice@example.com", USER_PASSWORD)
    assert len(hash_checks) == 1  # the hash is spent all the same: same timing class
    wrong = login(client, "alice@example.com", WRONG)
    assert blocked.status_code == wrong.status_code == 400
    assert page_of(blocked) == page_of(wrong)
    assert "Wrong email or password." in blocked.get_data(as_text=True)
    assert set(blocked.headers.keys()) == set(wrong.headers.keys())
    assert recorded_events("login_failed")[-2].data["reason"] == "pair_blocked"
    assert len(recorded_events("login_pair_blocked")) == 1  # once, when it started


def test_nine_failures_then_the_right_password_start_the_count_again(backend, clock, client, user):
    fail(client, 9)
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303
    other = host_client(client.application)
    fail(other, 9)
    assert login(other, "alice@example.com", USER_PASSWORD).status_code == 303


def test_the_block_holds_for_that_address_only(backend, clock, foyer_app, client, user):
    fail(client, 10)
    elsewhere = host_client(foyer_app)
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.50"
    assert login(elsewhere, "alice@example.com", USER_PASSWORD).status_code == 303


def test_the_block_expires(backend, clock, foyer_app, client, user):
    fail(client, 10)
    clock.advance(DEFAULTS.block_seconds - 1)
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 400
    clock.advance(DEFAULTS.block_seconds + 1)  # from the last attempt
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303


def test_an_unknown_account_is_blocked_alike_and_nobody_is_emailed(
    backend, clock, client, user, mails
):
    fail(client, 11, "nobody@example.com")
    fail(client, 10)
    known = login(client, "alice@example.com", WRONG)
    unknown = login(client, "nobody@example.com", WRONG)
    assert known.status_code == unknown.status_code == 400
    assert page_of(known).replace("alice", "x") == page_of(unknown).replace("nobody", "x")
    assert [m.to for m in mails()] == ["alice@example.com"]


def test_the_emailed_link_lifts_the_block_once(
    backend, clock, client, user, mails, recorded_events
):
    fail(client, 10)
    (message,) = mails()
    assert message.purpose == "login_blocked"
    link = link_in(message)
    assert link.startswith("https://login.test/login/unblock?token=")
    page = client.get(path_of(link))  # a mail scanner that follows the link changes nothing
    assert page.status_code == 200
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 400
    done = submit_form(client, page, "unblock-form")
    assert done.status_code == 303 and done.headers["Location"].endswith("/login/unblocked")
    assert "You can sign in again" in client.get("/login/unblocked").get_data(as_text=True)
    assert recorded_events("login_unblocked")[-1].data["via"] == "link"
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303
    again = client.get(path_of(link))
    assert again.status_code == 400
    assert "This link no longer works" in again.get_data(as_text=True)


def test_a_password_reset_lifts_the_block(backend, clock, client, user, mails):
    from tests.accounts.test_password_reset import NEW_PASSWORD
    from tests.accounts.test_password_reset import request_reset

    fail(client, 10)
    request_reset(client, "alice@example.com")
    reset = next(m for m in mails() if m.purpose == "password_reset")
    form = client.get(path_of(link_in(reset)))
    submit_form(client, form, "reset-password-form", new_password=NEW_PASSWORD)
    assert login(client, "alice@example.com", NEW_PASSWORD).status_code == 303


def test_foyer_users_unblock_lifts_the_block(backend, clock, foyer_app, client, user):
    fail(client, 10)
    result = CliRunner().invoke(
        cli,
        ["users", "unblock", "--tenant", "acme", "--email", "alice@example.com"],
        obj=AppContext(foyer_app),
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303


def test_the_figures_are_tenant_settings(backend, clock, client, tenant, user):
    tenant.settings = {"attack_protection": {"max_failed_logins": 3, "block_seconds": 60}}
    session.commit()
    fail(client, 3)
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 400
    clock.advance(61)
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303
