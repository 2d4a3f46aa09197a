"""``foyer scim``: make, list and revoke an organization's SCIM tokens (shown once)."""

from __future__ import annotations

import click

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.hookspecs import hookimpl
from app.scim.tokens import create_scim_token
from app.scim.tokens import list_scim_tokens
from app.scim.tokens import revoke_scim_token
from app.scim.tokens import scim_base_url
from app.tenancy.cli import organization_or_fail
from app.tenancy.cli import tenant_or_fail


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(scim)


@click.group()
def scim() -> None:
    """SCIM provisioning tokens of organizations."""


@scim.command("create-token")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--org", "org_name", required=True, help="Organization name (slug) or id.")
@click.option("--name", default="", help="What the token is for (Okta, Entra ID...).")
@pass_app
def create_token(ctx: AppContext, tenant_name: str, org_name: str, name: str) -> None:
    """Make a bearer token for the organization's identity provider; printed once."""
    ctx.app  # noqa: B018 - create the app and its context
    tenant = tenant_or_fail(tenant_name)
    organization = organization_or_fail(tenant, org_name)
    row, value = create_scim_token(organization, name)
    click.echo(f"token id: {row.id}")
    click.echo(f"base URL: {scim_base_url(tenant, organization)}")
    click.echo(f"token: {value}")


@scim.command("tokens")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--org", "org_name", required=True)
@pass_app
def tokens(ctx: AppContext, tenant_name: str, org_name: str) -> None:
    """List the organization's live tokens (never their values)."""
    ctx.app  # noqa: B018
    organization = organization_or_fail(tenant_or_fail(tenant_name), org_name)
    for row in list_scim_tokens(organization):
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        click.echo(f"{row.id}  {row.name or '-'}  last used: {used}")


@scim.command("revoke-token")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--org", "org_name", required=True)
@click.argument("token_id")
@pass_app
def revoke_token(ctx: AppContext, tenant_name: str, org_name: str, token_id: str) -> None:
    """Revoke a token: the identity provider using it is refused at once."""
    ctx.app  # noqa: B018
    organization = organization_or_fail(tenant_or_fail(tenant_name), org_name)
    if not revoke_scim_token(organization, token_id):
        fail(f"no live token {token_id} in {organization.name}")
    click.echo(f"revoked {token_id}")
