"""WSGI entry point for gunicorn: ``gunicorn app.wsgi:app``."""

import gc

from app import create_app
from app.worker import worker_of

app = create_app()

if app.extensions["foyer.settings"].worker_in_process:
    # gunicorn imports this module in each worker after forking: one thread per worker
    worker_of(app).start(poll=app.extensions["foyer.settings"].worker_poll_seconds)

# What start-up built (modules, mappers, templates) lives as long as the worker: moved out
# of the collector's reach, the full collections that requests trigger only walk what
# requests allocate (they scanned all of it, about 3% of a sign-in's CPU), and forked
# workers keep sharing those pages.
gc.freeze()
