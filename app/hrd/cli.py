"""``foyer hrd``: explain a routing, and keep the identifier map.

foyer hrd explain --tenant demo --identifier alice@acme.example
foyer hrd explain --tenant demo --host acme.localhost --param organization=globex
foyer hrd map list --tenant demo
foyer hrd map set --tenant demo '*@contractors.example' --organization globex
foyer hrd map remove --tenant demo '*@contractors.example'
"""

from __future__ import annotations

import json

import click

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.connections.models import Connection
from app.connections.services import find_connection
from app.db import session
from app.hookspecs import hookimpl
from app.hrd.explain import ExplainInvalid
from app.hrd.explain import explain
from app.hrd.identifier_map import RouteInvalid
from app.hrd.identifier_map import remove_route
from app.hrd.identifier_map import routes
from app.hrd.identifier_map import set_route
from app.orgs.models import Organization
from app.orgs.services import find_organization_by_name
from app.tenancy.cli import tenant_or_fail


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer hrd``."""
    cli.add_command(hrd)


@click.group()
def hrd() -> None:
    """Home realm discovery: why a sign-in goes where it goes; the identifier map."""


@hrd.command("explain")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--identifier", default=None, help="What the user types on page 1.")
@click.option("--host", default=None, help="Host the sign-in comes to (default: primary).")
@click.option(
    "--path",
    "path_organization",
    default=None,
    metavar="ORGANIZATION",
    help="The name in an /o/ORGANIZATION/ path.",
)
@click.option("--client", "client_id", default=None, help="The application's client_id.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="An /authorize parameter (organization=..., connection=...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def explain_command(
    ctx: AppContext,
    tenant_name: str,
    identifier: str | None,
    host: str | None,
    path_organization: str | None,
    client_id: str | None,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show every discovery step for a sign-in, and where it ends up."""
    ctx.app  # noqa: B018 - create the app and its context
    tenant = tenant_or_fail(tenant_name)
    parsed = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--param takes NAME=VALUE, not {item!r}")
        parsed[name] = value
    try:
        found = explain(
            tenant,
            host=host,
            path_organization=path_organization,
            params=parsed,
            client_id=client_id,
            identifier=identifier,
        )
    except ExplainInvalid as exc:
        fail(str(exc))
    click.echo(json.dumps(found.as_dict(), indent=2) if as_json else found.render())


@hrd.group("map")
def identifier_map() -> None:
    """The identifier-to-realm map (exact identifiers and * ? patterns)."""


@identifier_map.command("list")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def map_list(ctx: AppContext, tenant_name: str) -> None:
    """List the entries: identifier or pattern, organization, connection."""
    ctx.app  # noqa: B018
    for route in routes(tenant_or_fail(tenant_name)):
        org = session.get(Organization, route.organization_id or "")
        con = session.get(Connection, route.connection_id or "")
        names = (org.name if org else "-", con.name if con else "-")
        click.echo("\t".join((route.identifier, *names)))


@identifier_map.command("set")
@click.argument("identifier")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--organization", "organization_name", default=None)
@click.option("--connection", "connection_name", default=None)
@pass_app
def map_set(
    ctx: AppContext,
    identifier: str,
    tenant_name: str,
    organization_name: str | None,
    connection_name: str | None,
) -> None:
    """Route IDENTIFIER (or a pattern such as '*@contractors.example') to a realm."""
    ctx.app  # noqa: B018
    tenant = tenant_or_fail(tenant_name)
    organization = connection = None
    if organization_name:
        organization = find_organization_by_name(tenant, organization_name)
        if organization is None:
            fail(f"tenant {tenant.name} has no organization {organization_name!r}")
    if connection_name:
        connection = find_connection(tenant, connection_name)
        if connection is None:
            fail(f"tenant {tenant.name} has no connection {connection_name!r}")
    try:
        route = set_route(tenant, identifier, organization, connection)
    except RouteInvalid as exc:
        session.rollback()
        fail(str(exc))
    session.commit()
    click.echo(f"routed {route.identifier}")


@identifier_map.command("remove")
@click.argument("identifier")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def map_remove(ctx: AppContext, identifier: str, tenant_name: str) -> None:
    """Remove the entry for IDENTIFIER (or the pattern)."""
    ctx.app  # noqa: B018
    try:
        removed = remove_route(tenant_or_fail(tenant_name), identifier)
    except RouteInvalid as exc:
        fail(str(exc))
    if not removed:
        session.rollback()
        fail(f"no entry for {identifier!r}")
    session.commit()
    click.echo(f"removed {identifier}")
