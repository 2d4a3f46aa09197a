"""Redis going away (stopped, or frozen) mid-test: sign-in keeps working within short
deadlines, the credential limits count in the database, stricter, and an event says so."""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.security.limits import FALLBACK_DIVISOR
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login


@pytest.fixture
def foyer_config(foyer_config, private_redis):
    return {**foyer_config, "redis_url": private_redis.url, "rate_limit_login": "8 per hour"}


def _redis_keys(private_redis) -> list[bytes]:
    from app.security.counters import redis_client

    return list(redis_client(private_redis.url).scan_iter())


def test_sign_in_keeps_working_after_redis_stops(
    foyer_app, client, user, private_redis, recorded_events
):
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 303
    assert _redis_keys(private_redis)  # the limit was counted in Redis

    private_redis.stop()
    started = time.monotonic()
    browser = host_client(foyer_app)
    assert login(browser, "alice@example.com", USER_PASSWORD).status_code == 303
    assert login(host_client(foyer_app), "alice@example.com", USER_PASSWORD).status_code == 303
    assert time.monotonic() - started < 5
    failures = recorded_events("counter_storage_failed")
    assert len(failures) == 1  # once, not once per request
    assert failures[0].data["backend"] == "redis"


def test_a_frozen_redis_costs_a_short_deadline_not_a_hang(foyer_app, user, private_redis):
    os.kill(private_redis.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        browser = host_client(foyer_app)
        assert login(browser, "alice@example.com", USER_PASSWORD).status_code == 303
        assert time.monotonic() - started < 5
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)


def test_while_redis_is_down_the_credential_limit_is_stricter_and_shared(
    foyer_app, user, private_redis
):
    private_redis.stop()
    allowed = 8 // FALLBACK_DIVISOR  # credential POSTs: two per attempt
    browsers = [host_client(foyer_app) for _ in range(3)]  # one address, fresh cookies
    answers = [login(b, "alice@example.com", "a wrong password, again") for b in browsers]
    assert [a.status_code for a in answers] == [400] * (allowed // 2) + [429] * (3 - allowed // 2)
    assert foyer_app.extensions["foyer.counters"].degraded


def test_counting_moves_back_to_redis_once_it_answers_again(
    foyer_app, user, private_redis, monkeypatch
):
    import app.security.counters as counters

    monkeypatch.setattr(counters, "RETRY_SECONDS", 0.0)
    private_redis.stop()
    assert login(host_client(foyer_app), "alice@example.com", USER_PASSWORD).status_code == 303
    private_redis.start()  # on the same port
    assert login(host_client(foyer_app), "alice@example.com", USER_PASSWORD).status_code == 303
    assert _redis_keys(private_redis)
    assert not foyer_app.extensions["foyer.counters"].degraded
