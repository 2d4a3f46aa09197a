"""The ``foyer`` command line: run, db, users, clients, and commands that domains and
plugins add."""

from __future__ import annotations

import importlib
import sys
import typing as t
from pathlib import Path

import click
from flask import Flask

from app.hooks import PluginError

COMMAND_MODULES: tuple[str, ...] = (
    "app.configfile.cli",
    "app.demo.cli",
    "app.oidc.cli",
    "app.plugin_commands",
    "app.mail.cli",
    "app.branding.cli",
    "app.orgs.cli",
    "app.accounts.cli",
)
"""Domain modules that add commands: each has ``register(cli: click.Group) -> None``."""


class AppContext:
    """Creates the app lazily so ``foyer --help`` works without a database.

    Tests pass an existing app (``CliRunner().invoke(cli, args, obj=AppContext(app))``),
    whose context they have already pushed.
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._app = app

    @property
    def app(self) -> Flask:
        if self._app is None:
            from app import create_app

            self._app = create_app()
            self._app.app_context().push()
        return self._app


pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Foyer: a self-hosted B2B login platform and OpenID Connect provider."""
    ctx.ensure_object(AppContext)


def fail(message: str) -> t.NoReturn:
    """Print an error to stderr and exit 1 (no traceback for a user's mistake)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def run(host: str, port: int, workers: int) -> None:
    """Serve Foyer with gunicorn (settings from FOYER_* variables)."""
    import os

    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"{host}:{port}",
            "app.wsgi:app",
        ],
    )


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_app
def db_upgrade(ctx: AppContext, revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from app.migrate import upgrade

    upgrade(ctx.app.extensions["foyer.db"], revision)
    click.echo("database is up to date")


@db.command("current")
@pass_app
def db_current(ctx: AppContext) -> None:
    """Print the database's revision."""
    from app.migrate import current_revision

    click.echo(current_revision(ctx.app.extensions["foyer.db"]) or "(empty)")


@cli.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--connection", "connection_name", required=True)
@click.option("--email", required=True)
@click.option("--name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def users_create(
    ctx: AppContext,
    tenant_name: str,
    connection_name: str,
    email: str,
    name: str | None,
    password_stdin: bool,
) -> None:
    """Create a user in a connection (the password is never taken as an argument)."""
    from app.accounts.services import PasswordRejected
    from app.accounts.services import create_user
    from app.connections.services import find_connection
    from app.db import session
    from app.events.record import record_event

    ctx.app  # noqa: B018 - create the app and its context
    tenant = _tenant_or_fail(tenant_name)
    connection = find_connection(tenant, connection_name)
    if connection is None:
        fail(f"tenant {tenant_name} has no connection {connection_name!r}")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user = create_user(connection, email=email, password=password, name=name)
        session.commit()
    except PasswordRejected as exc:
        fail(str(exc))
    except Exception as exc:  # integrity errors: duplicate email
        session.rollback()
        fail(f"could not create user: {type(exc).__name__}")
    record_event("user_created", tenant=tenant, user_id=user.id, connection_id=connection.id)
    click.echo(user.id)


@users.command("import")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--connection", "connection_name", required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def users_import(ctx: AppContext, tenant_name: str, connection_name: str, file: Path) -> None:
    """Import users with pre-hashed passwords from FILE (JSON Lines, one user per line).

    Each line: {"email": ..., "password_hash": "$argon2id$...", "name": ...}; also
    username, given_name, family_name, locale, email_verified, blocked, user_metadata,
    app_metadata. Every line is checked first: a wrong line imports nothing. Users the
    connection already has are skipped, so an interrupted import can be run again.
    """
    from app.accounts.bulk import ImportInvalid
    from app.accounts.bulk import check_file
    from app.accounts.bulk import import_users
    from app.connections.services import find_connection

    ctx.app  # noqa: B018
    tenant = _tenant_or_fail(tenant_name)
    connection = find_connection(tenant, connection_name)
    if connection is None:
        fail(f"tenant {tenant_name} has no connection {connection_name!r}")
    try:
        total = check_file(file)
    except ImportInvalid as exc:
        for line, message in exc.problems[:50]:
            click.echo(f"{file}:{line}: {message}", err=True)
        fail(f"{len(exc.problems)} invalid lines; nothing was imported")
    try:
        result = import_users(file, tenant, connection)
    except PluginError as exc:
        fail(
            f"plugin {exc.plugin} failed in {exc.hook}; users before it were imported, "
            "run the import again once it is fixed"
        )
    click.echo(
        f"{total} users read: {result.imported} imported, {result.skipped} already "
        "there (left unchanged)"
    )


@cli.group()
def clients() -> None:
    """Manage applications (OIDC clients)."""


@clients.command("create")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "client_secret_post", "none"]),
    default="client_secret_basic",
    show_default=True,
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]),
)
@click.option("--scope", default=None)
@click.option("--audience", default=None)
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default="RS256", show_default=True)
@pass_app
def clients_create(
    ctx: AppContext,
    tenant_name: str,
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    auth_method: str,
    grant_types: tuple[str, ...],
    scope: str | None,
    audience: str | None,
    alg: str,
) -> None:
    """Register an application; prints its client_id and (once) its secret."""
    from app.db import session
    from app.oidc.services import ClientInvalid
    from app.oidc.services import create_client

    ctx.app  # noqa: B018
    tenant = _tenant_or_fail(tenant_name)
    fields: dict[str, t.Any] = {"id_token_signed_response_alg": alg, "audience": audience}
    if grant_types:
        fields["grant_types"] = list(grant_types)
    if scope:
        fields["scope"] = scope
    try:
        client, secret = create_client(
            tenant,
            name,
            token_endpoint_auth_method=auth_method,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            **fields,
        )
        session.commit()
    except ClientInvalid as exc:
        fail(str(exc))
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")


def _tenant_or_fail(name: str) -> t.Any:
    from app.tenancy.services import find_tenant

    tenant = find_tenant(name)
    if tenant is None:
        fail(f"no tenant named {name!r}")
    return tenant


def main() -> None:
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(cli)
    _register_plugin_commands()
    cli()


def _register_plugin_commands() -> None:
    """Plugins add commands without a database: the manager is built from settings only."""
    from app.plugins import load_plugins_for_cli

    load_plugins_for_cli().hook.register_commands(cli=cli)
