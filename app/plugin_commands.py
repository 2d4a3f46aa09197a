"""``foyer plugins``: what is installed, where it came from, its hooks and where it is enabled."""

from __future__ import annotations

import typing as t
from pathlib import Path

import click
import sqlalchemy as sa

from app.clikit import AppContext
from app.clikit import pass_app
from app.db import session
from app.hookdocs import render_hooks_markdown
from app.hooks import is_scoped
from app.hooks import settings_schema
from app.hookspecs import hookimpl
from app.orgs.models import Organization
from app.tenancy.models import Tenant

if t.TYPE_CHECKING:
    from app.plugins import FoyerPluginManager


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    cli.add_command(plugins)


@click.group("plugins", invoke_without_command=True)
@click.pass_context
def plugins(click_ctx: click.Context) -> None:
    """List plugins (no subcommand), or write the hook reference."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(plugins_list)


@plugins.command("list")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant's enabling.")
@pass_app
def plugins_list(ctx: AppContext, tenant_name: str | None) -> None:
    """Each plugin: source, scope, hooks, settings, and the tenants/orgs enabling it."""
    pm = ctx.app.extensions["foyer.pm"]
    enabled = _enabled_where(tenant_name)
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        click.echo(describe(pm, name, plugin, enabled.get(name, [])))


@plugins.command("hooks")
@click.option(
    "--write",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Markdown reference to PATH (docs/hooks.md).",
)
def plugins_hooks(path: Path | None) -> None:
    """Print (or write) the hook reference generated from app/hookspecs.py."""
    text = render_hooks_markdown()
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text)
        click.echo(f"wrote {path}")


def describe(pm: FoyerPluginManager, name: str, plugin: object, enabled: list[str]) -> str:
    """A few lines about one plugin, as ``foyer plugins`` prints them."""
    hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
    lines = [name, f"  source: {pm.sources.get(name, 'registered by code')}"]
    if is_scoped(plugin):
        lines.append("  scope: only where enabled")
        lines.append(f"  enabled: {', '.join(enabled) if enabled else 'nowhere'}")
    else:
        lines.append("  scope: everywhere")
        if enabled:
            lines.append(f"  configured: {', '.join(enabled)}")
    lines.append(f"  hooks: {', '.join(hooks) if hooks else '(none)'}")
    for setting, type_name, default in settings_schema(plugin):
        lines.append(f"  setting {setting}: {type_name} = {default}")
    return "\n".join(lines)


def _enabled_where(tenant_name: str | None) -> dict[str, list[str]]:
    """Plugin name -> ["tenant acme", "acme/globex", ...] from the stored configuration."""
    where: dict[str, list[str]] = {}
    stmt = sa.select(Tenant).order_by(Tenant.name)
    if tenant_name:
        stmt = stmt.where(Tenant.name == tenant_name)
    for tenant in session.scalars(stmt):
        for name in (tenant.settings or {}).get("plugins") or {}:
            where.setdefault(name, []).append(f"tenant {tenant.name}")
        orgs = session.scalars(
            sa.select(Organization)
            .where(Organization.tenant_id == tenant.id)
            .order_by(Organization.name)
        )
        for org in orgs:
            for name in org.plugins or {}:
                where.setdefault(name, []).append(f"{tenant.name}/{org.name}")
    return where
