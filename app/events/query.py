"""Reading the event log: filters, time expressions, export formats and retention."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import typing as t

import sqlalchemy as sa

from app.db import session
from app.db import utcnow
from app.events.models import Event
from app.tenancy.models import Tenant

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
COLUMNS = (
    "id",
    "created_at",
    "type",
    "tenant_id",
    "organization_id",
    "user_id",
    "client_id",
    "connection_id",
    "ip",
    "data",
)
"""The fields of an exported event, in order (CSV header, JSON keys)."""


def parse_when(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """``15m``, ``2h``, ``7d``, ``1w`` ago, or an ISO 8601 date or time (UTC if naive).

    :raises ValueError: with a message for the user.
    """
    value = text.strip()
    match = RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or utcnow()) - dt.timedelta(**{UNITS[unit]: amount})
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use 15m, 2h, 7d, 1w or an ISO date (2026-12-01T08:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclasses.dataclass
class EventFilter:
    """Which events to read; every field given must match."""

    tenant_id: str | None = None
    types: tuple[str, ...] = ()
    user_ids: tuple[str, ...] | None = None
    organization_id: str | None = None
    client_id: str | None = None
    ip: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self, query: sa.Select[t.Any]) -> sa.Select[t.Any]:
        if self.tenant_id is not None:
            query = query.where(Event.tenant_id == self.tenant_id)
        if self.types:
            exact = [x for x in self.types if not x.endswith("*")]
            prefixes = [x[:-1] for x in self.types if x.endswith("*")]
            query = query.where(
                sa.or_(
                    Event.type.in_(exact),
                    *(Event.type.startswith(p, autoescape=True) for p in prefixes),
                )
            )
        if self.user_ids is not None:
            query = query.where(Event.user_id.in_(self.user_ids))
        if self.organization_id is not None:
            query = query.where(Event.organization_id == self.organization_id)
        if self.client_id is not None:
            query = query.where(Event.client_id == self.client_id)
        if self.ip is not None:
            query = query.where(Event.ip == self.ip)
        if self.since is not None:
            query = query.where(Event.created_at >= self.since)
        if self.until is not None:
            query = query.where(Event.created_at < self.until)
        return query


def search(flt: EventFilter, limit: int | None = 100, newest_first: bool = True) -> list[Event]:
    """Matching events; the newest ``limit`` ones (all when None), in the order asked."""
    order = Event.created_at.desc() if newest_first else Event.created_at.asc()
    query = flt.where(sa.select(Event)).order_by(order, Event.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def stream(flt: EventFilter, batch: int = 1000) -> t.Iterator[Event]:
    """Every matching event, oldest first, read in batches (exports of any size)."""
    last: tuple[dt.datetime, str] | None = None
    while True:
        query = flt.where(sa.select(Event)).order_by(Event.created_at, Event.id).limit(batch)
        if last is not None:
            query = query.where(
                sa.or_(
                    Event.created_at > last[0],
                    sa.and_(Event.created_at == last[0], Event.id > last[1]),
                )
            )
        rows = list(session.scalars(query))
        session.expunge_all()
        if not rows:
            return
        yield from rows
        last = (rows[-1].created_at, rows[-1].id)


def as_dict(event: Event) -> dict[str, t.Any]:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat(),
        "type": event.type,
        "tenant_id": event.tenant_id,
        "organization_id": event.organization_id,
        "user_id": event.user_id,
        "client_id": event.client_id,
        "connection_id": event.connection_id,
        "ip": event.ip,
        "data": event.data or {},
    }


def json_line(event: Event) -> str:
    return json.dumps(as_dict(event), sort_keys=True, default=str)


def csv_header() -> str:
    return _csv_row(list(COLUMNS))


def csv_line(event: Event) -> str:
    values = as_dict(event)
    values["data"] = json.dumps(values["data"], sort_keys=True, default=str)
    return _csv_row(["" if values[c] is None else str(values[c]) for c in COLUMNS])


def _csv_row(values: list[str]) -> str:
    buffer = io.StringIO()
    # a value starting with = + - @ is a formula to a spreadsheet: quote it as text
    safe = ["'" + v if v[:1] in ("=", "+", "-", "@") else v for v in values]
    csv.writer(buffer, lineterminator="\n").writerow(safe)
    return buffer.getvalue().rstrip("\n")


def text_line(event: Event) -> str:
    """One event for a terminal: time, type, then the fields that are set."""
    parts = [event.created_at.strftime("%Y-%m-%d %H:%M:%S"), f"{event.type:26}"]
    for name in ("organization_id", "user_id", "client_id", "ip"):
        value = getattr(event, name)
        if value:
            parts.append(f"{name.removesuffix('_id')}={value}")
    if event.data:
        parts.append(json.dumps(event.data, sort_keys=True, default=str))
    return "  ".join(parts)


def retention_days(tenant: Tenant | None, default: int) -> int:
    """How long ``tenant``'s events are kept (its ``events.retention_days``, else the
    deployment's setting)."""
    if tenant is not None:
        days = ((tenant.settings or {}).get("events") or {}).get("retention_days")
        if days:
            return int(days)
    return default


def prune(default_days: int, tenant: Tenant | None = None, dry_run: bool = False) -> dict[str, int]:
    """Delete events older than each tenant's retention (events of no tenant: the
    default); returns how many per tenant name (``""``: no tenant)."""
    now = utcnow()
    tenants = [tenant] if tenant is not None else list(session.scalars(sa.select(Tenant)))
    removed: dict[str, int] = {}
    for each in tenants:
        cutoff = now - dt.timedelta(days=retention_days(each, default_days))
        removed[each.name] = _delete(Event.tenant_id == each.id, cutoff, dry_run)
    if tenant is None:
        cutoff = now - dt.timedelta(days=default_days)
        removed[""] = _delete(Event.tenant_id.is_(None), cutoff, dry_run)
    if not dry_run:
        session.commit()
    return removed


def _delete(scope: sa.ColumnElement[bool], cutoff: dt.datetime, dry_run: bool) -> int:
    old = sa.and_(scope, Event.created_at < cutoff)
    if dry_run:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Event).where(old)) or 0)
    result = session.execute(
        sa.delete(Event).where(old).execution_options(synchronize_session=False)
    )
    return int(t.cast(sa.CursorResult[t.Any], result).rowcount)
