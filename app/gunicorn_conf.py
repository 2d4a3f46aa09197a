"""gunicorn hooks of the servers Foyer starts (``--config python:app.gunicorn_conf``).

The master empties the multiprocess metrics folder on start (values of an earlier run must
not add up with this one's), marks each exited worker's files dead (its gauges stop
counting), serves ``/metrics`` on ``FOYER_METRICS_ADDRESS`` when set, and removes the
folder on exit when Foyer made it. Its ``timeout`` is the hard request timeout.
"""

from __future__ import annotations

import typing as t

from app.observability import metrics
from app.request_watchdog import request_timeout
from app.servers import empty_metrics_folder
from app.servers import log_config
from app.servers import remove_metrics_folder
from app.servers import serve_metrics

logconfig_dict = log_config(
    # Foyer logs each request itself: gunicorn's access line stays off
    {"gunicorn.error": "on", "gunicorn.access": "off"}
)
"""gunicorn's own lines (the master's start, workers booting) in Foyer's format."""

timeout = request_timeout()
"""Seconds before gunicorn kills a worker whose request has not ended (the hard request
timeout, ``FOYER_REQUEST_TIMEOUT``, which granian's workers apply themselves)."""


def on_starting(_server: t.Any) -> None:
    empty_metrics_folder()


def when_ready(server: t.Any) -> None:
    if address := serve_metrics():
        server.log.info("metrics served on http://%s/metrics", address)


def child_exit(_server: t.Any, worker: t.Any) -> None:
    metrics.process_exited(worker.pid)


def on_exit(_server: t.Any) -> None:
    remove_metrics_folder()
