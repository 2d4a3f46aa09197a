"""``foyer events``: read, follow, export and prune the event log."""

from __future__ import annotations

import datetime as dt
import sys
import time
import typing as t

import click
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import normalize_email
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.db import session
from app.db import utcnow
from app.events import query as q
from app.events.models import Event
from app.events.types import EVENT_TYPES
from app.hookspecs import hookimpl
from app.orgs.models import Organization
from app.tenancy.cli import tenant_or_fail

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

FORMATS = ("text", "jsonl", "csv")


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    cli.add_command(events)


@click.group()
def events() -> None:
    """The event log: search, follow, export, prune (type codes: docs/events.md)."""


def filters(fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """The options every reading command shares."""
    options = [
        click.option("--tenant", "tenant_name", default=None, help="Only this tenant's events."),
        click.option(
            "--type",
            "types",
            multiple=True,
            help="Type code; repeat for several; `login_*` matches a prefix.",
        ),
        click.option("--user", default=None, help="User id, or email address (needs --tenant)."),
        click.option(
            "--organization", default=None, help="Organization id, or name (needs --tenant)."
        ),
        click.option("--client", "client_id", default=None, help="Application (client_id)."),
        click.option("--ip", default=None, help="Client address."),
        click.option("--since", default=None, help="From: 15m, 2h, 7d, 1w or an ISO time."),
        click.option("--until", default=None, help="Until (excluded): same forms."),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="text for people, jsonl or csv for tools.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_filter(
    tenant_name: str | None,
    types: tuple[str, ...],
    user: str | None,
    organization: str | None,
    client_id: str | None,
    ip: str | None,
    since: str | None,
    until: str | None,
) -> q.EventFilter:
    tenant = tenant_or_fail(tenant_name) if tenant_name else None
    for code in types:
        if not code.endswith("*") and code not in EVENT_TYPES:
            fail(f"unknown event type {code!r} (see foyer events types)")
    try:
        start = q.parse_when(since) if since else None
        end = q.parse_when(until) if until else None
    except ValueError as exc:
        fail(str(exc))
    return q.EventFilter(
        tenant_id=tenant.id if tenant is not None else None,
        types=types,
        user_ids=_user_ids(tenant, user) if user else None,
        organization_id=_organization_id(tenant, organization) if organization else None,
        client_id=client_id,
        ip=ip,
        since=start,
        until=end,
    )


def _user_ids(tenant: Tenant | None, user: str) -> tuple[str, ...]:
    if "@" not in user:
        return (user,)
    if tenant is None:
        fail("--user with an email address needs --tenant")
    ids = session.scalars(
        sa.select(User.id).where(
            User.tenant_id == tenant.id, User.email_normalized == normalize_email(user)
        )
    ).all()
    return tuple(ids) or ("-",)  # no such user: no event matches


def _organization_id(tenant: Tenant | None, organization: str) -> str:
    if tenant is not None:
        found = session.scalar(
            sa.select(Organization.id).where(
                Organization.tenant_id == tenant.id, Organization.name == organization
            )
        )
        if found is not None:
            return found
    return organization


def emit(rows: t.Iterable[Event], fmt: str, out: t.TextIO, header: bool = True) -> int:
    count = 0
    if fmt == "csv" and header:
        out.write(q.csv_header() + "\n")
    line = {"text": q.text_line, "jsonl": q.json_line, "csv": q.csv_line}[fmt]
    for event in rows:
        out.write(line(event) + "\n")
        count += 1
    out.flush()
    return count


@events.command("search")
@filters
@click.option(
    "--limit",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="At most this many, the newest (0: all).",
)
@pass_app
def search_command(ctx: AppContext, fmt: str, limit: int, **given: t.Any) -> None:
    """Events matching every filter given, newest first."""
    ctx.app  # noqa: B018 - create the app and its context
    flt = build_filter(**given)
    emit(q.search(flt, limit or None), fmt, sys.stdout)


@events.command("tail")
@filters
@click.option("-n", "count", type=click.IntRange(0), default=20, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they come.")
@click.option("--interval", type=click.FloatRange(0.1, 60), default=1.0, show_default=True)
@pass_app
def tail_command(
    ctx: AppContext, fmt: str, count: int, follow: bool, interval: float, **given: t.Any
) -> None:
    """The last events (oldest of them first), then, with -f, new ones as they come."""
    ctx.app  # noqa: B018 - create the app and its context
    flt = build_filter(**given)
    last = list(reversed(q.search(flt, count))) if count else []
    emit(last, fmt, sys.stdout)
    if not follow:
        return
    seen = {e.id for e in last}
    since = last[-1].created_at if last else utcnow()
    try:
        while True:
            time.sleep(interval)
            session.rollback()  # see what other processes committed
            flt.since = since - dt.timedelta(seconds=2)  # rows committed a little late
            fresh = [e for e in q.search(flt, None, newest_first=False) if e.id not in seen]
            emit(fresh, fmt, sys.stdout, header=False)
            for event in fresh:
                seen.add(event.id)
                since = max(since, event.created_at)
            if len(seen) > 10_000:
                seen = {e.id for e in fresh}
    except KeyboardInterrupt:
        return


@events.command("export")
@filters
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: standard output).",
)
@pass_app
def export_command(ctx: AppContext, fmt: str, output: str, **given: t.Any) -> None:
    """Every matching event, oldest first, as JSON Lines or CSV (any size: read in batches)."""
    ctx.app  # noqa: B018 - create the app and its context
    if fmt == "text":
        fmt = "jsonl"
    flt = build_filter(**given)
    with click.open_file(output, "w", encoding="utf-8") as out:
        count = emit(q.stream(flt), fmt, t.cast(t.TextIO, out))
    if output != "-":
        click.echo(f"exported {count} events to {output}", err=True)


@events.command("prune")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@pass_app
def prune_command(ctx: AppContext, tenant_name: str | None, dry_run: bool) -> None:
    """Delete events older than each tenant's retention (tenant.events.retention_days,
    else FOYER_EVENT_RETENTION_DAYS); run it daily (cron, a systemd timer)."""
    default = int(ctx.app.extensions["foyer.settings"].event_retention_days)
    tenant = tenant_or_fail(tenant_name) if tenant_name else None
    removed = q.prune(default, tenant, dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name, count in removed.items():
        click.echo(f"{name or '(no tenant)'}: {verb} {count} events")


@events.command("types")
def types_command() -> None:
    """Every event type code and what it means."""
    for code, meaning in EVENT_TYPES.items():
        click.echo(f"{code:28} {meaning}")
