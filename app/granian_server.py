"""Serving Foyer with granian (``foyer run --server granian``): ``python -m
app.granian_server TARGET HOST PORT WORKERS``, the process ``foyer run`` becomes.

This process is granian's master: it forks the workers, restarts one that crashes (a
crash loop, the same worker failing again within seconds of its restart, stops the
server), replaces them one by one on ``SIGHUP``, and on ``SIGTERM`` or ``SIGINT`` lets
each finish its requests (at most :data:`STOP_GRACE` seconds) before it exits; a worker
whose request is stuck past the hard timeout exits to be replaced
(:mod:`app.request_watchdog`). It does what gunicorn's hooks do under gunicorn
(:mod:`app.gunicorn_conf`): it empties the metrics folder on start, serves the internal
``/metrics`` listener, drops the live gauges of workers that exited
(:func:`reap_exited_workers`) and removes the folder on exit; granian's own lines are in
Foyer's log format.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
import socket
import sys
import threading
import typing as t
from pathlib import Path

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.net import SocketSpec
from granian.server import Server

from app.observability import metrics
from app.request_watchdog import watch_requests
from app.servers import empty_metrics_folder
from app.servers import log_config
from app.servers import remove_metrics_folder
from app.servers import serve_metrics

BLOCKING_THREADS = 1
"""Python threads serving requests in each worker: one, as a gunicorn sync worker. Requests
hold the GIL for all but their round trips, so more threads add memory, not throughput
(granian's default, half its backpressure, is 256 with two workers: 60 MiB more per
worker under the bench's load; a second thread alone adds about 20 MiB at the peak)."""

MALLOC_ARENAS = 1
"""glibc's malloc arenas per process unless ``MALLOC_ARENA_MAX`` says otherwise: granian's
own threads would otherwise each grow an arena of their own (up to 8 per core); 20 MiB
less per worker under the bench's load, at no measured CPU cost."""
STOP_GRACE = 30
"""Seconds a worker has to finish its requests on stop or reload before it is killed
(gunicorn's graceful timeout)."""

DEFER_ACCEPT = 5
"""Seconds a new connection may stay silent before it is handed to a worker anyway (a
client that connects and waits to be spoken to; no HTTP client does)."""

REAP_EVERY = 2.0
"""Seconds between two looks for exited workers' metric files."""

log = logging.getLogger("foyer.server")


def is_worker(pid: int) -> bool:
    """Whether ``pid`` is a running child of this process (a pid reused by another
    process is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0] != "Z" and int(fields[1]) == os.getpid()


def reap_exited_workers() -> None:
    """Mark dead every process that wrote live gauges and is no worker of ours any more
    (gunicorn's ``child_exit``; granian tells its parent nothing)."""
    folder = metrics.multiprocess_dir()
    if folder is None:
        return
    pids = {int(f.stem.rsplit("_", 1)[1]) for f in Path(folder).glob("gauge_live*_*.db")}
    for pid in pids - {os.getpid()}:
        if not is_worker(pid):
            metrics.process_exited(pid)


def _reap_forever(stop: threading.Event) -> None:
    while not stop.wait(REAP_EVERY):
        reap_exited_workers()


class SharedSocketServer(Server):
    """granian's master, with one listening socket that every worker accepts from (as
    gunicorn's).

    On Linux granian gives each worker a socket of its own (``SO_REUSEPORT``): connections
    queued at a worker that exits are reset, and while workers are replaced (``SIGHUP``,
    a crash) and the new ones still boot, new connections are refused. On one shared socket
    they wait in its backlog for the next worker instead. This is the path granian takes
    on the other platforms.

    A stopping worker closes each connection it holds that has not sent a request yet
    (hyper's graceful shutdown), and one it accepted an instant before it stopped is
    such a connection when its request is still on the way: the client sees the connection
    closed without an answer (8 and 6 of some 17,000 requests in two runs of 16 worker
    replacements each on a loaded machine). The kernel therefore hands a worker a
    connection only once its first bytes arrived (``TCP_DEFER_ACCEPT``, nginx's
    ``deferred``): none lost in four such runs.
    """

    def _init_shared_socket(self) -> None:
        self._shd = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
        self._sfd = self._shd.get_fd()
        self._ssp = None
        self._sso = socket.socket(fileno=self._sfd)
        self._sso.set_inheritable(True)
        if hasattr(socket, "TCP_DEFER_ACCEPT"):  # Linux
            self._sso.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def load_in_worker(target: str) -> t.Any:
    """The app ``target`` names, loaded in a new worker, which first stops acting as its
    master.

    A forked worker inherits the master's signal handlers until granian installs its own,
    once the app is loaded: a ``SIGTERM`` that arrives while it boots would only set a flag
    in the master's copy, and the worker would go on to serve, an orphan. The default
    handler ends a booting worker (it holds no request yet); and the kernel sends the worker
    ``SIGTERM`` should its master die without stopping it. The app runs under the hard
    request timeout (:mod:`app.request_watchdog`, gunicorn's ``--timeout``).
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads are the master's to decide
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != MASTER_PID:  # it died before prctl
            os._exit(1)
    module, _, name = target.partition(":")
    return watch_requests(getattr(importlib.import_module(module), name))


MASTER_PID = os.getpid()
"""The master's pid, as the workers it forks inherit it."""


def build(target: str, host: str, port: int, workers: int) -> Server:
    """granian's master for ``target``, with Foyer's start and shutdown hooks."""
    level = os.environ.get("FOYER_LOG_LEVEL", "INFO").lower()
    server = SharedSocketServer(
        target,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=BLOCKING_THREADS,
        websockets=False,
        log_level=LogLevels(level if level in LogLevels.__members__ else "info"),
        # granian's lines; its access line stays off (Foyer logs each request itself)
        log_dictconfig=log_config({"_granian": "on", "granian.access": "off"}),
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_GRACE,
    )
    stop = threading.Event()

    def starting() -> None:
        empty_metrics_folder()
        if address := serve_metrics():
            log.info("metrics served on http://%s/metrics", address)
        threading.Thread(target=_reap_forever, args=(stop,), daemon=True).start()

    def stopped() -> None:
        stop.set()
        remove_metrics_folder()

    server.on_startup(starting)
    server.on_shutdown(stopped)
    return server


def main(argv: list[str]) -> None:
    if "MALLOC_ARENA_MAX" not in os.environ:
        # glibc reads it once, as the process starts (mallopt later does not hold for the
        # threads the workers start): start again with it, once
        os.environ["MALLOC_ARENA_MAX"] = str(MALLOC_ARENAS)
        os.execv(sys.executable, [sys.executable, "-m", "app.granian_server", *argv])
    target, host, port, workers = argv
    build(target, host, int(port), int(workers)).serve(target_loader=load_in_worker)


if __name__ == "__main__":
    main(sys.argv[1:])
