"""A PostgreSQL of the test's own, which the test stops and starts (database faults), and
``foyer run`` started for real (one server's master per call, on free loopback ports;
``FOYER_SERVER`` picks the server)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on a free loopback port in a folder of its own.

    PostgreSQL refuses to run as root: as root the commands run as the ``postgres`` user.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="foyer-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def private_postgres() -> t.Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("the PostgreSQL server (initdb, pg_ctl) is not installed")
    server = PrivatePostgres(Path(found[-1]).parent)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def private_database_url(private_postgres: PrivatePostgres) -> str:
    """A migrated database on the private server."""
    # test start-up: migrate pulls in Alembic
    from app.db import Database
    from app.migrate import upgrade

    admin = sa.create_engine(private_postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('CREATE DATABASE "foyer"'))
    admin.dispose()
    url = private_postgres.url.rsplit("/", 1)[0] + "/foyer"
    database = Database(url)
    upgrade(database)
    database.dispose()
    return url


class FoyerRun:
    """``foyer run`` on a free port (the process becomes the server's master), in a folder of
    its own (its log; its instance folder unless the settings name one)."""

    def __init__(self, workdir: Path, env: dict[str, str], workers: int = 2) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.metrics_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "foyer.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from app.cli import main; main()", "run"]
                + ["--port", str(self.port), "--workers", str(workers)],
                env={
                    **os.environ,
                    # the test's own path after Foyer's (a granian installed beside it)
                    "PYTHONPATH": os.pathsep.join(
                        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
                    ),
                    "FOYER_METRICS_ADDRESS": f"127.0.0.1:{self.metrics_port}",
                    **env,
                },
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_up(self) -> FoyerRun:
        deadline = time.monotonic() + 180  # a busy machine boots a worker slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_path.read_text())
            try:
                if requests.get(f"{self.base}/health/live", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or a worker still booting
                time.sleep(0.2)
        raise RuntimeError(f"foyer run did not start:\n{self.log_path.read_text()}")

    def workers(self) -> set[int]:
        """The pids of the serving processes (the master's children)."""
        found: set[int] = set()
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                found |= {int(pid) for pid in (task / "children").read_text().split()}
            except OSError:
                continue
        return found

    def log_lines(self) -> list[dict[str, t.Any]]:
        """Every line of the log, each parsed as JSON (fails on any other line)."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def node_settings(foyer_app: t.Any) -> dict[str, str]:
    """The test app's settings as the environment of a process serving the same deployment
    (its database, Redis, secret and encryption keys)."""
    settings = foyer_app.extensions["foyer.settings"]
    return {
        "FOYER_INSTANCE_PATH": settings.instance_path,
        "FOYER_DATABASE_URL": settings.database_url,
        "FOYER_REDIS_URL": settings.redis_url,
        "FOYER_SECRET_KEY": settings.secret_key,
        "FOYER_ENCRYPTION_KEYS": settings.encryption_keys,
        "FOYER_PLUGINS_DIR": settings.plugins_dir,
        "FOYER_SECURE_COOKIES": "false",
        "FOYER_TRUSTED_PROXIES": "1",
        "FOYER_ARGON2_TIME_COST": "1",
        "FOYER_ARGON2_MEMORY_COST": "8",
    }


@pytest.fixture
def foyer_run(tmp_path: Path, foyer_app: t.Any) -> t.Iterator[t.Callable[..., FoyerRun]]:
    """``foyer_run(**env)``: start ``foyer run --workers 2`` on the test's deployment and
    wait until it serves; ``foyer_run.start(folder, workers, **env)`` starts without waiting
    (several at once)."""
    started: list[FoyerRun] = []

    def start(workdir: Path, workers: int = 2, **env: str) -> FoyerRun:
        server = FoyerRun(workdir, {**node_settings(foyer_app), **env}, workers)
        started.append(server)
        return server

    def start_and_wait(**env: str) -> FoyerRun:
        return start(tmp_path, **env).wait_until_up()

    start_and_wait.start = start  # type: ignore[attr-defined]
    yield start_and_wait
    for server in started:
        server.stop()
