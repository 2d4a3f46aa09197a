"""``foyer mail test``: send one email through the configured delivery, to check it works."""

from __future__ import annotations

import typing as t

import click

if t.TYPE_CHECKING:
    from app.cli import AppContext


def register(cli: click.Group) -> None:
    from app.cli import fail
    from app.cli import pass_app

    @cli.group("mail")
    def mail() -> None:
        """Emails: check the delivery (SMTP or a deliver_email plugin)."""

    @mail.command("test")
    @click.option("--tenant", "tenant_name", required=True)
    @click.option("--organization", "organization_name", default=None)
    @click.option("--to", "recipient", required=True, help="Address to send the test to.")
    @pass_app
    def mail_test(
        ctx: AppContext, tenant_name: str, organization_name: str | None, recipient: str
    ) -> None:
        """Send a test email the way Foyer sends its own (plugins in scope, then SMTP)."""
        from app.mail.delivery import send_email
        from app.mail.message import EmailMessage
        from app.orgs.services import find_organization
        from app.tenancy.services import find_tenant

        ctx.app  # noqa: B018 - create the app and its context
        tenant = find_tenant(tenant_name)
        if tenant is None:
            fail(f"no tenant named {tenant_name!r}")
        organization = None
        if organization_name:
            organization = find_organization(tenant, organization_name)
            if organization is None:
                fail(f"tenant {tenant_name} has no organization {organization_name!r}")
        message = EmailMessage(
            to=recipient,
            subject=f"Foyer test email from {tenant.display_name}",
            text=f"This test email from {tenant.base_url} shows that email delivery works.\n",
            purpose="test",
        )
        if not send_email(message, tenant, organization):
            fail(
                "no plugin delivered the email: set FOYER_SMTP_URL or install a "
                "deliver_email plugin (failures are logged as plugin_failed events)"
            )
        click.echo(f"sent a test email to {recipient}")
