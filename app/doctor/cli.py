"""``foyer doctor``: print the findings about this deployment; the exit code is for CI."""

from __future__ import annotations

import json
import sys

import click

from app.clikit import AppContext
from app.clikit import pass_app
from app.doctor.examine import examine
from app.doctor.findings import SEVERITIES
from app.doctor.findings import exit_code
from app.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(doctor)


@click.command("doctor")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.option(
    "--environment",
    type=click.Choice(["production", "development"]),
    default="production",
    show_default=True,
    help="development: the demo, debug mode and development helpers are expected.",
)
@pass_app
def doctor(ctx: AppContext, fmt: str, strict: bool, environment: str) -> None:
    """Check this deployment against the operating guide's recommendations."""
    findings = examine(ctx.app, production=environment == "production")
    code = exit_code(findings, strict)
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "findings": [f.as_dict() for f in findings],
                    "counts": counts,
                    "exit_code": code,
                },
                indent=2,
            )
        )
    else:
        for f in findings:
            click.echo(f"{f.severity}: {f.message} [{f.code}]")
            click.echo(f"    see {f.docs}")
        summary = ", ".join(
            f"{n} {s}{'s' if n != 1 and s != 'info' else ''}" for s, n in counts.items()
        )
        click.echo(f"{summary}" if findings else "no findings")
    sys.exit(code)
