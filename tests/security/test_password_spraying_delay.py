"""Password spraying, per account across every address: from 30 failures each attempt
waits 60 s after the last failure, doubling up to 15 minutes, the count ending 12 hours
after the last failure; the unblock link and a reset still work, so a delay never locks
the owner out for good. Figures checked with a clock the test moves, on both backends."""

from __future__ import annotations

import pytest

from app.accounts.protection import Figures
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import submit_form
from tests.accounts.conftest import link_in
from tests.accounts.conftest import path_of

WRONG = "a wrong password, again"
DEFAULTS = Figures()


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_login": "10000 per minute"}


class Attacker:
    """A new address for every guess, so no (account, address) pair is ever blocked."""

    def __init__(self, app) -> None:
        self.app = app
        self.addresses = 0

    def guess(self, password: str = WRONG, email: str = "alice@example.com"):
        self.addresses += 1
        browser = host_client(self.app)
        browser.environ_base["REMOTE_ADDR"] = (
            f"198.51.{self.addresses // 250}.{self.addresses % 250}"
        )
        return login(browser, email, password)


@pytest.fixture
def attacker(foyer_app) -> Attacker:
    return Attacker(foyer_app)


def spray(attacker: Attacker, times: int, email: str = "alice@example.com") -> None:
    for _ in range(times):
        assert attacker.guess(email=email).status_code == 400


def test_thirty_failures_then_each_attempt_waits_doubling_up_to_15_minutes(
    backend, clock, attacker, user, recorded_events
):
    assert (DEFAULTS.delay_after, DEFAULTS.first_delay_seconds) == (30, 60)
    assert DEFAULTS.max_delay_seconds == 15 * 60
    spray(attacker, 30)
    waits = []
    for _ in range(7):
        refused = attacker.guess(USER_PASSWORD)  # even the right password waits
        assert refused.status_code == 429
        body = refused.get_data(as_text=True)
        assert "too many failed sign-ins to this account" in body
        assert 'id="forgot-password"' in body  # a reset always works
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1] - 1)
        assert attacker.guess().status_code == 429  # one second early
        clock.advance(1)
        assert attacker.guess().status_code == 400  # on time: one guess, checked
    assert waits == [60, 120, 240, 480, 900, 900, 900]
    assert recorded_events("login_delayed")[-1].data["seconds"] == 900
    clock.advance(900)
    assert attacker.guess(USER_PASSWORD).status_code == 303
    spray(attacker, 29)  # a success starts the count again
    assert attacker.guess(USER_PASSWORD).status_code == 303


def test_the_count_ends_12_hours_after_the_last_failure(backend, clock, attacker, user):
    spray(attacker, 30)
    clock.advance(DEFAULTS.delay_reset_seconds - 1)
    assert attacker.guess().status_code == 400  # the 31st failure: a delay again
    assert attacker.guess().status_code == 429
    clock.advance(DEFAULTS.delay_reset_seconds)
    spray(attacker, 29)  # a new count: 29 free guesses and more
    assert attacker.guess(USER_PASSWORD).status_code == 303


def test_unknown_accounts_are_delayed_alike(backend, clock, attacker, user):
    spray(attacker, 30, "nobody@example.com")
    spray(attacker, 30)
    unknown = attacker.guess(email="nobody@example.com")
    known = attacker.guess()
    assert unknown.status_code == known.status_code == 429
    assert unknown.headers["Retry-After"] == known.headers["Retry-After"]


def test_a_delay_cannot_lock_the_owner_out_the_unblock_link_clears_it(
    backend, clock, foyer_app, attacker, user, mails
):
    """The first ten guesses come from one address, which emails the unblock link."""
    browser = host_client(foyer_app)
    for _ in range(10):
        assert login(browser, "alice@example.com", WRONG).status_code == 400
    spray(attacker, 20)  # 30 failures
    assert attacker.guess(USER_PASSWORD).status_code == 429
    owner = host_client(foyer_app)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.200"
    page = owner.get(path_of(link_in(next(m for m in mails() if m.purpose == "login_blocked"))))
    submit_form(owner, page, "unblock-form")
    assert login(owner, "alice@example.com", USER_PASSWORD).status_code == 303


def test_a_delay_cannot_lock_the_owner_out_a_reset_clears_it(
    backend, clock, foyer_app, attacker, user, mails
):
    from tests.accounts.test_password_reset import NEW_PASSWORD
    from tests.accounts.test_password_reset import request_reset

    spray(attacker, 30)
    assert attacker.guess(USER_PASSWORD).status_code == 429
    owner = host_client(foyer_app)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.200"
    request_reset(owner, "alice@example.com")
    form = owner.get(path_of(link_in(next(m for m in mails() if m.purpose == "password_reset"))))
    submit_form(owner, form, "reset-password-form", new_password=NEW_PASSWORD)
    assert login(owner, "alice@example.com", NEW_PASSWORD).status_code == 303


def test_the_figures_are_tenant_settings(backend, clock, attacker, tenant, user):
    from app.db import session

    tenant.settings = {
        "attack_protection": {
            "delay_after": 3,
            "first_delay_seconds": 10,
            "max_delay_seconds": 15,
            "delay_reset_seconds": 100,
        }
    }
    session.commit()
    spray(attacker, 3)
    assert attacker.guess().headers["Retry-After"] == "10"
    clock.advance(10)
    spray(attacker, 1)
    assert attacker.guess().headers["Retry-After"] == "15"


def test_a_browser_the_owner_signed_in_with_is_never_delayed(
    backend, clock, foyer_app, attacker, user
):
    owner = host_client(foyer_app)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.200"
    assert login(owner, "alice@example.com", USER_PASSWORD).status_code == 303
    owner.delete_cookie(foyer_app.config["SESSION_COOKIE_NAME"], domain="login.test")  # signed out
    spray(attacker, 30)
    assert attacker.guess(USER_PASSWORD).status_code == 429
    stranger = host_client(foyer_app)
    stranger.set_cookie("foyer_device", "forged", domain="login.test")
    stranger.environ_base["REMOTE_ADDR"] = "192.0.2.201"
    assert login(stranger, "alice@example.com", USER_PASSWORD).status_code == 429
    assert login(owner, "alice@example.com", USER_PASSWORD).status_code == 303


def test_the_browser_that_reset_the_password_is_not_delayed_when_spraying_goes_on(
    backend, clock, foyer_app, attacker, user, mails
):
    from tests.accounts.test_password_reset import NEW_PASSWORD
    from tests.accounts.test_password_reset import request_reset

    spray(attacker, 30)
    owner = host_client(foyer_app)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.200"
    request_reset(owner, "alice@example.com")
    form = owner.get(path_of(link_in(next(m for m in mails() if m.purpose == "password_reset"))))
    submit_form(owner, form, "reset-password-form", new_password=NEW_PASSWORD)
    spray(attacker, 30)  # the attacker goes on at once
    assert attacker.guess(NEW_PASSWORD).status_code == 429
    assert login(owner, "alice@example.com", NEW_PASSWORD).status_code == 303


def test_the_last_free_attempt_and_one_past_the_limit_at_once_let_only_one_through(
    backend, clock, foyer_app, tenant
):
    """Two workers: the 30th attempt counted, then the 31st counted and at the gate before
    the 30th reaches it. One of the two is checked, the other waits."""
    from app.accounts import protection

    account = protection.account_key(tenant.id, "alice@example.com")
    for _ in range(DEFAULTS.delay_after - 1):
        backend.add(protection._spray_key(account), DEFAULTS.delay_reset_seconds, clock())
    gate = protection._gate_key(account)
    other: list[protection.Attempt] = []
    started: list[bool] = []

    class SecondWorkerFirstAtTheGate:
        """The counters, with the other worker's whole attempt run just before this
        attempt's first step at the gate."""

        def __getattr__(self, name: str):
            return getattr(backend, name)

        def add(self, key: str, *args, **kwargs):
            if key == gate and not started:
                started.append(True)
                with foyer_app.test_request_context():
                    other.append(
                        protection.before_password_check(tenant, "alice@example.com", "203.0.113.2")
                    )
            return backend.add(key, *args, **kwargs)

    with foyer_app.test_request_context():
        foyer_app.extensions["foyer.counters"] = SecondWorkerFirstAtTheGate()
        try:
            first = protection.before_password_check(tenant, "alice@example.com", "203.0.113.1")
        finally:
            foyer_app.extensions["foyer.counters"] = backend
    assert other[0].number == DEFAULTS.delay_after + 1
    assert other[0].delayed_for == 0  # first at the gate: checked
    assert first.delayed_for > 0  # the last free one came second: it waits
