"""Starting the server of ``foyer run`` and ``foyer demo``: gunicorn or granian.

Both get the same environment (:func:`metrics_env`: metrics of every worker added up, an
internal metrics listener when configured) and their own lines in Foyer's log format
(:func:`log_config`). gunicorn runs with :mod:`app.gunicorn_conf` and no control socket:
gunicorn's default is one fixed path in the home folder, which two servers on one machine
would fight over. granian runs from :mod:`app.granian_server`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import typing as t
from pathlib import Path

from prometheus_client import start_http_server

from app.observability import metrics
from app.observability.logs import NOISY_AT_INFO
from app.observability.metrics import MULTIPROCESS_ENV

OWNED_DIR_ENV = "FOYER_METRICS_DIR_OWNED"
"""Set when Foyer made the metrics folder itself, so the server removes it on exit."""

SERVERS = ("granian", "gunicorn")
"""What ``foyer run --server`` (``FOYER_SERVER``) accepts."""


def gunicorn_argv(
    target: str, host: str, port: int, workers: int, extra: t.Sequence[str] = ()
) -> list[str]:
    """The command line of a gunicorn serving ``target`` on ``host:port``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:app.gunicorn_conf",
        "--no-control-socket",
        "--workers",
        str(workers),
        "--bind",
        f"{host}:{port}",
        *extra,
        target,
    ]


def granian_argv(target: str, host: str, port: int, workers: int) -> list[str]:
    """The command line of granian serving ``target`` on ``host:port`` (see
    :mod:`app.granian_server`)."""
    return [sys.executable, "-m", "app.granian_server", target, host, str(port), str(workers)]


def server_argv(server: str, target: str, host: str, port: int, workers: int) -> list[str]:
    if server == "granian":
        return granian_argv(target, host, port, workers)
    return gunicorn_argv(target, host, port, workers)


def metrics_env(env: t.Mapping[str, str], metrics_address: str = "") -> dict[str, str]:
    """``env`` with a fresh multiprocess metrics folder (unless the operator named one) and
    the internal metrics listener's address."""
    result = dict(env)
    if not result.get(MULTIPROCESS_ENV):
        result[MULTIPROCESS_ENV] = tempfile.mkdtemp(prefix="foyer-metrics-")
        result[OWNED_DIR_ENV] = "1"
    if metrics_address:
        result["FOYER_METRICS_ADDRESS"] = metrics_address
    return result


def empty_metrics_folder() -> None:
    """On the master's start: values of an earlier run must not add up with this one's."""
    folder = metrics.multiprocess_dir()
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def serve_metrics() -> str:
    """The master's internal ``/metrics`` listener on ``FOYER_METRICS_ADDRESS`` (every
    worker's values added up), when set; its address, or ``""``."""
    address = os.environ.get("FOYER_METRICS_ADDRESS", "")
    if address:
        host, _, port = address.rpartition(":")
        start_http_server(int(port), host.strip("[]") or "127.0.0.1", metrics.collector_registry())
    return address


def remove_metrics_folder() -> None:
    """On the master's exit, the folder Foyer made (never one the operator named)."""
    folder = metrics.multiprocess_dir()
    if folder is not None and os.environ.get(OWNED_DIR_ENV):
        shutil.rmtree(folder, ignore_errors=True)


def log_config(server_loggers: t.Mapping[str, str]) -> dict[str, t.Any]:
    """A ``logging.config.dictConfig`` for the server's own lines (start, workers booting
    and exiting) in Foyer's format (``FOYER_LOG_FORMAT``, ``FOYER_LOG_LEVEL``).

    ``server_loggers`` maps each of the server's loggers to ``"on"`` (from the level up) or
    ``"off"``: the access log is off, since Foyer logs each request itself, without the
    query string a server's access line would carry (codes, tokens in URLs).
    """
    level = os.environ.get("FOYER_LOG_LEVEL", "INFO").upper()
    text = os.environ.get("FOYER_LOG_FORMAT", "json") == "text"
    formatter = "TextFormatter" if text else "JsonFormatter"
    loggers: dict[str, dict[str, t.Any]] = {
        name: (
            {"level": level, "handlers": [], "propagate": True}
            if state == "on"
            else {"level": "CRITICAL", "handlers": [], "propagate": False}
        )
        for name, state in server_loggers.items()
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"foyer": {"()": f"app.observability.logs.{formatter}"}},
        "handlers": {
            "foyer": {
                "class": "logging.StreamHandler",
                "formatter": "foyer",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["foyer"]},
        "loggers": {
            **loggers,
            # libraries' start-up notes, logged while the app is imported (before
            # configure_logging runs in the worker): their warnings still show
            **{
                name: {"level": "WARNING", "handlers": [], "propagate": True}
                for name in NOISY_AT_INFO
            },
        },
    }


def exec_server(argv: list[str], env: dict[str, str]) -> t.NoReturn:
    """Become the server's master process (signals reach it straight from the supervisor)."""
    os.execvpe(argv[0], argv, env)
