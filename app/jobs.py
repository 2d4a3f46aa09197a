"""Durable background jobs: work a page hands off so that it answers at once and the same
way whatever the work finds (a reset request for an address with or without an account).

:func:`enqueue` writes a ``background_job`` row (its arguments encrypted: they may hold an
address or a sign-up code) in a transaction of its own; the worker (:mod:`app.worker`) runs
it, claiming the row with a conditional UPDATE like the outbox does, so a process killed
right after answering loses nothing and two workers never run one job twice. Only
functions marked with :func:`background_job` can be named by a row.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import importlib
import logging
import typing as t

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import get_database
from app.db import new_id
from app.db import pk
from app.db import session
from app.db import sqlite_write_holder
from app.db import utcnow
from app.security.crypto import decrypt_json
from app.security.crypto import encrypt_json
from app.worker import LEASE
from app.worker import WORKER_ID
from app.worker import claim
from app.worker import claimable
from app.worker import worker_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_SECONDS = 10.0
KEEP_DONE = dt.timedelta(days=1)
BATCH = 20
_MARK = "__foyer_background_job__"
PENDING = "foyer_pending_jobs"
LISTENING = "foyer_pending_jobs_listener"

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
_RUNNING: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "foyer_running_job", default=None
)
"""The job this worker runs now (its id and attempt), for :func:`renew_lease`."""


class LeaseLost(RuntimeError):
    """Another worker took this job over (its lease ran out): stop without writing more."""


class BackgroundJob(Base):
    """One call of a :func:`background_job` function, to run once."""

    __tablename__ = "background_job"
    __table_args__ = (sa.Index("ix_background_job_due", "status", "next_attempt_at"),)

    id: Mapped[pk]
    kind: Mapped[str] = mapped_column(sa.String(200))
    """``module:function`` of a function marked with :func:`background_job`."""
    payload: Mapped[str] = mapped_column(sa.Text)
    """Fernet-encrypted JSON: ``args`` and ``kwargs``."""
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")
    """``queued``, ``running`` (until ``lease_until``), ``done`` or ``dead``."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[created_at]


def background_job(fn: F) -> F:
    """Mark ``fn`` as runnable from a job row (its arguments: ids, strings, numbers)."""
    setattr(fn, _MARK, True)
    return fn


def kind_of(fn: t.Callable[..., t.Any]) -> str:
    if not getattr(fn, _MARK, False):
        raise ValueError(f"{fn.__qualname__} is not marked with @background_job")
    return f"{fn.__module__}:{fn.__qualname__}"


def _resolve(kind: str) -> t.Callable[..., t.Any]:
    module, _, name = kind.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if fn is None or not getattr(fn, _MARK, False):
        raise LookupError(f"no background job {kind!r}")
    return t.cast(t.Callable[..., t.Any], fn)


def enqueue(fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> None:
    """Run ``fn(*args, **kwargs)`` soon, in a worker, whatever happens to this request.

    The row is written in its own short transaction, now or, on SQLite while this request
    holds the one write lock, as soon as the request's transaction ends (committed or not).
    """
    row = {
        "id": new_id(),
        "kind": kind_of(fn),
        "payload": encrypt_json({"args": list(args), "kwargs": kwargs}),
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    }
    main = sqlite_write_holder()
    if main is not None:
        pending: list[dict[str, t.Any]] = main.info.setdefault(PENDING, [])
        if not main.info.get(LISTENING):
            sa.event.listen(main, "after_transaction_end", _write_pending)
            main.info[LISTENING] = True
        pending.append(row)
        return
    _write([row])


INSERT = t.cast(sa.Table, BackgroundJob.__table__).insert()


def _write(rows: list[dict[str, t.Any]]) -> None:
    with get_database().engine.begin() as connection:
        connection.execute(INSERT, rows)
    worker_of(current_app._get_current_object()).kick()  # type: ignore[attr-defined]


def _write_pending(main: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    pending = main.info.pop(PENDING, None)
    if pending:
        try:
            _write(pending)
        except Exception:
            log.exception("could not queue %d background jobs", len(pending))


def renew_lease() -> None:
    """Keep the running job this worker's for another lease, in the caller's transaction
    (a long job calls it with each step it commits).

    :raises LeaseLost: when another worker took the job over; roll back and return.
    """
    running = _RUNNING.get()
    if running is None:
        return
    result = session.execute(
        sa.update(BackgroundJob)
        .where(BackgroundJob.id == running[0], BackgroundJob.claimed_by == WORKER_ID)
        .values(lease_until=utcnow() + LEASE)
        .execution_options(synchronize_session=False)
    )
    if t.cast(sa.CursorResult[t.Any], result).rowcount != 1:
        raise LeaseLost(running[0])


def last_attempt() -> bool:
    """Whether a failure of the running job is final (no retry follows)."""
    running = _RUNNING.get()
    return running is None or running[1] >= MAX_ATTEMPTS


def _claimable(now: dt.datetime) -> sa.ColumnElement[bool]:
    return claimable(BackgroundJob, "running", now)


def _claim(job_id: str, now: dt.datetime) -> bool:
    return claim(BackgroundJob, job_id, "running", now)


def run_due() -> float | None:
    """The worker's drain of jobs: run each due one, oldest first."""
    now = utcnow()
    session.execute(
        sa.delete(BackgroundJob).where(
            BackgroundJob.status.in_(("done", "dead")),
            BackgroundJob.created_at < now - KEEP_DONE,
        )
    )
    session.commit()
    started = now
    for _round in range(50):
        now = utcnow()
        # due when the pass started: what a job queues now (the next slice of a long one)
        # waits for the next pass, after the worker's other queues
        ids = session.scalars(
            sa.select(BackgroundJob.id)
            .where(_claimable(started))
            .order_by(BackgroundJob.created_at)
            .limit(BATCH)
        ).all()
        session.rollback()
        if not ids:
            break
        for job_id in ids:
            if _claim(job_id, now):
                _run(job_id)
    soonest = session.scalar(
        sa.select(sa.func.min(BackgroundJob.next_attempt_at)).where(
            BackgroundJob.status == "queued"
        )
    )
    session.rollback()
    return None if soonest is None else max(0.0, (soonest - utcnow()).total_seconds())


def _run(job_id: str) -> None:
    job = session.get(BackgroundJob, job_id, populate_existing=True)
    if job is None or job.claimed_by != WORKER_ID:
        session.rollback()
        return
    kind, payload, attempts = job.kind, job.payload, job.attempts + 1
    session.rollback()
    values: dict[str, t.Any] = {"attempts": attempts, "lease_until": None}
    running = _RUNNING.set((job_id, attempts))
    try:
        fn = _resolve(kind)
        data = decrypt_json(payload)
        fn(*data.get("args", []), **data.get("kwargs", {}))
        values.update(status="done", payload="", last_error=None)
    except LeaseLost:
        session.rollback()
        log.warning("background job %s was taken over by another worker", kind)
        return
    except Exception as exc:
        session.rollback()
        log.exception("background job %s failed", kind)
        values["last_error"] = type(exc).__name__[:255]
        if attempts >= MAX_ATTEMPTS or isinstance(exc, LookupError):
            values["status"] = "dead"
        else:
            values["status"] = "queued"
            values["next_attempt_at"] = utcnow() + dt.timedelta(
                seconds=RETRY_SECONDS * 2 ** (attempts - 1)
            )
    finally:
        _RUNNING.reset(running)
    session.execute(
        sa.update(BackgroundJob)
        .where(BackgroundJob.id == job_id, BackgroundJob.claimed_by == WORKER_ID)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
