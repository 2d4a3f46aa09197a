"""The hard request timeout in one process: Python code interrupted, a request blocked in C
ending its worker, never sooner than granian's crash-loop window after the worker started
(``foyer run`` under granian: tests/ops/test_foyer_run.py)."""

from __future__ import annotations

import threading
import time

import pytest

from app import request_watchdog
from app.request_watchdog import CRASH_LOOP_WINDOW
from app.request_watchdog import RequestTimeout
from app.request_watchdog import RequestWatchdog


def serve(app: RequestWatchdog, environ: dict) -> BaseException | None:
    """One request through ``app`` in a thread of its own, as granian's; what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            app(environ, lambda *args: None)
        except BaseException as exc:  # noqa: BLE001 - what the request raised is the result
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return raised[0] if raised else None


def test_a_request_in_python_is_interrupted_and_the_next_one_served(monkeypatch, caplog):
    monkeypatch.setattr(request_watchdog.os, "_exit", pytest.fail)

    def app(environ, start_response):
        while environ["PATH_INFO"] == "/loop":
            pass
        return [b"ok"]

    watched = RequestWatchdog(app, timeout=1, grace=30)
    started = time.monotonic()
    raised = serve(watched, {"REQUEST_METHOD": "POST", "PATH_INFO": "/loop", "QUERY_STRING": "a"})
    assert isinstance(raised, RequestTimeout)
    assert 1 <= time.monotonic() - started < 3
    assert serve(watched, {"PATH_INFO": "/"}) is None
    assert not watched.running and not watched.fired
    [line] = [r.getMessage() for r in caplog.records if r.name == "foyer.server"]
    assert line.startswith("request POST /loop still running after 1.")


def test_a_worker_blocked_in_c_exits_only_past_the_crash_loop_window(monkeypatch):
    released = threading.Event()
    exits: list[tuple[float, int]] = []

    def exit_(code: int) -> None:
        exits.append((time.monotonic(), code))
        released.set()

    monkeypatch.setattr(request_watchdog.os, "_exit", exit_)

    def app(environ, start_response):
        released.wait(60)  # in C: the timeout waits until it returns
        return [b"late"]

    watched = RequestWatchdog(app, timeout=1, grace=0)
    raised = serve(watched, {"REQUEST_METHOD": "GET", "PATH_INFO": "/wait"})
    assert isinstance(raised, RequestTimeout)  # raised once the wait returned
    assert exits and exits[0][1] == request_watchdog.EXIT_STUCK
    assert exits[0][0] - watched.born > CRASH_LOOP_WINDOW  # not at 1 s: a restarted worker
    assert serve(watched, {"PATH_INFO": "/"}) is None  # nothing left pending for the thread
