"""gunicorn hooks of the servers Foyer starts (``--config python:app.gunicorn_conf``).

The master empties the multiprocess metrics folder on start (values of an earlier run must
not add up with this one's), marks each exited worker's files dead (its gauges stop
counting), serves ``/metrics`` on ``FOYER_METRICS_ADDRESS`` when set, and removes the
folder on exit when Foyer made it.
"""

from __future__ import annotations

import os
import shutil
import typing as t
from pathlib import Path

from prometheus_client import start_http_server

from app.observability import metrics
from app.observability.logs import NOISY_AT_INFO
from app.servers import OWNED_DIR_ENV


def _log_config() -> dict[str, t.Any]:
    """gunicorn's own lines (the master's start, workers booting) in Foyer's format."""
    level = os.environ.get("FOYER_LOG_LEVEL", "INFO").upper()
    text = os.environ.get("FOYER_LOG_FORMAT", "json") == "text"
    formatter = "TextFormatter" if text else "JsonFormatter"
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
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Foyer logs each request itself, without the query string that gunicorn's
            # access line would carry (codes, tokens in URLs): gunicorn's stays off
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            # libraries' start-up notes, logged while the app is imported (before
            # configure_logging runs in the worker): their warnings still show
            **{
                name: {"level": "WARNING", "handlers": [], "propagate": True}
                for name in NOISY_AT_INFO
            },
        },
    }


logconfig_dict = _log_config()


def on_starting(_server: t.Any) -> None:
    folder = metrics.multiprocess_dir()
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def when_ready(server: t.Any) -> None:
    address = os.environ.get("FOYER_METRICS_ADDRESS", "")
    if not address:
        return
    host, _, port = address.rpartition(":")
    start_http_server(int(port), host.strip("[]") or "127.0.0.1", metrics.collector_registry())
    server.log.info("metrics served on http://%s/metrics", address)


def child_exit(_server: t.Any, worker: t.Any) -> None:
    metrics.process_exited(worker.pid)


def on_exit(_server: t.Any) -> None:
    folder = metrics.multiprocess_dir()
    if folder is not None and os.environ.get(OWNED_DIR_ENV):
        shutil.rmtree(folder, ignore_errors=True)
