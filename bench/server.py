"""The server under test: a process tree whose CPU time and peak memory are read from /proc.

"Requests per busy server core" divides the requests served by the CPU seconds the server's
processes spent serving them (user + system time from ``/proc/<pid>/stat``), so the figure
does not depend on how much of the machine the load generator itself takes.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import typing as t
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from app.servers import granian_argv
from app.servers import gunicorn_argv
from app.servers import metrics_env

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Children, their children and so on (granian's workers are its master's children)."""
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) since start or since :func:`reset_peak_rss`."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak_rss(pid: int) -> None:
    """Start a new VmHWM window (Linux: ``5`` to clear_refs), so each scenario has its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


class Server:
    """A started server: a master process and the workers that serve requests."""

    name = "server"

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.database_cpu: t.Callable[[], float] | None = None
        """CPU seconds of the database server's processes serving this server (PostgreSQL
        backends), added to the server's own."""

    def serving_pids(self) -> list[int]:
        """The processes that serve requests (gunicorn's workers; node itself)."""
        return children(self.process.pid) or [self.process.pid]

    def all_pids(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)]

    def cpu(self) -> float:
        own = sum(cpu_seconds(pid) for pid in self.all_pids())
        return own + (self.database_cpu() if self.database_cpu else 0.0)

    def reset_peaks(self) -> None:
        for pid in self.serving_pids():
            reset_peak_rss(pid)

    def peak_rss(self) -> float:
        """The largest peak RSS of one serving process, in MiB."""
        return max((peak_rss_mib(pid) for pid in self.serving_pids()), default=0.0)

    def wait_until_up(self, url: str, host: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-4000:]}")
            try:
                request = urllib.request.Request(url, headers={"Host": host})
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


SERVERS = {
    "sync": "gunicorn, sync workers (one request at a time, no keep-alive)",
    "gthread": "gunicorn, gthread workers (4 threads, keep-alive)",
    "granian": "granian, WSGI workers (keep-alive), as foyer run starts it",
}
"""The servers the bench can put Foyer behind (``--servers``)."""

KEEPALIVE = {"sync": False, "gthread": True, "granian": True}

GRANIAN_PATH = Path.home() / ".cache" / "foyer-bench" / "granian-lib"
"""Where the bench finds granian when Foyer's environment lacks it
(``pip install --target ~/.cache/foyer-bench/granian-lib granian``)."""


def granian_available() -> str | None:
    """Why granian cannot run here, or None when it can."""
    if importlib.util.find_spec("granian") is not None or (GRANIAN_PATH / "granian").is_dir():
        return None
    return f"granian is not installed (pip install --target {GRANIAN_PATH} granian)"


def foyer_argv(kind: str, workers: int, port: int) -> list[str]:
    """The command line of Foyer served by ``kind``, as ``foyer run --server`` starts it
    (gunicorn's gthread workers are the bench's own variant)."""
    if kind == "granian":
        return granian_argv("app.wsgi:app", "127.0.0.1", port, workers)
    threads = ["--threads", "4"] if kind == "gthread" else []
    extra = ["--worker-class", kind, *threads, "--timeout", "120", "--backlog", "2048"]
    return gunicorn_argv("app.wsgi:app", "127.0.0.1", port, workers, extra)


def start_foyer(
    env: t.Mapping[str, str], workers: int, port: int, workdir: Path, kind: str = "sync"
) -> Server:
    """Foyer behind ``kind`` (gunicorn sync workers by default, as ``foyer run`` starts it)."""
    log = workdir / f"{kind}-{port}.log"
    env = metrics_env(env)
    if kind == "granian" and importlib.util.find_spec("granian") is None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(GRANIAN_PATH), env.get("PYTHONPATH", "")) if p
        )
    process = subprocess.Popen(
        foyer_argv(kind, workers, port),
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port, log)
    server.name = f"foyer ({kind})"
    return server


def postgres_backends_cpu(url: str) -> t.Callable[[], float]:
    """CPU seconds of the PostgreSQL backends serving database ``url`` (read from /proc:
    the server must run on this machine).

    The backends are found in ``pg_stat_activity``; a backend that exits between two reads
    takes its CPU with it (Foyer's connection pools keep theirs open), so the figure may
    fall short, never over.
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    name = sa.make_url(url).database
    seen: dict[int, float] = {}

    def read() -> float:
        with engine.connect() as connection:
            pids = connection.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ),
                {"name": name},
            ).scalars()
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds:
                    seen[pid] = seconds
        return sum(seen.values())

    return read


def wait_for_workers(server: Server, count: int, timeout: float = 60) -> None:
    """gunicorn forks its workers after the master is up; wait until all of them answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(children(server.process.pid)) >= count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: fewer than {count} workers started")
