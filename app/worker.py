"""The background worker: one thread (or the ``foyer worker`` process) that drains the
durable queues kept in the database, the outgoing mail and the logout tokens owed to
applications.

Each queue registers a *drain*: a function that sends what is due, claiming each row with a
conditional UPDATE (so two workers, in one process or on two hosts, never send one row
twice), and returns the seconds until its next row is due (None: nothing is waiting). The
worker runs the drains when kicked (a request committed new rows), when a row falls due,
and every ``poll`` seconds (rows left by a process that stopped, or queued by another host).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import typing as t

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.db import new_id
from app.db import session

log = logging.getLogger(__name__)

EXTENSION = "foyer.worker"
LEASE = dt.timedelta(minutes=5)
"""How long a claimed row is this worker's; a row still held after it is taken over."""
WORKER_ID = new_id()
"""This process's worker, in ``claimed_by``."""
Drain = t.Callable[[], "float | None"]
"""Sends what is due (inside an app context); returns seconds until the next row is due."""


class Worker:
    """The app's drains and the thread that runs them."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.drains: dict[str, Drain] = {}
        self.poll: float | None = None
        self.lock = threading.Condition()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.kicks = 0
        self.done = 0
        self.busy = False
        self.due_in: float | None = None
        self.autostart = True
        """Whether a kick starts the thread (``FOYER_WORKER_IN_PROCESS``); when not, rows wait
        for a ``foyer worker`` process."""

    def add(self, name: str, drain: Drain) -> None:
        self.drains[name] = drain

    def start(self, poll: float | None = None) -> None:
        """Start the thread; with ``poll``, it also looks for due rows that often."""
        with self.lock:
            if poll is not None:
                self.poll = poll
            if self.thread is None or not self.thread.is_alive():
                self.stopping = False
                self.thread = threading.Thread(target=self._loop, name="foyer-worker", daemon=True)
                self.thread.start()
        self.kick()

    def kick(self) -> None:
        """Run the drains soon (new rows were committed); starts the thread if needed."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                if self.stopping or not self.autostart:
                    return
                self.kicks += 1
                self.thread = threading.Thread(target=self._loop, name="foyer-worker", daemon=True)
                self.thread.start()
            else:
                self.kicks += 1
        self.wake.set()

    def run_once(self) -> float | None:
        """Run every drain once, in an app context; the seconds until the next due row."""
        soonest: float | None = None
        for name, drain in list(self.drains.items()):
            with self.app.app_context():
                try:
                    due = drain()
                except Exception:
                    log.exception("the %s queue could not be drained", name)
                    session.rollback()
                    due = 5.0
            if due is not None:
                soonest = due if soonest is None else min(soonest, due)
        return soonest

    def _loop(self) -> None:
        timeout: float | None = 0.0
        while True:
            self.wake.wait(timeout)
            self.wake.clear()
            with self.lock:
                if self.stopping:
                    return
                kicks = self.kicks
                self.busy = True
            try:
                due = self.run_once()
            finally:
                with self.lock:
                    self.busy = False
                    self.done = max(self.done, kicks)
                    self.due_in = due
                    self.lock.notify_all()
            waits = [w for w in (due, self.poll) if w is not None]
            timeout = max(0.05, min(waits)) if waits else None

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every kick so far was handled and nothing is due now (tests)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while (
                self.busy
                or self.done < self.kicks
                or (self.due_in is not None and self.due_in <= 0.05 and self.thread is not None)
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if not self.busy and self.done >= self.kicks:
                    self.kicks += 1  # something is due now: make sure a pass runs for it
                    self.wake.set()
                self.lock.wait(min(left, 0.1))
            return True

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the running pass and end the thread."""
        with self.lock:
            self.stopping = True
            thread = self.thread
        self.wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def serve(self, poll: float, stop: threading.Event, once: bool = False) -> None:
        """Run the drains in this thread until ``stop`` is set (``foyer worker``)."""
        while not stop.is_set():
            due = self.run_once()
            if once and (due is None or due > 0):
                return
            waits = [w for w in (due, poll) if w is not None]
            stop.wait(max(0.05, min(waits)) if waits else poll)


_DUE = "foyer_worker_due"
"""``Session.info`` flag: this unit of work queued rows; kick the worker once it commits."""


def init_worker(app: Flask) -> Worker:
    """The app's worker (its thread starts with the first kick, or :meth:`Worker.start`),
    kicked by the commit of every unit of work that queued rows."""
    if EXTENSION in app.extensions:
        return t.cast(Worker, app.extensions[EXTENSION])
    worker = Worker(app)
    worker.autostart = bool(app.extensions["foyer.settings"].worker_in_process)
    app.extensions[EXTENSION] = worker
    maker = app.extensions["foyer.db"].sessionmaker

    def after_commit(unit: Session) -> None:
        if unit.info.pop(_DUE, False):
            current = app.extensions.get(EXTENSION)
            if current is not None:
                t.cast(Worker, current).kick()

    def after_rollback(unit: Session) -> None:
        unit.info.pop(_DUE, None)

    sa.event.listen(maker, "after_commit", after_commit)
    sa.event.listen(maker, "after_rollback", after_rollback)
    return worker


def kick_after_commit(unit: Session) -> None:
    """Have the worker look at the queues once ``unit`` commits (rows were added)."""
    unit.info[_DUE] = True


def worker_of(app: Flask) -> Worker:
    return init_worker(app)


def shutdown_worker(app: Flask, timeout: float = 60.0) -> None:
    """Let the queued work finish, then stop the thread (tests, before their app goes)."""
    worker = app.extensions.pop(EXTENSION, None)
    if worker is not None:
        t.cast(Worker, worker).wait(timeout)
        t.cast(Worker, worker).stop(timeout)


def claimable(model: t.Any, busy: str, now: dt.datetime) -> sa.ColumnElement[bool]:
    """Rows of a queue table due now: queued and due, or ``busy`` with an expired lease."""
    return sa.or_(
        sa.and_(model.status == "queued", model.next_attempt_at <= now),
        sa.and_(model.status == busy, model.lease_until < now),
    )


def claim(model: t.Any, row_id: str, busy: str, now: dt.datetime) -> bool:
    """Take one row for this worker with a conditional UPDATE (commits); False when another
    worker, in this process or on another host, has it."""
    result = session.execute(
        sa.update(model)
        .where(model.id == row_id, claimable(model, busy, now))
        .values(status=busy, lease_until=now + LEASE, claimed_by=WORKER_ID)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return t.cast(sa.CursorResult[t.Any], result).rowcount == 1
