"""Work done after the answer: looking up accounts and sending their emails off the request.

Pages that take an email address (reset request, sign-up, resend verification) must answer
the same way, in the same time, whether or not an account exists. So the request only
validates the form and hands the address to a durable background job (:mod:`app.jobs`, a
row written at once); the worker finds the account, issues the token and puts the email in
the outbox (:mod:`app.mail.outbox`), in its own app context and database session. Nothing
of it lives only in one process's memory: a process killed right after answering loses
nothing.
"""

from __future__ import annotations

import typing as t

from flask import Flask
from flask import current_app

from app.jobs import background_job
from app.jobs import enqueue
from app.worker import EXTENSION as WORKER
from app.worker import Worker

__all__ = ["background_job", "later", "shutdown_background", "wait_for_background"]


def later(fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> None:
    """Run ``fn(*args, **kwargs)`` after this request, in a worker. ``fn`` is marked with
    :func:`background_job`; pass ids and strings, never database objects (the worker has
    its own session, maybe in another process)."""
    enqueue(fn, *args, **kwargs)


def shutdown_background(app: Flask, timeout: float = 60.0) -> None:
    """Finish the queued jobs (tests, before their app goes); the worker stops after."""
    wait_for_background(app, timeout)


def wait_for_background(app: Flask | None = None, timeout: float = 30.0) -> bool:
    """Wait until the worker ran the queued jobs and sent the emails they queued."""
    target = app or current_app
    worker = target.extensions.get(WORKER)
    return True if worker is None else t.cast(Worker, worker).wait(timeout)
