"""The ``foyer`` command line: the root group, ``run`` and ``db``.

Every room adds its own commands (``users``, ``clients``, ``themes``...) from its ``cli.py``
through the ``register_commands`` hook, as builtin plugins, exactly as plugins add theirs.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import sys
import threading
import typing as t

import click

from app import create_app
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.config import Settings
from app.config import SettingsError
from app.db import database_problem
from app.errors import DATABASE_UNAVAILABLE
from app.plugins import PluginLoadError
from app.plugins import load_plugins_for_cli
from app.preflight import startup_findings
from app.request_watchdog import request_timeout
from app.servers import SERVERS
from app.servers import exec_server
from app.servers import metrics_env
from app.servers import server_argv
from app.worker import worker_of


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Foyer: a self-hosted B2B login platform and OpenID Connect provider."""
    if ctx.obj is None:
        ctx.obj = AppContext(factory=create_app, plugins_factory=load_plugins_for_cli)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="granian",
    show_default=True,
    envvar="FOYER_SERVER",
    help="The HTTP server [env: FOYER_SERVER].",
)
def run(host: str, port: int, workers: int, server: str) -> None:
    """Serve Foyer with granian or gunicorn (settings from FOYER_* variables).

    Refuses to start while the database or Redis cannot be reached or a domain is plain
    http; logs are JSON lines unless FOYER_LOG_FORMAT=text.
    """
    settings = Settings.load()
    try:
        request_timeout()  # read by the server's master (gunicorn) or each worker (granian)
    except ValueError as exc:
        fail(str(exc))
    findings = startup_findings(settings)
    for finding in findings:
        click.echo(str(finding), err=True)
    if any(f.level == "error" for f in findings):
        sys.exit(1)
    if server == "granian" and importlib.util.find_spec("granian") is None:
        fail("granian is not installed: pip install granian, or foyer run --server gunicorn")
    env = metrics_env(os.environ, settings.metrics_address)
    env.update(FOYER_LOG_FORMAT=settings.log_format, FOYER_LOG_LEVEL=settings.log_level)
    exec_server(server_argv(server, "app.wsgi:app", host, port, workers), env)


@cli.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 3600),
    default=None,
    help="Seconds between looks for rows that fell due [default: FOYER_WORKER_POLL_SECONDS].",
)
@pass_app
def worker(ctx: AppContext, once: bool, poll: float | None) -> None:
    """Send queued emails and logout tokens, with retries (any number, on any hosts)."""
    app = ctx.app
    stop = threading.Event()

    def stopping(_signum: int, _frame: t.Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stopping)
    every = poll or float(app.extensions["foyer.settings"].worker_poll_seconds)
    if not once:
        click.echo(f"worker: sending emails and logout tokens (looking every {every:g} s)")
    worker_of(app).serve(every, stop, once=once)


@cli.group()
def db() -> None:
    """Database schema migrations."""


def _schema_app() -> AppContext:
    """The ``foyer db`` commands' app: built without the start-up schema check, since they
    report on the schema themselves."""
    return AppContext(factory=lambda: create_app(check_schema=False))


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    # CLI start-up time: migrate pulls in Alembic
    from app.migrate import current_revision
    from app.migrate import upgrade

    database = _schema_app().app.extensions["foyer.db"]
    before = current_revision(database)
    upgrade(database, revision)
    after = current_revision(database)
    if before == after:
        click.echo(f"database is already at {after or '(empty)'}: nothing to do")
    else:
        click.echo(f"database migrated from {before or '(empty)'} to {after}")


@db.command("current")
def db_current() -> None:
    """Print the database's revision."""
    # CLI start-up time: migrate pulls in Alembic
    from app.migrate import current_revision

    click.echo(current_revision(_schema_app().app.extensions["foyer.db"]) or "(empty)")


def main() -> None:
    """The ``foyer`` console script. Plugins add commands without a database: the manager
    is built from settings only. Bad settings and an unreachable database end a command
    with one line, not a traceback."""
    try:
        plugins = load_plugins_for_cli()
        plugins.hook.register_commands(cli=cli)
        context = AppContext(factory=create_app, plugins_factory=lambda: plugins)
        atexit.register(_finish_sending, context)
        cli(obj=context)
    except PluginLoadError as exc:
        fail(str(exc))
    except SettingsError as exc:
        fail(str(exc))
    except DATABASE_UNAVAILABLE as exc:
        fail(f"the database cannot be reached: {database_problem(exc)}")


def _finish_sending(context: AppContext) -> None:
    """A command that queued emails (``foyer users block``) gives the worker thread a few
    seconds to send them; what is left stays queued for the next worker."""
    if context.created is not None:
        worker_of(context.created).wait(EXIT_GRACE)


EXIT_GRACE = 15.0
