"""WSGI entry point for gunicorn: ``gunicorn app.wsgi:app``."""

import gc

from app import create_app
from app.config import Settings
from app.observability.logs import configure_logging

_settings = Settings.load()  # first, so that start-up's own lines are in the chosen format
configure_logging(_settings.log_level, _settings.log_format)
app = create_app()

# What start-up built (modules, mappers, templates) lives as long as the worker: moved out
# of the collector's reach, the full collections that requests trigger only walk what
# requests allocate (they scanned all of it, about 3% of a sign-in's CPU), and forked
# workers keep sharing those pages.
gc.freeze()
