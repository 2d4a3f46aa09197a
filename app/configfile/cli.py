"""``foyer apply FILE [--dry-run] [--prune]`` and ``foyer export TENANT [-o FILE]``."""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from app.clikit import AppContext
from app.clikit import pass_app
from app.configfile.problems import ConfigInvalid
from app.db import session
from app.hookspecs import hookimpl
from app.tenancy.cli import tenant_or_fail

if t.TYPE_CHECKING:
    from app.configfile.apply import Result
    from app.configfile.plan import Plan


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    cli.add_command(apply_command)
    cli.add_command(export_command)


def load_file(
    text: str, name: str, env: t.Mapping[str, str] | None = None
) -> tuple[dict[str, t.Any], t.Any]:
    """Read and check a file's format (no database); raises ConfigInvalid."""
    # CLI start-up time: source and spec pull in PyYAML
    from app.configfile.source import read_source
    from app.configfile.spec import read_spec

    return read_spec(read_source(text, name, env))


def apply_text(
    text: str,
    name: str = "<config>",
    *,
    env: t.Mapping[str, str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
) -> Result | Plan:
    """Apply (or with ``dry_run`` only plan) a file's text; for ``foyer demo`` and tests.

    :raises ConfigInvalid: the file is invalid; nothing was written.
    """
    spec, reader = load_file(text, name, env)
    return run(spec, reader, name, dry_run=dry_run, prune=prune)


def run(
    spec: dict[str, t.Any], reader: t.Any, name: str, *, dry_run: bool, prune: bool
) -> Result | Plan:
    """Plan (``dry_run``) or apply a loaded file."""
    # CLI start-up time: apply pulls in PyYAML and every room's services
    from app.configfile.apply import apply_spec
    from app.configfile.apply import plan_file

    if dry_run:
        try:
            return plan_file(spec, reader, prune)
        finally:
            session.rollback()
    return apply_spec(spec, reader, prune, source=os.path.basename(name))


@click.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Delete connections, organizations and clients the file does not list.",
)
@pass_app
def apply_command(ctx: AppContext, file: str, dry_run: bool, prune: bool) -> None:
    """Create or update a tenant from a YAML FILE (`-` reads standard input).

    ${VAR} in values is replaced by the environment variable VAR ($${ for a literal ${).
    """
    # CLI start-up time: apply pulls in PyYAML and every room's services
    from app.configfile.apply import Result

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail([f"{file}: cannot read: {exc}"])
    ctx.app  # noqa: B018 - create the app and push its context
    name = "<stdin>" if file == "-" else file
    try:
        spec, reader = load_file(text, name)
        for warning in reader.warnings:
            click.echo(f"warning: {warning}", err=True)
        outcome = run(spec, reader, name, dry_run=dry_run, prune=prune)
    except ConfigInvalid as exc:
        _fail([str(p) for p in exc.problems])
    except (SQLAlchemyError, ValueError) as exc:
        # e.g. another apply created the same name meanwhile; the transaction was rolled back
        reason = type(getattr(exc, "orig", None) or exc).__name__
        _fail([f"{name}: the database refused the changes ({reason}); nothing was applied"])
    if isinstance(outcome, Result):
        click.echo(outcome.plan.render())
        if not outcome.plan.empty:
            click.echo("applied")
        for client_id, secret in outcome.generated_secrets.items():
            click.echo(f"client {client_id}: secret {secret}  (shown once: store it now)")
    else:
        click.echo(outcome.render())
        click.echo("dry run: nothing was changed")


def _fail(lines: list[str]) -> t.NoReturn:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(1)


@click.command("export")
@click.argument("tenant_name", metavar="TENANT")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write to this file instead of standard output.",
)
@pass_app
def export_command(ctx: AppContext, tenant_name: str, output: str) -> None:
    """Write TENANT's configuration in the format `foyer apply` reads (no secrets)."""
    # CLI start-up time: export pulls in PyYAML
    from app.configfile.export import dump

    ctx.app  # noqa: B018
    text = dump(tenant_or_fail(tenant_name))
    if output == "-":
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
