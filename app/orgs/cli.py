"""``foyer orgs invite`` and ``foyer orgs invitations list|revoke``."""

from __future__ import annotations

import datetime as dt

import click

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.db import utcnow
from app.hookspecs import hookimpl
from app.mail.outbox import NOT_SENT
from app.mail.outbox import wait_for_outcome
from app.orgs.invitations import InvitationError
from app.orgs.invitations import find_invitation
from app.orgs.invitations import invite as make_invitation
from app.orgs.invitations import list_invitations
from app.orgs.invitations import revoke
from app.orgs.invitations import status
from app.tenancy.cli import organization_or_fail
from app.tenancy.cli import tenant_or_fail


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer orgs``."""
    cli.add_command(orgs)


@click.group()
def orgs() -> None:
    """Organizations: invite people, manage invitations."""


@orgs.command("invite")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--org", "org_name", required=True, help="Organization name (slug) or id.")
@click.option("--email", required=True, help="Address to invite.")
@click.option("--roles", default="", help="Comma-separated roles the invitee will get.")
@click.option("--locale", default=None, help="Language of the email (fr, de...).")
@click.option(
    "--invited-by", default="cli", show_default=True, help="Who invites, shown in the email."
)
@click.option(
    "--days",
    type=click.IntRange(1, 30),
    default=None,
    help="Days the invitation works (default: FOYER_INVITATION_LIFETIME).",
)
@click.option("--no-email", is_flag=True, help="Do not send it: print the link instead.")
@pass_app
def invite(
    ctx: AppContext,
    tenant_name: str,
    org_name: str,
    email: str,
    roles: str,
    locale: str | None,
    invited_by: str,
    days: int | None,
    no_email: bool,
) -> None:
    """Invite EMAIL into an organization; the email carries a single-use link."""
    ctx.app  # noqa: B018 - create the app and its context
    organization = organization_or_fail(tenant_or_fail(tenant_name), org_name)
    role_list = [role.strip() for role in roles.split(",") if role.strip()]
    started = utcnow()
    try:
        sent = make_invitation(
            organization,
            email,
            role_list,
            invited_by=invited_by,
            locale=locale,
            ttl=dt.timedelta(days=days) if days else None,
            send=not no_email,
        )
    except InvitationError as exc:
        fail(str(exc))
    click.echo(f"invitation: {sent.invitation.id}")
    if no_email:
        click.echo(f"link: {sent.link}")
    else:
        status = wait_for_outcome(sent.invitation.email, started)
        if status == "sent":
            click.echo(f"sent to {sent.invitation.email}")
        elif status == "held":
            click.echo(f"kept in the development mailbox for {sent.invitation.email}")
        else:
            fail("the invitation was saved; " + NOT_SENT.format(status=status))


@orgs.group("invitations")
def invitations_group() -> None:
    """List and revoke invitations."""


@invitations_group.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--org", "org_name", required=True)
@pass_app
def list_cmd(ctx: AppContext, tenant_name: str, org_name: str) -> None:
    """One line per invitation: id, status, email, roles, expiry."""
    ctx.app  # noqa: B018
    organization = organization_or_fail(tenant_or_fail(tenant_name), org_name)
    for invitation in list_invitations(organization):
        click.echo(
            f"{invitation.id}\t{status(invitation)}\t{invitation.email}\t"
            f"{','.join(invitation.roles) or '-'}\t{invitation.expires_at.isoformat()}"
        )


@invitations_group.command("revoke")
@click.option("--tenant", "tenant_name", required=True)
@click.argument("invitation_id")
@pass_app
def revoke_cmd(ctx: AppContext, tenant_name: str, invitation_id: str) -> None:
    """Revoke a pending invitation: its link stops working at once."""
    ctx.app  # noqa: B018
    invitation = find_invitation(tenant_or_fail(tenant_name), invitation_id)
    if invitation is None:
        fail(f"tenant {tenant_name} has no invitation {invitation_id!r}")
    if not revoke(invitation):
        fail(f"invitation {invitation_id} is {status(invitation)}: nothing to revoke")
    click.echo(f"revoked {invitation_id}")
