"""Starting gunicorn the way every Foyer server runs (``foyer run``, ``foyer demo``).

Each server gets :mod:`app.gunicorn_conf` (metrics of every worker added up, an internal
metrics listener when configured) and no control socket: gunicorn's default is one fixed
path in the home folder, which two servers on one machine would fight over.
"""

from __future__ import annotations

import os
import sys
import tempfile
import typing as t

from app.observability.metrics import MULTIPROCESS_ENV

OWNED_DIR_ENV = "FOYER_METRICS_DIR_OWNED"
"""Set when Foyer made the metrics folder itself, so gunicorn removes it on exit."""


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


def exec_gunicorn(argv: list[str], env: dict[str, str]) -> t.NoReturn:
    os.execvpe(argv[0], argv, env)
