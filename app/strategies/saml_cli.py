"""``foyer connections saml-keys``: the service provider's keys of a SAML connection, and
their rotation in published steps (:mod:`app.strategies.saml_keys`).

foyer connections saml-keys --tenant acme corp-saml
foyer connections saml-keys --tenant acme corp-saml --rotate start    # publish a next key
foyer connections saml-keys --tenant acme corp-saml --rotate finish   # sign with it
foyer connections saml-keys --tenant acme corp-saml --rotate retire   # drop the old one
"""

from __future__ import annotations

import hashlib

import click
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.connections.services import find_connection
from app.hookspecs import hookimpl
from app.strategies.saml_keys import RotationError
from app.strategies.saml_keys import rotate
from app.strategies.saml_keys import sp_keys
from app.tenancy.cli import tenant_or_fail


@hookimpl(trylast=True)
def register_commands(cli: click.Group) -> None:
    """Last: into the ``foyer connections`` group its room added first."""
    group = cli.commands.get("connections")
    if isinstance(group, click.Group):
        group.add_command(saml_keys)


@click.command("saml-keys")
@click.argument("name")
@click.option("--tenant", "tenant_name", required=True)
@click.option(
    "--rotate",
    "step",
    type=click.Choice(["start", "finish", "retire"]),
    default=None,
    help="start: publish a next key; finish: sign with it; retire: drop the previous one.",
)
@pass_app
def saml_keys(ctx: AppContext, name: str, tenant_name: str, step: str | None) -> None:
    """List (or rotate) the SP keys of SAML connection NAME."""
    ctx.app  # noqa: B018 - create the app and its context
    tenant = tenant_or_fail(tenant_name)
    connection = find_connection(tenant, name)
    if connection is None or connection.strategy != "saml":
        fail(f"no SAML connection named {name!r} in tenant {tenant_name!r}")
    try:
        rows = rotate(connection, step) if step else sp_keys(connection)
    except RotationError as error:
        fail(str(error))
    for row in rows:
        certificate = x509.load_pem_x509_certificate(row.certificate.encode())
        digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        click.echo(f"{row.state:9} sha256 {digest[:32]}… valid until {row.not_after:%Y-%m-%d}")
