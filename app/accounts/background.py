"""Work done after the answer: looking up accounts and sending their emails off the request.

Pages that take an email address (reset request, sign-up, resend verification) must answer
the same way, in the same time, whether or not an account exists. So the request only
validates the form and hands the address to a durable background job (:mod:`app.jobs`, a
row written at once); the worker finds the account, issues the token and puts the email in
the outbox (:mod:`app.mail.outbox`), in its own app context and database session. Nothing
of it lives only in one process's memory: a process killed right after answering loses
nothing.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import typing as t

from flask import Flask
from flask import current_app

from app.db import session
from app.jobs import background_job
from app.jobs import enqueue
from app.worker import EXTENSION as WORKER
from app.worker import Worker

log = logging.getLogger(__name__)

__all__ = [
    "BackgroundWork",
    "background_job",
    "later",
    "shutdown_background",
    "wait_for_background",
]


class BackgroundWork:
    """A worker thread of this process whose jobs run one at a time, in order, inside an
    app context: for long work that records its own progress in the database (user
    imports), where a durable job row per call would add nothing.
    """

    def __init__(self, app: Flask, workers: int = 1, name: str = "foyer-accounts") -> None:
        self.app = app
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name
        )
        self.pending: set[concurrent.futures.Future[None]] = set()
        self.lock = threading.Lock()

    def submit(self, fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> None:
        future = self.executor.submit(self._run, fn, args, kwargs)
        with self.lock:
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future[None]) -> None:
        with self.lock:
            self.pending.discard(future)

    def _run(
        self, fn: t.Callable[..., t.Any], args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
    ) -> None:
        with self.app.app_context():
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("background job %s failed", getattr(fn, "__name__", fn))
                session.rollback()

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for every queued job (tests, commands); True when none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                pending = set(self.pending)
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            concurrent.futures.wait(pending, timeout=left)


def later(fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> None:
    """Run ``fn(*args, **kwargs)`` after this request, in a worker. ``fn`` is marked with
    :func:`background_job`; pass ids and strings, never database objects (the worker has
    its own session, maybe in another process)."""
    enqueue(fn, *args, **kwargs)


def shutdown_background(app: Flask, timeout: float = 60.0) -> None:
    """Finish the queued jobs (tests, before their app goes); the worker stops after."""
    wait_for_background(app, timeout)


def wait_for_background(app: Flask | None = None, timeout: float = 30.0) -> bool:
    """Wait until the worker ran the queued jobs and sent the emails they queued."""
    target = app or current_app
    worker = target.extensions.get(WORKER)
    return True if worker is None else t.cast(Worker, worker).wait(timeout)
