"""Limits and counters are shared by every worker and host: no figure is counted in one
worker's memory, so two gunicorn workers let through what one would, no more."""

from __future__ import annotations

import concurrent.futures
import threading

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from app.accounts.protection import Figures
from app.security.counters import DatabaseCounters
from app.security.limits import CounterStorage
from app.security.limits import FailoverStorage
from app.testing import USER_PASSWORD
from tests.security.conftest import HttpBrowser


def test_no_limit_is_counted_in_a_workers_memory(foyer_app):
    storage = foyer_app.extensions["foyer.limiter"].storage
    if foyer_app.extensions["foyer.settings"].redis_url:
        assert isinstance(storage, FailoverStorage)
        assert isinstance(storage.fallback, CounterStorage)
    else:
        assert isinstance(storage, CounterStorage)


def test_counts_from_many_threads_at_once_add_up_exactly(backend):
    def add_many() -> None:
        for _ in range(25):
            backend.add("race", 60, 1000.0)

    threads = [threading.Thread(target=add_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.peek("race", 1000.0).value == 100


def test_a_window_ends_and_counting_starts_again(backend):
    assert backend.add("window", 60, 1000.0).value == 1
    assert backend.add("window", 60, 1030.0) == (2, 1060.0)
    assert backend.peek("window", 1059.0).value == 2
    assert backend.peek("window", 1060.0).value == 0  # over at its end
    assert backend.add("window", 60, 1061.0) == (1, 1121.0)
    backend.clear("window")
    assert backend.peek("window", 1062.0).value == 0


def test_an_extended_window_restarts_at_every_add(backend):
    backend.add("run", 100, 1000.0, extend=True)
    assert backend.add("run", 100, 1090.0, extend=True) == (2, 1190.0)
    assert backend.peek("run", 1189.0).value == 2


def test_a_bucket_fills_with_each_charge_and_drains_in_real_time(backend):
    assert backend.charge("bucket", 864, 1000.0) == (1, 1864.0)
    assert backend.charge("bucket", 864, 1000.0) == (2, 2728.0)
    assert backend.charge("bucket", 864, 2000.0) == (3, 3592.0)  # what was left, plus 864
    assert backend.peek("bucket", 3591.0).value == 3
    assert backend.charge("bucket", 864, 3592.0) == (1, 4456.0)  # empty: starts again


def test_the_database_storage_answers_as_limits_own_storage(foyer_app):
    three_a_minute = parse("3 per minute")
    ours = SlidingWindowCounterRateLimiter(
        CounterStorage(counters=DatabaseCounters(foyer_app.extensions["foyer.db"]))
    )
    reference = SlidingWindowCounterRateLimiter(MemoryStorage())
    for limiter in (ours, reference):
        answers = [limiter.hit(three_a_minute, "10.0.0.1") for _ in range(4)]
        assert answers == [True, True, True, False]
        assert limiter.hit(three_a_minute, "10.0.0.2")  # another address has its own
        assert not limiter.test(three_a_minute, "10.0.0.1")
        assert limiter.get_window_stats(three_a_minute, "10.0.0.1").remaining == 0
        limiter.clear(three_a_minute, "10.0.0.1")
        assert limiter.hit(three_a_minute, "10.0.0.1")


def test_two_gunicorn_workers_let_one_address_make_the_limit_not_twice_it(gunicorn, tenant, user):
    server = gunicorn(FOYER_RATE_LIMIT_LOGIN="10 per hour")
    browser = HttpBrowser(server.base_urls, "198.51.100.7")
    answers = []
    for _ in range(12):  # two credential POSTs each, on alternate workers, while not limited
        answer = browser.login("alice@example.com", "a wrong password, again")
        answers.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert answers == [400] * 5 + [429]  # 10 POSTs counted, wherever they landed
    assert len(server.workers_that_served("/login")) == 2
    other = HttpBrowser(server.base_urls, "198.51.100.8")
    assert other.login("alice@example.com", "a wrong password, again").status_code == 400


def _at_once(guesses: list[tuple[str, str]], server) -> list[int]:
    """Sign-in attempts (address, password), four at a time: their answers' statuses."""

    def attempt(number: int) -> int:
        address, password = guesses[number]
        turn = number % len(server.base_urls)  # every other attempt starts on the other worker
        browser = HttpBrowser(server.base_urls[turn:] + server.base_urls[:turn], address)
        return browser.login("alice@example.com", password).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(attempt, range(len(guesses))))


def test_many_addresses_on_two_workers_get_no_more_guesses_than_the_account_allows(
    gunicorn, tenant, user, recorded_events
):
    server = gunicorn(FOYER_RATE_LIMIT_LOGIN="10000 per minute")
    allowed = Figures().delay_after
    guesses = [(f"198.51.100.{number}", "a wrong password, again") for number in range(40)]
    answers = _at_once(guesses, server)
    assert answers.count(400) == allowed  # checked guesses
    assert answers.count(429) == len(guesses) - allowed  # waiting for the account's delay
    assert len(server.workers_that_served("/login/password")) == 2
    checked = [
        e for e in recorded_events("login_failed") if e.data["reason"] == "wrong_credentials"
    ]
    assert len(checked) == allowed


def test_one_address_on_two_workers_gets_ten_guesses_then_the_pair_is_blocked(
    gunicorn, tenant, user, recorded_events
):
    server = gunicorn(FOYER_RATE_LIMIT_LOGIN="10000 per minute")
    figures = Figures()
    guesses = [("198.51.100.7", "a wrong password, again")] * 16
    assert _at_once(guesses, server) == [400] * 16
    checked = [
        e for e in recorded_events("login_failed") if e.data["reason"] == "wrong_credentials"
    ]
    assert len(checked) == figures.max_failed_logins
    assert len(recorded_events("login_pair_blocked")) == 1
    assert _at_once([("198.51.100.7", USER_PASSWORD)], server) == [400]
    assert _at_once([("198.51.100.8", USER_PASSWORD)], server) == [303]
