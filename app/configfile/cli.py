"""``foyer apply FILE [--dry-run] [--prune]`` and ``foyer export TENANT [-o FILE]``."""

from __future__ import annotations

import dataclasses
import json
import sys
import typing as t
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from app.clikit import AppContext
from app.clikit import pass_app
from app.configfile.problems import ConfigInvalid
from app.configfile.problems import Problem
from app.hookspecs import hookimpl
from app.tenancy.cli import tenant_or_fail


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    cli.add_command(apply_command)
    cli.add_command(export_command)


@click.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--prune",
    is_flag=True,
    help="Delete connections, organizations and clients the file does not list.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON document on standard output (the plan, or the problems), for CI.",
)
@pass_app
def apply_command(
    ctx: AppContext, file: str, dry_run: bool, prune: bool, output_format: str
) -> None:
    """Create or update a tenant from a YAML FILE (`-` reads standard input).

    ${VAR} in values is replaced by the environment variable VAR ($${ for a literal ${).
    """
    as_json = output_format == "json"
    # CLI start-up time: apply pulls in PyYAML and every room's services
    from app.configfile import apply

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail([f"{file}: cannot read: {exc}"], as_json)
    ctx.app  # noqa: B018 - create the app and push its context
    name = "<stdin>" if file == "-" else file
    try:
        spec, reader = apply.load_file(text, name)
        for warning in reader.warnings:
            click.echo(f"warning: {warning}", err=True)
        outcome = apply.run(spec, reader, name, dry_run=dry_run, prune=prune)
    except ConfigInvalid as exc:
        _fail(list(exc.problems), as_json)
    except (SQLAlchemyError, ValueError) as exc:
        # e.g. another apply created the same name meanwhile; the transaction was rolled back
        reason = type(getattr(exc, "orig", None) or exc).__name__
        _fail(
            [f"{name}: the database refused the changes ({reason}); nothing was applied"],
            as_json,
        )
    if as_json:
        plan = outcome.plan if isinstance(outcome, apply.Result) else outcome
        document: dict[str, t.Any] = {"applied": isinstance(outcome, apply.Result)}
        document.update(plan.as_json())
        if isinstance(outcome, apply.Result) and outcome.generated_secrets:
            document["generated_secrets"] = outcome.generated_secrets  # shown once
        click.echo(json.dumps(document, indent=2, default=str))
        return
    if isinstance(outcome, apply.Result):
        click.echo(outcome.plan.render())
        if not outcome.plan.empty:
            click.echo("applied")
        for client_id, secret in outcome.generated_secrets.items():
            click.echo(f"client {client_id}: secret {secret}  (shown once: store it now)")
    else:
        click.echo(outcome.render())
        click.echo("dry run: nothing was changed")


def _fail(problems: t.Sequence[Problem | str], as_json: bool = False) -> t.NoReturn:
    """Every problem on standard error, or as one JSON document on standard output."""
    if as_json:
        errors = [
            dataclasses.asdict(p) if isinstance(p, Problem) else {"message": p} for p in problems
        ]
        click.echo(json.dumps({"applied": False, "errors": errors}, indent=2))
    else:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
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
