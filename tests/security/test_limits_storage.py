"""The in-process rate-limit storage: same answers as limits' own, swept every few seconds."""

from __future__ import annotations

import time

from limits import parse
from limits.strategies import MovingWindowRateLimiter

from app.security.limits import SWEEP_INTERVAL
from app.security.limits import SweepingMemoryStorage


def test_without_redis_the_limiter_keeps_its_counts_in_the_sweeping_storage(foyer_app):
    if foyer_app.extensions["foyer.settings"].redis_url:
        return  # Redis holds the counts: nothing in process
    storage = foyer_app.extensions["foyer.limiter"].storage
    assert isinstance(storage, SweepingMemoryStorage)


def test_moving_window_answers_are_unchanged():
    limiter = MovingWindowRateLimiter(SweepingMemoryStorage("foyer-memory://"))
    two_a_minute = parse("2 per minute")
    answers = [limiter.hit(two_a_minute, "10.0.0.1") for _ in range(3)]
    assert answers == [True, True, False]
    assert limiter.hit(two_a_minute, "10.0.0.2")  # another address has its own window


def test_a_hit_schedules_one_daemon_sweep_seconds_later_not_every_10_ms():
    storage = SweepingMemoryStorage("foyer-memory://")
    limiter = MovingWindowRateLimiter(storage)
    storage.timer.join()  # the constructor's first, immediate sweep
    limiter.hit(parse("5 per minute"), "10.0.0.1")
    first = storage.timer
    assert first.is_alive() and first.daemon and first.interval == SWEEP_INTERVAL
    limiter.hit(parse("5 per minute"), "10.0.0.1")
    assert storage.timer is first  # no new thread per request


def test_a_sweep_drops_entries_whose_window_has_passed():
    storage = SweepingMemoryStorage("foyer-memory://")
    limiter = MovingWindowRateLimiter(storage)
    limiter.hit(parse("5 per second"), "10.0.0.1")
    limiter.hit(parse("5 per minute"), "10.0.0.2")
    time.sleep(1.1)
    storage._MemoryStorage__expire_events()
    kept = {key.split("/")[1]: len(entries) for key, entries in storage.events.items()}
    assert kept == {"10.0.0.1": 0, "10.0.0.2": 1}
