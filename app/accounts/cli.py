"""``foyer users send-reset``: an admin starts a password reset; they never see or set the
password (L-11). The user gets the same email as from the "Forgot your password?" page."""

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
    @click.option("--connection", "connection_name", default=None,
                  help="Only this connection's user (default: every password connection).")
    @pass_app
    def send_reset(
        ctx: AppContext, tenant_name: str, email: str, connection_name: str | None
    ) -> None:
        """Email a password reset link to the user with this address."""
        from app.accounts.emails import send_password_reset
        from app.login.hrd import password_connections
        from app.strategies.registry import strategy_for
        from app.tenancy.services import find_tenant

        ctx.app  # noqa: B018 - create the app and its context
        tenant = find_tenant(tenant_name)
        if tenant is None:
            fail(f"no tenant named {tenant_name!r}")
        connections = [c for c in password_connections(tenant, None)
                       if connection_name in (None, c.name)]
        users = [u for u in (strategy_for(c).find_user(email) for c in connections)
                 if u is not None and u.email]
        if not users:
            fail(f"tenant {tenant_name} has no user with the address {email!r}")
        for user in users:
            if user.blocked:
                fail(f"user {user.id} is blocked: unblock it first")
            if not send_password_reset(user):
                fail("no email was delivered: set FOYER_SMTP_URL or install a "
                     "deliver_email plugin")
            click.echo(f"sent a reset link to {user.email} (user {user.id})")
