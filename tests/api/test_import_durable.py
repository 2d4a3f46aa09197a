"""Import jobs are durable: a ``foyer worker`` killed mid-import leaves the job to the next
worker, which goes on from the last committed batch; every row is imported, refused and
recorded exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.api.models import ImportJob
from app.db import session
from app.db import utcnow
from app.events.models import Event
from app.jobs import BackgroundJob
from app.worker import worker_of
from tests.api.world import api_token

FOYER = "from app.cli import main; main()"
GATE_PLUGIN = '''
"""Holds the import at one row while a gate file exists (a worker to kill mid-job)."""
import os
import pathlib
import time

from app import hookimpl


@hookimpl
def prepare_user(user, connection, organization):
    gate = pathlib.Path(os.environ["IMPORT_GATE"])
    if user.email == "gate@import.example" and gate.exists():
        gate.with_suffix(".reached").touch()
        while gate.exists():
            time.sleep(0.05)
'''
ROWS = 2600
GATE_ROW = 2100
"""In the third batch of 1,000: the first worker commits two batches, then waits there."""


def rows() -> list[dict[str, t.Any]]:
    made: list[dict[str, t.Any]] = []
    for n in range(1, ROWS + 1):
        if n == GATE_ROW:
            made.append({"email": "gate@import.example", "name": "Gate"})
        elif n % 50 == 0:
            made.append({"email": f"not an address {n}"})
        elif n % 77 == 0:
            made.append({"email": "USER1@import.example"})  # repeats row 1
        else:
            made.append({"email": f"user{n}@import.example", "name": f"User {n}"})
    return made


def expected_failures() -> list[int]:
    return [n for n in range(1, ROWS + 1) if n != GATE_ROW and (n % 50 == 0 or n % 77 == 0)]


@pytest.fixture
def env(foyer_app, foyer_config, tmp_path) -> dict[str, str]:
    """A separate ``foyer worker`` process on the test's database, with the gate plugin."""
    plugins = tmp_path / "worker-plugins"
    plugins.mkdir()
    (plugins / "import_gate.py").write_text(GATE_PLUGIN)
    return {
        **os.environ,
        "PYTHONPATH": os.getcwd(),
        "FOYER_INSTANCE_PATH": foyer_config["instance_path"],
        "FOYER_DATABASE_URL": foyer_config["database_url"],
        "FOYER_PLUGINS_DIR": str(plugins),
        "FOYER_REDIS_URL": foyer_config["redis_url"],
        "IMPORT_GATE": str(tmp_path / "gate"),
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", FOYER, "worker", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def job_row(job_id: str) -> ImportJob:
    session.expire_all()
    job = session.get(ImportJob, job_id)
    session.rollback()
    assert job is not None
    return job


def wait_for(condition: t.Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker ended: {process.communicate()[0]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the worker never got there: {process.communicate()[0]}")
        time.sleep(0.1)


def test_an_import_survives_a_killed_worker_and_completes_exactly_once(
    client, tenant, foyer_app, env
):
    worker_of(foyer_app).autostart = False  # this process only answers; workers import
    worker_of(foyer_app).stop()
    gate = Path(env["IMPORT_GATE"])
    gate.touch()
    headers = {"Authorization": f"Bearer {api_token(client, tenant)}"}
    started = client.post(
        "/api/v1/users/imports", json={"connection": "users", "users": rows()}, headers=headers
    )
    assert started.status_code == 202, started.get_json()
    job_id = started.get_json()["id"]

    first = start_worker(env)
    wait_for(lambda: gate.with_suffix(".reached").exists(), first)
    first.send_signal(signal.SIGKILL)  # no clean-up, nothing flushed
    first.communicate()
    halfway = job_row(job_id)
    second_batch_ends = [n for n in range(1, ROWS + 1) if n not in expected_failures()][1999]
    assert halfway.status == "running"
    assert halfway.through == halfway.processed == second_batch_ends < GATE_ROW
    gate.unlink()
    # the dead worker's lease runs out (five minutes; here at once)
    session.execute(sa.update(BackgroundJob).values(lease_until=utcnow()))
    session.commit()

    second = start_worker(env)
    try:
        wait_for(lambda: job_row(job_id).status in ("done", "failed"), second)
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=60)[0]
    assert second.returncode == 0, output

    done = job_row(job_id)
    polled = client.get(started.headers["Location"], headers=headers).get_json()
    assert (polled["status"], polled["imported"]) == ("done", done.imported)
    failures = expected_failures()
    valid = ROWS - len(failures)
    assert done.status == "done", done.error
    assert (done.processed, done.imported, done.skipped, done.failed) == (
        ROWS,
        valid,
        0,
        len(failures),
    )
    assert [e["row"] for e in done.errors] == failures
    assert done.payload is None  # the rows and their hashes are not kept after the job
    users = session.scalar(sa.select(sa.func.count()).where(User.email.like("%@import.example")))
    created = session.scalars(
        sa.select(Event.user_id).where(Event.type == "user_created", Event.tenant_id == tenant.id)
    ).all()
    assert users == valid
    assert len(created) == len(set(created)) == valid
    jobs = session.scalars(sa.select(BackgroundJob.status)).all()
    assert set(jobs) == {"done"}
