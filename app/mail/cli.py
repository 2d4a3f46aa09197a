"""``foyer mail test``: send one email through the configured delivery, to check it works."""

from __future__ import annotations

import click

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.hookspecs import hookimpl
from app.mail.delivery import send_email
from app.mail.message import EmailMessage
from app.mail.outbox import queue_stats
from app.mail.outbox import requeue
from app.tenancy.cli import organization_or_fail
from app.tenancy.cli import tenant_or_fail


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer mail``."""
    cli.add_command(mail)


@click.group()
def mail() -> None:
    """Emails: check the delivery (SMTP or a deliver_email plugin), see the outbox."""


@mail.command("test")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--organization", "organization_name", default=None)
@click.option("--to", "recipient", required=True, help="Address to send the test to.")
@pass_app
def mail_test(
    ctx: AppContext, tenant_name: str, organization_name: str | None, recipient: str
) -> None:
    """Send a test email the way Foyer sends its own (plugins in scope, then SMTP)."""
    ctx.app  # noqa: B018 - create the app and its context
    tenant = tenant_or_fail(tenant_name)
    organization = None
    if organization_name:
        organization = organization_or_fail(tenant, organization_name)
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


@mail.command("queue")
@pass_app
def mail_queue(ctx: AppContext) -> None:
    """How many emails the outbox holds in each state, and the oldest one waiting."""
    ctx.app  # noqa: B018 - create the app and its context
    stats = queue_stats()
    for status, count in stats["by_status"].items():
        click.echo(f"{status:8} {count}")
    click.echo(f"oldest waiting: {stats['oldest_waiting_seconds']:.0f} s")


@mail.command("retry")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant's emails.")
@click.argument("ids", nargs=-1)
@pass_app
def mail_retry(ctx: AppContext, tenant_name: str | None, ids: tuple[str, ...]) -> None:
    """Queue given-up emails again (all of them, or the ids given)."""
    ctx.app  # noqa: B018 - create the app and its context
    tenant_id = tenant_or_fail(tenant_name).id if tenant_name else None
    count = requeue(ids or None, tenant_id)
    click.echo(f"queued {count} email(s) again")
