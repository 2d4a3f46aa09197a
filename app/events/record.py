"""record_event(): store an event (in its own transaction) and hand it to the sinks."""

from __future__ import annotations

import dataclasses
import logging
import typing as t

import sqlalchemy as sa
from flask import has_request_context
from flask import request
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from app.db import core_execute
from app.db import get_database
from app.db import new_id
from app.db import session
from app.db import sqlite_write_holder
from app.db import utcnow
from app.events.models import Event
from app.events.types import EVENT_TYPES
from app.events.types import EventRecord
from app.hooks import HookTimeout
from app.hooks import call_hook
from app.observability import metrics
from app.tenancy.models import Tenant

if t.TYPE_CHECKING:
    from app.orgs.models import Organization

log = logging.getLogger(__name__)


def record_event(
    type_: str,
    *,
    tenant: Tenant | None = None,
    tenant_id: str | None = None,
    organization: Organization | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
    connection_id: str | None = None,
    data: dict[str, t.Any] | None = None,
) -> EventRecord:
    """Store one event and send it to every ``track_event`` sink.

    The event is written in a separate session and committed at once, so a failing
    request (rolled back) still leaves its trace. Never put secrets or passwords in ``data``.
    """
    record = _new_record(
        type_,
        tenant=tenant,
        tenant_id=tenant_id,
        organization=organization,
        user_id=user_id,
        client_id=client_id,
        connection_id=connection_id,
        data=data,
    )
    _store(record)
    _send(record, tenant, organization)
    return record


def commit_with_event(
    type_: str,
    *,
    tenant: Tenant,
    organization: Organization | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
    connection_id: str | None = None,
    data: dict[str, t.Any] | None = None,
) -> EventRecord:
    """Commit the request's transaction with this event written in it, then send the event
    to the sinks.

    For a success that is the request's own work (a token issued, a sign-in finished): one
    commit instead of the two of :func:`record_event`, and the event exists exactly when
    the work does.
    """
    record = _new_record(
        type_,
        tenant=tenant,
        organization=organization,
        user_id=user_id,
        client_id=client_id,
        connection_id=connection_id,
        data=data,
    )
    core_execute(INSERT_EVENT, _row(record))
    session.commit()
    _send(record, tenant, organization)
    return record


def _new_record(
    type_: str,
    *,
    tenant: Tenant | None,
    tenant_id: str | None = None,
    organization: Organization | None = None,
    user_id: str | None = None,
    client_id: str | None = None,
    connection_id: str | None = None,
    data: dict[str, t.Any] | None = None,
) -> EventRecord:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    return EventRecord(
        id=new_id(),
        type=type_,
        created_at=utcnow(),
        tenant_id=tenant.id if tenant is not None else tenant_id,
        user_id=user_id,
        client_id=client_id,
        organization_id=organization.id if organization is not None else None,
        connection_id=connection_id,
        ip=request.remote_addr if has_request_context() else None,
        data=dict(data or {}),
    )


def _send(record: EventRecord, tenant: Tenant | None, organization: Organization | None) -> None:
    count_in_metrics(record, tenant, organization)
    call_hook(
        "track_event",
        tenant=tenant if tenant is not None else _tenant_by_id(record.tenant_id),
        organization=organization,
        contain=True,
        event=record,
    )


def commit_with_events(
    type_: str, *, tenant: Tenant, entries: t.Iterable[t.Mapping[str, t.Any]]
) -> list[EventRecord]:
    """Commit the session's transaction with many events of one type written in it (one
    INSERT), then send each to the sinks.

    For bulk work (imports): one event per user, without one transaction per event, and
    the events exist exactly when the users do. Each entry may set ``user_id``,
    ``client_id``, ``connection_id`` and ``data``.
    """
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")

    now = utcnow()
    records = [
        EventRecord(
            id=new_id(),
            type=type_,
            created_at=now,
            tenant_id=tenant.id,
            user_id=entry.get("user_id"),
            client_id=entry.get("client_id"),
            connection_id=entry.get("connection_id"),
            data=dict(entry.get("data") or {}),
        )
        for entry in entries
    ]
    if records:
        session.connection().execute(INSERT_EVENT, [_row(record) for record in records])
    session.commit()
    for record in records:
        count_in_metrics(record, tenant, None)
        call_hook("track_event", tenant=tenant, contain=True, event=record)
    return records


SIGN_IN_RESULTS = {
    "login_succeeded": "success",
    "login_failed": "failed",
    "login_denied": "denied",
    "login_blocked": "blocked",
}
LOCKOUTS = {
    "login_pair_blocked": "pair_blocked",
    "login_delayed": "account_delayed",
    "ip_throttled": "address_throttled",
}
PROTECTION_REASONS = frozenset({"pair_blocked", "account_delayed", "address_throttled"})


def count_in_metrics(
    record: EventRecord, tenant: Tenant | None, organization: Organization | None
) -> None:
    """Events feed the metrics: every type, sign-in results by tenant and organization
    (names, bounded per process), attack protection stepping in."""
    metrics.count_event(record.type)
    result = SIGN_IN_RESULTS.get(record.type)
    if result is not None:
        if result == "failed" and record.data.get("reason") in PROTECTION_REASONS:
            result = "locked_out"
        metrics.count_sign_in(
            result,
            tenant.name if tenant is not None else None,
            organization.name if organization is not None else None,
        )
    lockout = LOCKOUTS.get(record.type)
    if lockout is not None:
        metrics.count_lockout(lockout)


def _store(record: EventRecord) -> None:
    """Write the event in its own transaction, now or, on SQLite, once the request's open
    write transaction ends (SQLite has one writer: waiting for it here would deadlock)."""
    main = sqlite_write_holder()
    if main is not None:
        pending: list[EventRecord] = main.info.setdefault(PENDING, [])
        if not main.info.get(LISTENING):
            sa.event.listen(main, "after_transaction_end", _write_pending)
            main.info[LISTENING] = True
        pending.append(record)
        return
    _write([record])


PENDING = "foyer_pending_events"
LISTENING = "foyer_pending_events_listener"


def _write(records: list[EventRecord]) -> None:
    """Insert the rows in one short transaction of their own.

    A plain INSERT: events are append-only, so the ORM's unit of work (half the cost of
    an event on the token endpoint) has nothing to track.
    """
    with get_database().engine.begin() as connection:
        connection.execute(INSERT_EVENT, [_row(record) for record in records])


def _row(record: EventRecord) -> dict[str, t.Any]:
    return {f.name: getattr(record, f.name) for f in RECORD_FIELDS}


RECORD_FIELDS = dataclasses.fields(EventRecord)
INSERT_EVENT = t.cast(sa.Table, Event.__table__).insert()


def _write_pending(main: Session, transaction: SessionTransaction) -> None:
    """Store the events held back while the session's outermost transaction was open,
    whether it committed or rolled back (a failed request still leaves its trace)."""
    if transaction.parent is not None:
        return
    pending = main.info.pop(PENDING, None)
    if pending:
        try:
            _write(pending)
        except Exception:
            log.exception("could not store %d events", len(pending))


def _tenant_by_id(tenant_id: str | None) -> Tenant | None:
    """The tenant, so scoped sinks see the events of tenants that enable them."""
    if tenant_id is None:
        return None
    try:
        return session.get(Tenant, tenant_id)
    except Exception:  # the request's session may be what failed; unscoped sinks still run
        return None


def record_plugin_failure(
    _app: t.Any,
    *,
    plugin: str,
    hook: str,
    error: BaseException,
    tenant: Tenant | None,
    organization: Organization | None,
) -> None:
    """Record a failure reported on :data:`app.hooks.hook_failed` as ``plugin_failed``."""
    if hook == "track_event":
        return  # never recurse into the sinks that just failed
    try:
        record_event(
            "plugin_failed",
            tenant=tenant,
            organization=organization,
            data={
                "plugin": plugin,
                "hook": hook,
                "error": type(error).__name__,
                "timed_out": isinstance(error, HookTimeout),
            },
        )
    except Exception:  # the database may be what failed
        log.exception("could not record the failure of plugin %s", plugin)


def record_storage_failure(_app: t.Any, *, backend: str, error: str) -> None:
    """Record a failure reported on :data:`app.security.counters.storage_unavailable`."""
    try:
        record_event("counter_storage_failed", data={"backend": backend, "error": error})
    except Exception:  # the database may be down too; the log has the failure
        log.exception("could not record the failure of %s", backend)


def record_mail_failure(
    _app: t.Any,
    *,
    tenant_id: str,
    organization_id: str | None,
    purpose: str,
    attempts: int,
    error: str | None,
) -> None:
    """Record an email given up by the outbox (:data:`app.mail.outbox.mail_given_up`)."""
    try:
        record_event(
            "email_failed",
            tenant_id=tenant_id,
            data={"purpose": purpose, "attempts": attempts},
        )
    except Exception:  # the database may be what failed; the log has the failure
        log.exception("could not record the failure of a %s email", purpose)
