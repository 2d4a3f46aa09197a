"""``foyer keys``: list and rotate a tenant's signing keys."""

from __future__ import annotations

import typing as t

import click

from app.cli import AppContext
from app.cli import fail
from app.cli import pass_app

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)


@click.group("keys")
def keys_group() -> None:
    """Signing keys of a tenant (ID tokens and access tokens)."""


@keys_group.command("list")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def keys_list(ctx: AppContext, tenant_name: str) -> None:
    """Print the tenant's keys, newest first: kid, algorithm, state, created."""
    from app.oidc.keys import list_keys

    tenant = _tenant(ctx, tenant_name)
    for key in list_keys(tenant.id):
        created = key.created_at.isoformat(timespec="seconds")
        click.echo(f"{key.kid}  {key.alg}  {key.state:<8}  {created}")


@keys_group.command("rotate")
@click.option("--tenant", "tenant_name", required=True)
@click.option(
    "--force",
    is_flag=True,
    help="Retire the previous key even if tokens it signed may still be valid.",
)
@pass_app
def keys_rotate(ctx: AppContext, tenant_name: str, force: bool) -> None:
    """Rotate: next becomes current, current becomes previous, a new next is made.

    The JWKS keeps publishing the previous key, so tokens it signed keep verifying; the key
    before it is retired. Without --force, a rotation that would retire a key while tokens
    it signed may still be valid is refused.
    """
    from app.events.record import record_event
    from app.oidc.keys import KeyRotationTooSoon
    from app.oidc.keys import rotate_keys

    tenant = _tenant(ctx, tenant_name)
    try:
        signing = rotate_keys(tenant.id, force=force)
    except KeyRotationTooSoon as exc:
        fail(f"{exc}; wait, or use --force")
    record_event(
        "keys_rotated",
        tenant=tenant,
        data={"signing": {key.alg: key.kid for key in signing}, "forced": force},
    )
    for key in signing:
        click.echo(f"{key.alg} now signs with {key.kid}")


def _tenant(ctx: AppContext, name: str) -> Tenant:
    from app.tenancy.services import find_tenant

    ctx.app  # noqa: B018 - create the app and push its context
    tenant = find_tenant(name)
    if tenant is None:
        fail(f"no tenant named {name!r}")
    return tenant
