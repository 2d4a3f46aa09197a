"""A PostgreSQL of the test's own, which the test stops and starts (database faults)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa


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
