"""Which tables a backup holds, in which order, and which rows belong to a tenant.

Table-driven: every table of every room's models is backed up unless :data:`EXCLUDED` names
it with the reason, so a new table is in the next backup without anyone remembering it
(tests/ops/test_backup_restore.py fails on a table that is neither).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.models import metadata

EVENTS = "event"
"""The event log: in a backup only with ``--events`` (it is often most of the rows)."""

EXCLUDED: dict[str, str] = {
    "login_transaction": "sign-ins in progress: they expire in minutes and are started again",
    "authorization_code": "single-use codes that live a minute; a restored one could be "
    "redeemed a second time",
    "counter": "rate-limit and lockout windows of minutes (kept in Redis when there is one)",
    "api_idempotent_request": "stored answers to retried API calls, kept for a day",
    "outgoing_mail": "the mail outbox: a restored copy would send its emails a second time",
    "backchannel_logout": "logout tokens being delivered: a restored copy would deliver them "
    "a second time",
    "background_job": "queued work (payloads encrypted per deployment): a restored copy "
    "would run it a second time",
}
"""Tables never backed up, each with the reason."""


def backed_up_tables(events: bool) -> list[sa.Table]:
    """The tables of a backup, parents before children (the order a restore inserts in)."""
    return [
        table
        for table in metadata.sorted_tables
        if table.name not in EXCLUDED and (events or table.name != EVENTS)
    ]


def tenant_scope(table: sa.Table, tenant_ids: t.Sequence[str]) -> sa.ColumnElement[bool] | None:
    """The condition selecting the rows of ``table`` that belong to these tenants, or None
    when the table has no way to its tenant.

    The tenant itself by id; a table with ``tenant_id`` by that column; any other through its
    first non-null foreign key to a table that has a way (``identity`` through ``user``,
    ``refresh_token`` through ``token_grant``).
    """
    if table.name == "tenant":
        return table.c.id.in_(tenant_ids)
    if "tenant_id" in table.c:
        return table.c.tenant_id.in_(tenant_ids)
    for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
        if fk.parent.nullable or fk.column.table is table:
            continue
        parent = fk.column.table
        condition = tenant_scope(parent, tenant_ids)
        if condition is not None:
            return fk.parent.in_(sa.select(fk.column).where(condition))
    return None
