"""The ``foyer`` command line: the root group, ``run`` and ``db``.

Every room adds its own commands (``users``, ``clients``, ``themes``...) from its ``cli.py``
through the ``register_commands`` hook, as builtin plugins, exactly as plugins add theirs.
"""

from __future__ import annotations

import os
import sys

import click

from app import create_app
from app.clikit import AppContext
from app.clikit import fail
from app.config import Settings
from app.config import SettingsError
from app.db import database_problem
from app.errors import DATABASE_UNAVAILABLE
from app.plugins import load_plugins_for_cli
from app.preflight import startup_findings
from app.servers import exec_gunicorn
from app.servers import gunicorn_argv
from app.servers import metrics_env


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
def run(host: str, port: int, workers: int) -> None:
    """Serve Foyer with gunicorn (settings from FOYER_* variables).

    Refuses to start while the database or Redis cannot be reached or a domain is plain
    http; logs are JSON lines unless FOYER_LOG_FORMAT=text.
    """
    settings = Settings.load()
    findings = startup_findings(settings)
    for finding in findings:
        click.echo(str(finding), err=True)
    if any(f.level == "error" for f in findings):
        sys.exit(1)
    env = metrics_env(os.environ, settings.metrics_address)
    env.update(FOYER_LOG_FORMAT=settings.log_format, FOYER_LOG_LEVEL=settings.log_level)
    exec_gunicorn(gunicorn_argv("app.wsgi:app", host, port, workers), env)


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
        cli(obj=AppContext(factory=create_app, plugins_factory=lambda: plugins))
    except SettingsError as exc:
        fail(str(exc))
    except DATABASE_UNAVAILABLE as exc:
        fail(f"the database cannot be reached: {database_problem(exc)}")
