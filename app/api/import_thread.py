"""The thread that runs bulk imports, one at a time, in an app context of their own.

An import can take minutes: it runs beside the durable worker (:mod:`app.worker`), which
keeps sending mail meanwhile, not in it. A process that stops mid-import leaves the job
``running``; its rows so far are kept.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import typing as t

from flask import Flask

from app.db import session

log = logging.getLogger(__name__)


class ImportThread:
    """A thread pool whose jobs run in order inside an app context."""

    def __init__(self, app: Flask, name: str = "foyer-imports") -> None:
        self.app = app
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=name
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
                log.exception("import job %s failed", getattr(fn, "__name__", fn))
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
