"""Durable background jobs: only marked functions, claimed once, retried, then given up."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import jobs
from app.db import session
from app.db import utcnow
from app.worker import worker_of

CALLS: list[tuple[str, int]] = []


@jobs.background_job
def remember(word: str, times: int = 1) -> None:
    CALLS.append((word, times))


@jobs.background_job
def explode() -> None:
    raise RuntimeError("boom")


def not_a_job() -> None:
    pass


def rows() -> list[jobs.BackgroundJob]:
    session.expire_all()
    found = list(session.scalars(sa.select(jobs.BackgroundJob)))
    session.rollback()
    return found


@pytest.fixture
def quiet_worker(foyer_app):
    worker_of(foyer_app).autostart = False  # the test runs the drain itself


def test_a_job_runs_once_with_its_arguments(foyer_app, quiet_worker):
    CALLS.clear()
    jobs.enqueue(remember, "hello", times=2)
    (row,) = rows()
    assert row.status == "queued" and "hello" not in row.payload  # encrypted
    assert jobs._claim(row.id, utcnow())
    assert not jobs._claim(row.id, utcnow())  # another worker finds it taken
    session.execute(sa.update(jobs.BackgroundJob).values(status="queued"))
    session.commit()
    jobs.run_due()
    jobs.run_due()
    assert CALLS == [("hello", 2)]
    assert rows()[0].status == "done"


def test_a_failing_job_is_retried_then_given_up(foyer_app, quiet_worker):
    jobs.enqueue(explode)
    for _ in range(jobs.MAX_ATTEMPTS):
        session.execute(sa.update(jobs.BackgroundJob).values(next_attempt_at=utcnow()))
        session.commit()
        jobs.run_due()
    (row,) = rows()
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, "RuntimeError")


def test_only_marked_functions_can_be_queued_or_run(foyer_app, quiet_worker):
    with pytest.raises(ValueError, match="background_job"):
        jobs.enqueue(not_a_job)
    with pytest.raises(LookupError):
        jobs._resolve("tests.test_jobs:not_a_job")
    with pytest.raises(LookupError):
        jobs._resolve("os:system")
