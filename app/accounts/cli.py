"""``foyer users``: create and import users, start a password reset (an admin never sees or
sets the password, L-11), block and unblock a user, who is told by email."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import click
import sqlalchemy as sa

from app.accounts import protection
from app.accounts.bulk import ImportInvalid
from app.accounts.bulk import check_file
from app.accounts.bulk import import_users
from app.accounts.emails import send_account_blocked
from app.accounts.emails import send_password_reset
from app.accounts.models import User
from app.accounts.services import PasswordRejected
from app.accounts.services import create_user
from app.accounts.services import set_blocked
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.connections.services import find_connection
from app.connections.services import password_connections_knowing
from app.connections.strategies import strategy_for
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.hooks import PluginError
from app.hookspecs import hookimpl
from app.mail.outbox import NOT_SENT
from app.mail.outbox import wait_for_outcome
from app.tenancy.cli import tenant_or_fail

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.tenancy.models import Tenant


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer users``."""
    cli.add_command(users)


@click.group()
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
    ctx.app  # noqa: B018 - create the app and its context
    tenant, connection = _connection_or_fail(tenant_name, connection_name)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user = create_user(connection, email=email, password=password, name=name)
        session.commit()
    except PasswordRejected as exc:
        fail(str(exc))
    except ValueError:
        session.rollback()
        fail(f"{email!r} is not an email address")
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
    ctx.app  # noqa: B018
    tenant, connection = _connection_or_fail(tenant_name, connection_name)
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


@users.command("send-reset")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--email", required=True, help="The user's email address.")
@click.option(
    "--connection",
    "connection_name",
    default=None,
    help="Only this connection's user (default: every password connection).",
)
@pass_app
def send_reset(ctx: AppContext, tenant_name: str, email: str, connection_name: str | None) -> None:
    """Email a password reset link to the user with this address."""
    ctx.app  # noqa: B018 - create the app and its context
    for user in _users_by_email(tenant_name, email, connection_name):
        if user.blocked:
            fail(f"user {user.id} is blocked: unblock it first")
        started = utcnow()
        send_password_reset(user)
        status = wait_for_outcome(t.cast(str, user.email), started)
        if status == "sent":
            click.echo(f"sent a reset link to {user.email} (user {user.id})")
        elif status == "held":
            click.echo(f"kept a reset link for {user.email} in the development mailbox")
        else:
            fail(NOT_SENT.format(status=status))


@users.command("block")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--email", required=True, help="The user's email address.")
@click.option(
    "--connection",
    "connection_name",
    default=None,
    help="Only this connection's user (default: every password connection).",
)
@click.option(
    "--notify/--no-notify",
    default=True,
    show_default=True,
    help="Email the user that their account is blocked.",
)
@pass_app
def block(
    ctx: AppContext, tenant_name: str, email: str, connection_name: str | None, notify: bool
) -> None:
    """Block a user: their sessions and refresh tokens end, sign-ins are refused."""
    ctx.app  # noqa: B018
    for user in _users_by_email(tenant_name, email, connection_name):
        set_blocked(user, True)
        sent = notify and send_account_blocked(user)
        click.echo(f"blocked user {user.id}" + (" (emailed)" if sent else ""))


@users.command("sign-out")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--email", default=None, help="The user's email address.")
@click.option("--connection", "connection_name", default=None)
@click.option("--all", "everyone", is_flag=True, help="Every user of the tenant.")
@pass_app
def sign_out(
    ctx: AppContext,
    tenant_name: str,
    email: str | None,
    connection_name: str | None,
    everyone: bool,
) -> None:
    """End sessions and refresh tokens: one user's (--email) or every user's of the tenant
    (--all, after a suspected leak). They sign in again; nothing else changes."""
    # CLI start-up time: credentials pulls in authlib and the token signing keys
    from app.accounts.credentials import sign_out_everywhere

    ctx.app  # noqa: B018
    if everyone == bool(email):
        fail("give --email or --all")
    if everyone:
        tenant = tenant_or_fail(tenant_name)
        ids = list(session.scalars(sa.select(User.id).where(User.tenant_id == tenant.id)))
        users = (session.get(User, user_id) for user_id in ids)
    else:
        users = iter(_users_by_email(tenant_name, t.cast(str, email), connection_name))
    done = {"users": 0, "sessions_ended": 0}
    for number, user in enumerate(users, 1):
        if user is None:
            continue
        counts = sign_out_everywhere(user, "admin_sign_out")
        record_event(
            "logout", tenant_id=user.tenant_id, user_id=user.id, data={"via": "admin", **counts}
        )
        done["users"] += 1
        done["sessions_ended"] += counts.get("sessions_ended", 0)
        if number % 500 == 0:
            session.commit()
    session.commit()
    click.echo(
        f"signed out {done['users']} user(s): {done['sessions_ended']} session(s) ended, "
        "their refresh tokens revoked"
    )


@users.command("unblock")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--email", required=True, help="The user's email address.")
@click.option("--connection", "connection_name", default=None)
@pass_app
def unblock(ctx: AppContext, tenant_name: str, email: str, connection_name: str | None) -> None:
    """Let a blocked user sign in again: lifts an admin's block, and the blocks and delays
    that failed sign-ins put on the account (from every address)."""
    ctx.app  # noqa: B018
    for user in _users_by_email(tenant_name, email, connection_name):
        set_blocked(user, False)
        protection.unblock(user, "admin")
        click.echo(f"unblocked user {user.id}")


def _connection_or_fail(tenant_name: str, connection_name: str) -> tuple[Tenant, Connection]:
    tenant = tenant_or_fail(tenant_name)
    connection = find_connection(tenant, connection_name)
    if connection is None:
        fail(f"tenant {tenant_name} has no connection {connection_name!r}")
    return tenant, connection


def _users_by_email(tenant_name: str, email: str, connection_name: str | None) -> list[User]:
    """The tenant's users with this address in its password connections (exit 1: none)."""
    tenant = tenant_or_fail(tenant_name)
    connections = [
        c for c in password_connections_knowing(tenant, email) if connection_name in (None, c.name)
    ]
    found = [
        u
        for u in (strategy_for(c).find_user(email) for c in connections)
        if u is not None and u.email
    ]
    if not found:
        fail(f"tenant {tenant_name} has no user with the address {email!r}")
    return found
