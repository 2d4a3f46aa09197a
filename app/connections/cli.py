"""``foyer connections``: what to give a customer's IdP, whether it answers as it should,
and switching a connection off and on.

foyer connections test --tenant acme corp-saml
foyer connections disable --tenant acme corp-saml

Each strategy contributes its own lines (:class:`~app.connections.strategies.Diagnosis`)
through its ``diagnose()`` method; the command exits 1 when a check failed.
"""

from __future__ import annotations

import click

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.connections.services import find_connection
from app.connections.services import set_enabled
from app.connections.strategies import DiagnosableStrategy
from app.connections.strategies import strategy_for
from app.db import session
from app.hookspecs import hookimpl
from app.tenancy.cli import tenant_or_fail

MARKS = {"info": " ", "ok": "✓", "warning": "!", "error": "✗"}


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that strategies and plugins can add to ``foyer connections``."""
    cli.add_command(connections)


@click.group()
def connections() -> None:
    """Connections: test an upstream IdP's set-up, switch a connection off or on."""


@connections.command("test")
@click.argument("name")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def test_command(ctx: AppContext, name: str, tenant_name: str) -> None:
    """Print what to give the IdP of connection NAME, and check its metadata, keys and clock."""
    app = ctx.app
    tenant = tenant_or_fail(tenant_name)
    connection = find_connection(tenant, name)
    if connection is None:
        fail(f"no connection named {name!r} in tenant {tenant_name!r}")
    try:
        strategy = strategy_for(connection)
    except LookupError as error:
        fail(str(error))
    if not isinstance(strategy, DiagnosableStrategy):
        fail(f"connection {name!r} ({connection.strategy}) has nothing to test")
    with app.test_request_context("/", base_url=tenant.base_url):  # URLs of the tenant
        lines = strategy.diagnose()
    click.echo(f"connection {connection.name} ({connection.strategy}) of tenant {tenant.name}")
    for line in lines:
        click.echo(f"{MARKS.get(line.status, '?')} {line.label}: {line.value}")
    errors = sum(1 for line in lines if line.status == "error")
    warnings = sum(1 for line in lines if line.status == "warning")
    click.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        raise SystemExit(1)


def _switch(name: str, tenant_name: str, enabled: bool) -> None:
    tenant = tenant_or_fail(tenant_name)
    connection = find_connection(tenant, name)
    if connection is None:
        fail(f"no connection named {name!r} in tenant {tenant_name!r}")
    changed = set_enabled(connection, enabled)
    session.commit()
    state = "on" if enabled else "off"
    click.echo(f"connection {name} {'switched' if changed else 'was already'} {state}")


@connections.command("disable")
@click.argument("name")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def disable_command(ctx: AppContext, name: str, tenant_name: str) -> None:
    """Switch connection NAME off: no page offers it and its IdP's answers are refused;
    its users and settings are kept."""
    _switch(name, tenant_name, enabled=False)


@connections.command("enable")
@click.argument("name")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def enable_command(ctx: AppContext, name: str, tenant_name: str) -> None:
    """Switch connection NAME on again."""
    _switch(name, tenant_name, enabled=True)
