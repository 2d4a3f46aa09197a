"""``foyer users send-reset``, ``block`` and ``unblock``: an admin starts a password reset
(they never see or set the password, L-11) or blocks a user, who is told by email."""

from __future__ import annotations

import typing as t

import click

if t.TYPE_CHECKING:
    from app.cli import AppContext


def register(cli: click.Group) -> None:
    from app.cli import fail
    from app.cli import pass_app

    users = cli.commands.get("users")
    if not isinstance(users, click.Group):
        return

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
    def send_reset(
        ctx: AppContext, tenant_name: str, email: str, connection_name: str | None
    ) -> None:
        """Email a password reset link to the user with this address."""
        from app.accounts.emails import send_password_reset

        ctx.app  # noqa: B018 - create the app and its context
        users = _users_by_email(tenant_name, email, connection_name)
        for user in users:
            if user.blocked:
                fail(f"user {user.id} is blocked: unblock it first")
            if not send_password_reset(user):
                fail("no email was delivered: set FOYER_SMTP_URL or install a deliver_email plugin")
            click.echo(f"sent a reset link to {user.email} (user {user.id})")

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
        from app.accounts.credentials import sign_out_everywhere
        from app.accounts.emails import send_account_blocked
        from app.accounts.services import set_blocked

        ctx.app  # noqa: B018
        for user in _users_by_email(tenant_name, email, connection_name):
            sign_out_everywhere(user, "user_blocked")
            set_blocked(user, True)
            sent = notify and send_account_blocked(user)
            click.echo(f"blocked user {user.id}" + (" (emailed)" if sent else ""))

    @users.command("unblock")
    @click.option("--tenant", "tenant_name", required=True)
    @click.option("--email", required=True, help="The user's email address.")
    @click.option("--connection", "connection_name", default=None)
    @pass_app
    def unblock(ctx: AppContext, tenant_name: str, email: str, connection_name: str | None) -> None:
        """Let a blocked user sign in again."""
        from app.accounts.services import set_blocked

        ctx.app  # noqa: B018
        for user in _users_by_email(tenant_name, email, connection_name):
            set_blocked(user, False)
            click.echo(f"unblocked user {user.id}")

    def _users_by_email(tenant_name: str, email: str, connection_name: str | None) -> list[t.Any]:
        """The tenant's users with this address in its password connections (exit 1: none)."""
        from app.login.discovery import password_connections
        from app.strategies.registry import strategy_for
        from app.tenancy.services import find_tenant

        tenant = find_tenant(tenant_name)
        if tenant is None:
            fail(f"no tenant named {tenant_name!r}")
        connections = [
            c for c in password_connections(tenant, None) if connection_name in (None, c.name)
        ]
        found = [
            u
            for u in (strategy_for(c).find_user(email) for c in connections)
            if u is not None and u.email
        ]
        if not found:
            fail(f"tenant {tenant_name} has no user with the address {email!r}")
        return found
