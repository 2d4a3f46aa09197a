"""The server under test: a process tree whose CPU time and peak memory are read from /proc.

"Requests per busy server core" divides the requests served by the CPU seconds the server's
processes spent serving them (user + system time from ``/proc/<pid>/stat``), so the figure
does not depend on how much of the machine the load generator itself takes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import typing as t
import urllib.request
from pathlib import Path

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

    def serving_pids(self) -> list[int]:
        """The processes that serve requests (gunicorn's workers; node itself)."""
        return children(self.process.pid) or [self.process.pid]

    def all_pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.all_pids())

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


def start_foyer(env: t.Mapping[str, str], workers: int, port: int, workdir: Path) -> Server:
    """gunicorn with ``workers`` sync workers, as ``foyer run`` starts it."""
    log = workdir / f"gunicorn-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--timeout",
            "120",
            "--backlog",
            "2048",
            "app.wsgi:app",
        ],
        env=dict(env),
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port, log)
    server.name = "foyer"
    return server


def wait_for_workers(server: Server, count: int, timeout: float = 60) -> None:
    """gunicorn forks its workers after the master is up; wait until all of them answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(children(server.process.pid)) >= count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: fewer than {count} workers started")
