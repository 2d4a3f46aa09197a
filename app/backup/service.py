"""Writing a backup of the database's rows and restoring one into an empty database."""

from __future__ import annotations

import base64
import datetime as dt
import importlib.metadata
import typing as t

import sqlalchemy as sa

from app.backup.archive import FORMAT
from app.backup.archive import ArchiveError
from app.backup.archive import ArchiveWriter
from app.backup.archive import read_records
from app.backup.tables import EXCLUDED
from app.backup.tables import backed_up_tables
from app.backup.tables import tenant_scope
from app.db import TZDateTime
from app.db import utcnow
from app.migrate import current_revision
from app.migrate import head_revision
from app.migrate import is_known_revision
from app.migrate import upgrade
from app.models import metadata

if t.TYPE_CHECKING:
    from app.db import Database

BATCH = 500
"""Rows per INSERT statement on restore."""
Progress = t.Callable[[int], None]


class RestoreRefused(Exception):
    """The database cannot take the backup (not empty, another schema): one line."""


# --- values to JSON and back, by column type -----------------------------------------------


def _encoder(column: sa.Column[t.Any]) -> t.Callable[[t.Any], t.Any] | None:
    if isinstance(column.type, TZDateTime | sa.DateTime | sa.Date):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(column.type, sa.LargeBinary):
        return lambda value: None if value is None else base64.b64encode(value).decode()
    return None


def _decoder(column: sa.Column[t.Any]) -> t.Callable[[t.Any], t.Any] | None:
    if isinstance(column.type, TZDateTime):
        return lambda value: None if value is None else dt.datetime.fromisoformat(value)
    if isinstance(column.type, sa.DateTime):
        return lambda value: None if value is None else dt.datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return lambda value: None if value is None else dt.date.fromisoformat(value)
    if isinstance(column.type, sa.LargeBinary):
        return lambda value: None if value is None else base64.b64decode(value)
    return None


def _convert(
    columns: t.Sequence[sa.Column[t.Any]], pick: t.Callable[[sa.Column[t.Any]], t.Any]
) -> t.Callable[[t.Sequence[t.Any]], list[t.Any]]:
    steps = [(i, fn) for i, fn in enumerate(pick(c) for c in columns) if fn is not None]

    def convert(row: t.Sequence[t.Any]) -> list[t.Any]:
        values = list(row)
        for i, fn in steps:
            values[i] = fn(values[i])
        return values

    return convert


# --- backup ----------------------------------------------------------------------------------


def _snapshot(conn: sa.Connection) -> None:
    """Read every table as of one moment (writers may go on meanwhile)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")  # pysqlite starts no transaction for a SELECT


def write_backup(
    database: Database,
    out: t.BinaryIO,
    passphrase: str,
    tenant_names: t.Sequence[str] | None,
    events: bool,
    progress: t.Callable[[int], t.ContextManager[Progress]],
) -> dict[str, int]:
    """Write every backed-up row (of the named tenants, or of all) to ``out``.

    :param progress: Given the number of rows, a context whose value is told of each batch.
    :returns: Rows per table.
    :raises LookupError: a named tenant does not exist.
    """
    engine = database.engine
    options: dict[str, t.Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn, conn.begin():
        _snapshot(conn)
        tenant = metadata.tables["tenant"]
        names = conn.execute(sa.select(tenant.c.id, tenant.c.name).order_by(tenant.c.name)).all()
        if tenant_names is None:
            scope_ids = None
            chosen = [name for _, name in names]
        else:
            by_name = {name: id_ for id_, name in names}
            missing = [n for n in tenant_names if n not in by_name]
            if missing:
                raise LookupError(missing[0])
            scope_ids = [by_name[n] for n in tenant_names]
            chosen = list(tenant_names)
        plan = []
        for table in backed_up_tables(events):
            condition = None if scope_ids is None else tenant_scope(table, scope_ids)
            if scope_ids is not None and condition is None:
                raise RuntimeError(f"table {table.name} has no way to its tenant")
            count_query = sa.select(sa.func.count()).select_from(table)
            if condition is not None:
                count_query = count_query.where(condition)
            plan.append((table, condition, conn.execute(count_query).scalar_one()))
        counts = {table.name: n for table, _, n in plan}
        writer = ArchiveWriter(out, passphrase)
        writer.write(
            {
                "manifest": {
                    "format": FORMAT,
                    "revision": current_revision(database),
                    "foyer": importlib.metadata.version("foyer"),
                    "created_at": utcnow().isoformat(),
                    "tenants": chosen,
                    "all": tenant_names is None,
                    "events": events,
                    "rows": counts,
                    "excluded": sorted(EXCLUDED),
                }
            }
        )
        with progress(sum(counts.values())) as advance:
            for table, condition, _ in plan:
                columns = list(table.columns)
                writer.write({"table": table.name, "columns": [c.name for c in columns]})
                convert = _convert(columns, _encoder)
                query = sa.select(*columns).order_by(*table.primary_key.columns)
                if condition is not None:
                    query = query.where(condition)
                result = conn.execution_options(yield_per=BATCH).execute(query)
                for rows in result.partitions():
                    for row in rows:
                        writer.write(convert(row))
                    advance(len(rows))
        writer.write({"end": counts})
        writer.close()
    return counts


# --- restore ---------------------------------------------------------------------------------


def non_empty_tables(database: Database) -> list[str]:
    """The tables of Foyer's schema that hold rows (a restore needs none)."""
    existing = set(sa.inspect(database.engine).get_table_names())
    full = []
    with database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if (
                table.name in existing
                and conn.execute(sa.select(1).select_from(table).limit(1)).first()
            ):
                full.append(table.name)
    return full


def check_manifest(database: Database, record: t.Any) -> dict[str, t.Any]:
    """The archive's manifest, if this code can restore it into this database's schema."""
    manifest = record.get("manifest") if isinstance(record, dict) else None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("rows"), dict):
        raise ArchiveError("the backup is damaged: it does not start with its manifest")
    revision = manifest.get("revision")
    head = head_revision(database)
    if revision != head:
        made_by = f"Foyer {manifest.get('foyer', '?')} (schema {revision})"
        if not isinstance(revision, str) or not is_known_revision(revision):
            raise RestoreRefused(
                f"this backup was made by {made_by}, newer than this Foyer (schema {head}): "
                "restore it with that version or a newer one"
            )
        raise RestoreRefused(
            f"this backup was made by {made_by}, older than this Foyer (schema {head}): "
            "restore it with that version, then upgrade Foyer and run `foyer db upgrade`"
        )
    return manifest


def restore_backup(
    database: Database,
    stream: t.BinaryIO,
    passphrase: str,
    progress: t.Callable[[int], t.ContextManager[Progress]],
) -> dict[str, t.Any]:
    """Restore an archive into an empty database, in one transaction.

    The schema is migrated first; every row is then inserted and the counts compared with
    the archive's before the commit, so a damaged archive leaves the database empty.

    :returns: The archive's manifest.
    :raises ArchiveError: the archive cannot be read (any point: nothing is committed).
    :raises RestoreRefused: the database is not empty, or the schemas differ.
    """
    full = non_empty_tables(database)
    if full:
        shown = ", ".join(full[:5]) + (", ..." if len(full) > 5 else "")
        raise RestoreRefused(
            f"the database is not empty ({shown} hold rows): restore needs an empty database"
        )
    records = read_records(stream, passphrase)
    manifest = check_manifest(database, next(records, None))
    upgrade(database)
    counts: dict[str, int] = {}
    expected = manifest["rows"]
    with database.engine.begin() as conn, progress(sum(expected.values())) as advance:
        table: sa.Table | None = None
        insert: t.Any = None
        convert: t.Callable[[t.Sequence[t.Any]], list[t.Any]] = list
        names: list[str] = []
        batch: list[dict[str, t.Any]] = []

        def flush() -> None:
            if batch:
                conn.execute(insert, batch)
                advance(len(batch))
                batch.clear()

        for record in records:
            if isinstance(record, list):
                if table is None or len(record) != len(names):
                    raise ArchiveError("the backup is damaged: a row outside its table")
                batch.append(dict(zip(names, convert(record), strict=True)))
                counts[table.name] += 1
                if len(batch) >= BATCH:
                    flush()
            elif "table" in record:
                flush()
                table = metadata.tables.get(record["table"])
                names = list(record.get("columns") or ())
                if table is None or any(name not in table.c for name in names):
                    raise RestoreRefused(
                        f"the backup's table {record['table']!r} does not match this schema"
                    )
                insert = table.insert()
                convert = _convert([table.c[name] for name in names], _decoder)
                counts[table.name] = 0
            elif "end" in record:
                flush()
                if record["end"] != counts or counts != expected:
                    raise ArchiveError("the backup is damaged: its row counts do not add up")
                break
        else:
            raise ArchiveError("the backup is damaged: it has no end")
        for _ in records:  # reading on checks the last part and that nothing follows
            raise ArchiveError("the backup is damaged: something follows its end")
    return manifest


def canonical_dump(stream: t.BinaryIO, passphrase: str) -> dict[str, list[list[t.Any]]]:
    """Every table's rows of an archive, by table name (for comparing two backups)."""
    tables: dict[str, list[list[t.Any]]] = {}
    current: list[list[t.Any]] = []
    for record in read_records(stream, passphrase):
        if isinstance(record, list):
            current.append(record)
        elif "table" in record:
            current = tables.setdefault(record["table"], [])
    return tables
