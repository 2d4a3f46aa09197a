"""Suspicious addresses: 100 failed sign-ins, or 50 sign-ups, from one address in a day
and it is refused, getting one more attempt each day's share (864 s, 1728 s) as Auth0's
bucket refills; addresses of the allow list never are. Figures checked with a clock the
test moves, on the database and on Redis."""

from __future__ import annotations

import pytest

from app.accounts.protection import Figures
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import submit_form

WRONG = "a wrong password, again"
DEFAULTS = Figures()
SIGNUP_PASSWORD = "a sign-up passphrase long enough"


@pytest.fixture
def foyer_config(foyer_config):
    return {
        **foyer_config,
        "rate_limit_login": "10000 per minute",
        "rate_limit_account_email": "10000 per minute",
    }


def browser_at(app, address: str):
    browser = host_client(app)
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def guess_many(browser, times: int) -> None:
    """Failed sign-ins, each for another (unknown) account: no account's own figure."""
    for number in range(times):
        assert login(browser, f"guess{number}@example.com", WRONG).status_code == 400


def test_an_address_with_100_failed_sign_ins_gets_one_more_every_864_seconds(
    backend, clock, foyer_app, user, recorded_events
):
    assert DEFAULTS.ip_failed_logins_per_day == 100
    browser = browser_at(foyer_app, "198.51.100.23")
    guess_many(browser, 100)
    assert [e.data["kind"] for e in recorded_events("ip_throttled")] == ["login"]
    refused = login(browser, "alice@example.com", USER_PASSWORD)
    assert refused.status_code == 429
    assert "There were too many attempts from your network." in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "864"
    elsewhere = browser_at(foyer_app, "198.51.100.24")
    assert login(elsewhere, "alice@example.com", USER_PASSWORD).status_code == 303
    clock.advance(863)
    assert login(browser, "alice@example.com", USER_PASSWORD).status_code == 429
    clock.advance(1)
    guess_many(browser, 1)  # one more, then full again
    assert login(browser, "alice@example.com", USER_PASSWORD).headers["Retry-After"] == "864"
    clock.advance(24 * 3600)  # a day later the bucket is empty
    guess_many(browser, 99)
    assert login(browser, "alice@example.com", USER_PASSWORD).status_code == 303


def test_addresses_of_the_allow_list_are_never_throttled(backend, clock, foyer_app, tenant, user):
    tenant.settings = {
        "attack_protection": {"ip_failed_logins_per_day": 5, "allow_list": ["198.51.100.0/24"]}
    }
    session.commit()
    office = browser_at(foyer_app, "198.51.100.77")
    guess_many(office, 8)
    assert login(office, "alice@example.com", USER_PASSWORD).status_code == 303
    outside = browser_at(foyer_app, "203.0.113.77")
    guess_many(outside, 5)
    assert login(outside, "alice@example.com", USER_PASSWORD).status_code == 429


def test_an_ipv6_host_is_counted_by_its_64(backend, clock, foyer_app, tenant, user):
    tenant.settings = {"attack_protection": {"ip_failed_logins_per_day": 4}}
    session.commit()
    for last in range(4):  # one host, four addresses of its /64
        guess_many(browser_at(foyer_app, f"2001:db8:1:2::{last + 1}"), 1)
    refused = login(browser_at(foyer_app, "2001:db8:1:2::99"), "alice@example.com", USER_PASSWORD)
    assert refused.status_code == 429


def test_an_address_with_50_sign_ups_gets_one_more_every_1728_seconds(
    backend, clock, foyer_app, connection, outbox, recorded_events
):
    assert DEFAULTS.ip_signups_per_day == 50
    connection.signup_enabled = True
    session.commit()
    browser = browser_at(foyer_app, "198.51.100.23")

    def signup(number: int):
        page = browser.get("/signup")
        return submit_form(
            browser, page, "signup-form", email=f"new{number}@example.com", password=SIGNUP_PASSWORD
        )

    for number in range(50):
        assert signup(number).status_code == 303
    refused = signup(50)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1728"
    assert [e.data["kind"] for e in recorded_events("ip_throttled")] == ["signup"]
    clock.advance(1728)
    assert signup(51).status_code == 303
    assert signup(52).status_code == 429
