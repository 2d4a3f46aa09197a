"""``foyer backup`` and ``foyer restore``."""

from __future__ import annotations

import contextlib
import os
import sys
import typing as t
from pathlib import Path

import click
import sqlalchemy as sa

from app import create_app
from app.backup.archive import ArchiveError
from app.backup.service import Progress
from app.backup.service import RestoreRefused
from app.backup.service import restore_backup
from app.backup.service import write_backup
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.db import database_problem
from app.hookspecs import hookimpl

PASSPHRASE_VARIABLE = "FOYER_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 12


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(backup_command)
    cli.add_command(restore_command)


def passphrase_option(fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    return click.option(
        "--passphrase-file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help=f"Read the passphrase from this file's first line [default: ${PASSPHRASE_VARIABLE}, "
        "else asked on the terminal].",
    )(fn)


def get_passphrase(path: str | None, confirm: bool) -> str:
    """The passphrase from a file, the environment or the terminal; never an argument
    (arguments are visible to every user of the machine in the process list)."""
    if path is not None:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        passphrase = lines[0] if lines else ""
    elif os.environ.get(PASSPHRASE_VARIABLE):
        passphrase = os.environ[PASSPHRASE_VARIABLE]
    elif sys.stdin.isatty():
        passphrase = click.prompt(
            "Backup passphrase", hide_input=True, confirmation_prompt=confirm, err=True
        )
    else:
        fail(f"no passphrase: set {PASSPHRASE_VARIABLE} or give --passphrase-file")
    if confirm and len(passphrase) < MIN_PASSPHRASE:
        fail(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters")
    return passphrase


def progress_bar(label: str) -> t.Callable[[int], t.ContextManager[Progress]]:
    """A progress bar on a terminal, nothing otherwise (cron, pipes, logs)."""

    @contextlib.contextmanager
    def open_bar(total: int) -> t.Iterator[Progress]:
        if not sys.stderr.isatty():
            yield lambda n: None
            return
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar.update

    return open_bar


@click.command("backup")
@click.option("--tenant", "tenants", multiple=True, help="Back up this tenant (repeat for more).")
@click.option("--all", "everything", is_flag=True, help="Back up every tenant.")
@click.option("--events", is_flag=True, help="Include the event log.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Archive to write."
)
@passphrase_option
@pass_app
def backup_command(
    ctx: AppContext,
    tenants: tuple[str, ...],
    everything: bool,
    events: bool,
    output: str,
    passphrase_file: str | None,
) -> None:
    """Write one tenant, or all, to an encrypted archive for `foyer restore`.

    Holds the configuration, users with their password hashes, identities, memberships,
    multi-factor enrolments, signing keys (still encrypted with FOYER_ENCRYPTION_KEYS),
    clients, refresh-token families and their revocations, invitations; events with
    --events. See docs/operating.md, "Backup and restore".
    """
    if bool(tenants) == everything:
        fail("name the tenant to back up (--tenant NAME) or give --all")
    passphrase = get_passphrase(passphrase_file, confirm=True)
    database = ctx.app.extensions["foyer.db"]
    target = Path(output)
    partial = target.with_name(target.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    try:
        with os.fdopen(fd, "wb") as out:
            counts = write_backup(
                database,
                out,
                passphrase,
                None if everything else list(tenants),
                events,
                progress_bar("backing up"),
            )
        partial.replace(target)
    except LookupError as exc:
        fail(f"no tenant named {exc.args[0]!r}")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"wrote {sum(counts.values())} rows of {len(counts)} tables to {output}", err=True)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@passphrase_option
@pass_app
def restore_command(ctx: AppContext, archive: str, passphrase_file: str | None) -> None:
    """Restore an archive of `foyer backup` into an empty database (migrated first), in one
    transaction: on any error nothing is restored."""
    passphrase = get_passphrase(passphrase_file, confirm=False)
    # the start-up schema check would tell to run `foyer db upgrade`: restore migrates itself
    app = ctx.created or AppContext(factory=lambda: create_app(check_schema=False)).app
    database = app.extensions["foyer.db"]
    try:
        with open(archive, "rb") as stream:
            manifest = restore_backup(database, stream, passphrase, progress_bar("restoring"))
    except (ArchiveError, RestoreRefused) as exc:
        fail(str(exc))
    except sa.exc.SQLAlchemyError as exc:
        fail(f"the restore failed and nothing was restored: {database_problem(exc)}")
    rows = sum(manifest["rows"].values())
    scope = "every tenant" if manifest["all"] else ", ".join(manifest["tenants"])
    click.echo(
        f"restored {rows} rows ({scope}) from a backup of {manifest['created_at']}", err=True
    )
