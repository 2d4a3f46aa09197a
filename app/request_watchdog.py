"""The last resort for a request that never ends: the hard request timeout.

gunicorn's master kills a sync worker whose request runs longer than its ``--timeout``
and starts another. granian has no such thing, so each granian worker runs this watchdog
(:func:`watch_requests`, installed by :mod:`app.granian_server`): a request running longer
than :func:`request_timeout` is logged, then interrupted with :class:`RequestTimeout` in
its thread (Python code stops at its next instruction); one still running
:data:`EXIT_GRACE` seconds later (blocked in C: a socket read, a lock, a sleep) ends the
worker with :data:`EXIT_STUCK`, and granian's master starts another. Both servers read the
same timeout (``FOYER_REQUEST_TIMEOUT``, :mod:`app.gunicorn_conf` passes it to gunicorn).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
import typing as t

REQUEST_TIMEOUT = 30
"""Seconds a request may run before its worker gives up on it (gunicorn's default
``--timeout``)."""

REQUEST_TIMEOUT_ENV = "FOYER_REQUEST_TIMEOUT"
"""Whole seconds overriding :data:`REQUEST_TIMEOUT` under both servers; 0 turns it off."""

EXIT_GRACE = 5.0
"""Seconds an interrupted request has to end before its worker exits."""

CRASH_LOOP_WINDOW = 5.5
"""granian's master stops the server when a worker it restarted fails again within this
many seconds: a worker never exits for a stuck request before it is older than that."""

EXIT_STUCK = 70
"""The exit code of a worker ended by a stuck request (``EX_SOFTWARE``)."""

log = logging.getLogger("foyer.server")

Environ = dict[str, t.Any]
StartResponse = t.Callable[..., t.Any]
WSGIApp = t.Callable[[Environ, StartResponse], t.Iterable[bytes]]


class RequestTimeout(BaseException):
    """Raised in a request thread whose request outlived the hard timeout.

    A ``BaseException``, so that code's own ``except Exception`` does not swallow it.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("the request ran out of time",)))


def request_timeout() -> int:
    """The hard request timeout in seconds (``FOYER_REQUEST_TIMEOUT``, default
    :data:`REQUEST_TIMEOUT`); 0 means none."""
    text = os.environ.get(REQUEST_TIMEOUT_ENV, "").strip()
    if not text:
        return REQUEST_TIMEOUT
    if not text.isdigit():
        raise ValueError(f"{REQUEST_TIMEOUT_ENV} must be a whole number of seconds, not {text!r}")
    return int(text)


Running = tuple[float, Environ]
"""A request in progress: when it started (``time.monotonic()``), what it asks for."""


class RequestWatchdog:
    """The app, with each request's start noted per thread, and the thread that watches
    them (one per worker process)."""

    def __init__(self, app: WSGIApp, timeout: float, grace: float = EXIT_GRACE) -> None:
        self.app = app
        self.timeout = timeout
        self.grace = grace
        self.running: dict[int, Running] = {}
        """The request each thread is serving."""
        self.fired: dict[int, Running] = {}
        """The requests interrupted and not ended yet, by thread."""
        self.born = time.monotonic()
        self._lock = threading.Lock()
        self._poll = max(0.05, min(1.0, timeout / 10))
        threading.Thread(target=self._watch, name="foyer-request-watchdog", daemon=True).start()

    def __call__(self, environ: Environ, start_response: StartResponse) -> t.Iterable[bytes]:
        # runs on every request: one entry set, one removed (a streamed body is not covered;
        # Foyer's responses are built before they are returned)
        thread = threading.get_ident()
        entry = self.running[thread] = (time.monotonic(), environ)
        try:
            return self.app(environ, start_response)
        finally:
            del self.running[thread]
            if self.fired:  # a timeout sent but not raised yet must not hit what comes next
                with self._lock:
                    if self.fired.pop(thread, None) is entry:
                        set_async_exc(thread, None)

    def _watch(self) -> None:
        while True:
            time.sleep(self._poll)
            now = time.monotonic()
            for thread, entry in self.running.copy().items():
                seconds = now - entry[0]
                if seconds < self.timeout:
                    continue
                if self.fired.get(thread) is not entry:
                    self._interrupt(thread, entry, seconds)
                elif seconds >= self.timeout + self.grace and now - self.born > CRASH_LOOP_WINDOW:
                    self._exit(entry, seconds)

    def _interrupt(self, thread: int, entry: Running, seconds: float) -> None:
        log.error(
            "request %s %s still running after %.1fs (timeout %ss): interrupted",
            *_request(entry),
            seconds,
            self.timeout,
        )
        with self._lock:
            self.fired[thread] = entry  # first: a request ending now withdraws what follows
            if self.running.get(thread) is entry:
                set_async_exc(thread, RequestTimeout)
            else:  # it ended meanwhile
                del self.fired[thread]

    def _exit(self, entry: Running, seconds: float) -> None:
        log.error(
            "request %s %s still running after %.1fs, blocked outside Python: "
            "the worker exits to be replaced",
            *_request(entry),
            seconds,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_STUCK)


def _request(entry: Running) -> tuple[str, str]:
    """Method and path (never the query string: codes and tokens travel there)."""
    environ = entry[1]
    return environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-")


def set_async_exc(thread: int, exception: type[BaseException] | None) -> None:
    """Have ``thread`` raise ``exception`` at its next Python instruction; None withdraws
    one not raised yet (a NULL pointer: ctypes passes None as NULL)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), None if exception is None else ctypes.py_object(exception)
    )


def watch_requests(app: WSGIApp) -> WSGIApp:
    """``app`` under the hard request timeout, in this worker process (as is, when off)."""
    timeout = request_timeout()
    return RequestWatchdog(app, timeout) if timeout > 0 else app
