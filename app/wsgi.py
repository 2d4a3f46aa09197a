"""WSGI entry point for gunicorn: ``gunicorn app.wsgi:app``."""

import gc
import sys

from app import create_app
from app.config import Settings
from app.observability.logs import configure_logging
from app.plugins import PluginLoadError
from app.worker import worker_of

_settings = Settings.load()  # first, so that start-up's own lines are in the chosen format
configure_logging(_settings.log_level, _settings.log_format)
try:
    app = create_app()
except PluginLoadError as exc:  # one line in the server's log, not a traceback
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

if app.extensions["foyer.settings"].worker_in_process:
    # gunicorn imports this module in each worker after forking: one thread per worker
    worker_of(app).start(poll=app.extensions["foyer.settings"].worker_poll_seconds)

# What start-up built (modules, mappers, templates) lives as long as the worker: moved out
# of the collector's reach, the full collections that requests trigger only walk what
# requests allocate (they scanned all of it, about 3% of a sign-in's CPU), and forked
# workers keep sharing those pages.
gc.freeze()
