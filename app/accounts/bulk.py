"""Bulk import of users with pre-hashed passwords (``foyer users import`` and the management
API's import jobs), for migrations.

Hashes may be argon2id (kept as they are) or bcrypt, Django's PBKDF2 or Werkzeug's scrypt
(kept as imported hashes, replaced by argon2id at the user's first sign-in:
:mod:`app.security.hash_formats`). A line may also be in the shape of Auth0's user export
(``custom_password_hash`` or ``passwordHash``; Auth0's own ids and counters are ignored).

The file is JSON Lines, one user per line. It is read twice: first every line is checked
(nothing is written if one is wrong, as ``foyer apply`` does), then users are inserted in
batches, each batch one transaction with one multi-row INSERT for the users and one for
their ``user_created`` events. A user whose email or username the connection already holds
is left as it is and counted as skipped (the INSERT leaves out, in the database, rows its
unique constraints refuse: no lookup per batch, so the rate holds as the table grows), so
an interrupted import can simply be run again.
``prepare_user`` plugins see every new user, as they do for :func:`create_user` (and a row
the connection turns out to hold already, which is then left out).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import typing as t
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from app.accounts.models import User
from app.accounts.services import clean_email
from app.accounts.services import normalize_email
from app.db import new_id
from app.db import session
from app.db import utcnow
from app.events.record import commit_with_events
from app.hooks import call_hook
from app.hooks import plugin_manager
from app.security.hash_formats import recognize
from app.textsearch import compact

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
ARGON2ID = re.compile(r"\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
EMAIL = re.compile(r"[^@\s<>\"'(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
TEXT_FIELDS = {"name": 255, "given_name": 255, "family_name": 255, "locale": 16}
FLAGS = ("email_verified", "blocked")
METADATA = ("user_metadata", "app_metadata")
FIELDS = frozenset({"email", "username", "password_hash", *TEXT_FIELDS, *FLAGS, *METADATA})
"""What a line may hold; anything else is refused (a typo must not be dropped silently)."""
COLUMNS = tuple(column.key for column in User.__table__.columns)
"""Every user column: a new user's row, with what ``prepare_user`` plugins set."""
NEW_USER = dict.fromkeys(COLUMNS)
USERS = t.cast(sa.Table, User.__table__)
"""A new user's row before its values: every column, empty."""


class ImportInvalid(ValueError):
    """The file has mistakes; nothing was imported. ``problems`` are ``(line, message)``."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} invalid lines")
        self.problems = problems


@dataclasses.dataclass
class ImportResult:
    imported: int = 0
    skipped: int = 0
    """Users the connection already had (same email or username), left unchanged."""


AUTH0_ONLY = frozenset(
    {
        "user_id",
        "nickname",
        "picture",
        "created_at",
        "updated_at",
        "last_login",
        "last_ip",
        "logins_count",
        "identities",
        "custom_password_hash",
        "passwordHash",
        "phone_number",
        "phone_verified",
        "multifactor",
    }
)
"""Keys of Auth0's user export that Foyer's own lines never have."""


def from_auth0(item: dict[str, t.Any]) -> dict[str, t.Any]:
    """An Auth0 export line in Foyer's shape: its password hash, its profile and metadata."""
    values = {k: v for k, v in item.items() if k in FIELDS and k != "password_hash"}
    custom = item.get("custom_password_hash")
    hashed = item.get("passwordHash")
    if isinstance(custom, dict):
        inner = custom.get("hash")
        hashed = inner.get("value") if isinstance(inner, dict) else None
        if hashed is None:
            raise ValueError("custom_password_hash.hash.value is missing")
    if hashed is not None:
        values["password_hash"] = hashed
    return values


def parse_line(text: str | dict[str, t.Any]) -> dict[str, t.Any]:
    """One line (or an already parsed object) as the values of a new user.

    :raises ValueError: with a message naming the field.
    """
    if isinstance(text, dict):
        item = text
    else:
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(item, dict):
        raise ValueError("a line must be a JSON object")
    if AUTH0_ONLY & set(item):
        item = from_auth0(item)
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    email, username = item.get("email"), item.get("username")
    if not email and not username:
        raise ValueError("a user needs an email or a username")
    if email is not None:
        try:
            email = clean_email(email) if isinstance(email, str) and len(email) <= 320 else ""
        except ValueError:
            email = ""
        if not EMAIL.fullmatch(email):
            raise ValueError("email is not an email address")
    if username is not None and (not isinstance(username, str) or not 0 < len(username) <= 128):
        raise ValueError("username must be text of at most 128 characters")
    password_hash = item.get("password_hash")
    if password_hash is not None:
        if not isinstance(password_hash, str) or len(password_hash) > 480:
            raise ValueError("password_hash must be text of at most 480 characters")
        password_hash = recognize(password_hash)
        if password_hash.startswith("$argon2id$") and not ARGON2ID.fullmatch(password_hash):
            raise ValueError("password_hash is not a valid argon2id hash")
    for name, limit in TEXT_FIELDS.items():
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise ValueError(f"{name} must be text of at most {limit} characters")
    for name in FLAGS:
        if not isinstance(item.get(name, False), bool):
            raise ValueError(f"{name} must be true or false")
    for name in METADATA:
        if not isinstance(item.get(name, {}), dict):
            raise ValueError(f"{name} must be an object")
    return {
        "email": email or None,
        "email_normalized": normalize_email(email) if email else None,
        "username": username or None,
        "password_hash": password_hash,
        **{name: item.get(name) for name in TEXT_FIELDS},
        **{name: item.get(name, False) for name in FLAGS},
        **{name: item.get(name) or {} for name in METADATA},
    }


def check_file(path: Path) -> int:
    """Check every line (and duplicates within the file); returns the number of users.

    :raises ImportInvalid: listing every wrong line.
    """
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    count = 0
    for number, text in _lines(path):
        try:
            values = parse_line(text)
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        count += 1
        for key in _keys(values):
            if key in seen:
                problems.append((number, f"{key[0]} already on line {seen[key]}"))
            else:
                seen[key] = number
    if problems:
        raise ImportInvalid(problems)
    return count


def import_users(
    path: Path, tenant: Tenant, connection: Connection, batch_size: int = BATCH_SIZE
) -> ImportResult:
    """Insert the users of a checked file (:func:`check_file`) in batches.

    :raises app.hooks.PluginError: when a ``prepare_user`` plugin raises; the batches
        before it stay imported (run the import again once the plugin is fixed).
    """
    result = ImportResult()
    batch: list[dict[str, t.Any]] = []
    for _number, text in _lines(path):
        batch.append(parse_line(text))
        if len(batch) >= batch_size:
            _import_batch(batch, tenant, connection, result)
            batch = []
    if batch:
        _import_batch(batch, tenant, connection, result)
    _merge_search_index(result.imported, batch_size)
    return result


def _merge_search_index(imported: int, batch_size: int) -> None:
    """After an import that committed several batches, fold what the batches left beside
    the name-search index into it (:func:`app.textsearch.compact`: SQLite's segments,
    PostgreSQL's pending list), which every search by name reads otherwise."""
    if imported <= batch_size:
        return
    try:
        compact("user")
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        # the users are in, searches are only slower: the database was busy, or (PostgreSQL)
        # Foyer's role does not own the indexes
        log.warning("the name-search index was not merged after the import: %s", exc.orig)


@dataclasses.dataclass
class ImportReport:
    """What a tolerant import did: counts, and ``(row, message)`` for every refused row."""

    total: int = 0
    processed: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    through: int = 0
    """Every row up to this number is accounted for (committed): where a resumed run starts."""
    finished: bool = False
    """False when ``stop`` ended the run early; run it again from ``through``."""


def import_rows(
    rows: t.Iterable[tuple[int, t.Any]],
    tenant: Tenant,
    connection: Connection,
    progress: t.Callable[[ImportReport], None] | None = None,
    batch_size: int = BATCH_SIZE,
    total: int = 0,
    resume: ImportReport | None = None,
    stop: t.Callable[[], bool] | None = None,
    seen: dict[tuple[str, str], int] | None = None,
) -> ImportReport:
    """Import what is valid, refuse the rest row by row (``(row number, line or object)``):
    the API's import jobs. A row repeating an email or username of an earlier row is
    refused; one the connection already holds is skipped.

    ``progress`` is told before each batch commits, in the batch's transaction, so what it
    writes (a job's counts and ``through``) is true exactly when the batch is. With
    ``resume`` (the report committed last), rows up to ``resume.through`` are only read
    again for their emails and usernames: nothing is imported or counted twice. ``stop`` is
    asked after each batch; when it answers True the run ends there, ``finished`` False.
    ``seen`` is filled with the valid rows' emails and usernames; passed back filled (the
    run before, in this process, up to ``resume.through``), those rows are not read again.

    :raises app.hooks.PluginError: when a ``prepare_user`` plugin raises; the batches
        before it stay imported.
    """
    report = dataclasses.replace(resume, errors=list(resume.errors)) if resume else None
    report = report or ImportReport(total=total)
    done = report.through
    known = bool(seen)
    seen = {} if seen is None else seen
    batch: list[dict[str, t.Any]] = []

    def commit(through: int) -> None:
        def before_commit(result: ImportResult) -> None:
            report.imported += result.imported
            report.skipped += result.skipped
            report.through = through
            if progress is not None:
                progress(report)

        report.processed += len(batch)
        _import_batch(batch, tenant, connection, ImportResult(), before_commit)
        batch.clear()

    number = done
    for number, raw in rows:
        if known and number <= done:
            continue
        try:
            values = parse_line(raw)
            for key in _keys(values):
                if key in seen:
                    raise ValueError(f"{key[0]} already on row {seen[key]}")
        except ValueError as exc:
            if number > done:
                report.failed += 1
                report.processed += 1
                report.errors.append((number, str(exc)))
            continue
        for key in _keys(values):
            seen[key] = number
        if number <= done:
            continue
        batch.append(values)
        if len(batch) >= batch_size:
            commit(number)
            if stop is not None and stop():
                return report
    commit(max(number, done))
    _merge_search_index(report.imported, batch_size)
    report.finished = True
    return report


def _lines(path: Path) -> t.Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            if text.strip():
                yield number, text


def _keys(values: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    keys = []
    if values["email_normalized"]:
        keys.append(("email", values["email_normalized"]))
    if values["username"]:
        keys.append(("username", values["username"]))
    return keys


def _insert_new(dialect: str) -> t.Any:
    """An INSERT of users that leaves out, in the database, every row whose email or
    username the connection already holds (its unique constraints): no lookup per batch,
    whose cost grew with the table, and no race with a concurrent import."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(USERS).on_conflict_do_nothing()


def _import_batch(
    batch: list[dict[str, t.Any]],
    tenant: Tenant,
    connection: Connection,
    result: ImportResult,
    before_commit: t.Callable[[ImportResult], None] | None = None,
) -> None:
    """Insert a batch and its ``user_created`` events in one transaction; ``before_commit``
    sees the batch's counts and may write in that transaction too."""
    now = utcnow()
    # a User object per row only for plugins to change; without any, plain rows are enough
    plugins = bool(plugin_manager().hook.prepare_user.get_hookimpls())
    rows = []
    for values in batch:
        row = dict(
            NEW_USER,
            id=new_id(),
            tenant_id=tenant.id,
            connection_id=connection.id,
            created_at=now,
            **values,
        )
        if plugins:
            user = User(**row)
            call_hook(
                "prepare_user", tenant=tenant, organization=None, user=user, connection=connection
            )
            row = {key: getattr(user, key) for key in COLUMNS}
        rows.append(row)
    inserted: set[str] = set()
    if rows:
        # Core: the ORM bulk path costs more than the INSERT; no RETURNING, which would
        # make one huge statement per batch (costlier to send than the rows themselves)
        database = session.connection()
        written = database.execute(_insert_new(database.dialect.name), rows).rowcount
        inserted = {row["id"] for row in rows}
        if written != len(rows):  # some were there already: which of ours landed
            inserted = set(
                database.execute(sa.select(USERS.c.id).where(USERS.c.id.in_(inserted))).scalars()
            )
    result.imported += len(inserted)
    result.skipped += len(batch) - len(inserted)
    if before_commit is not None:
        before_commit(result)
    commit_with_events(
        "user_created",
        tenant=tenant,
        entries=[
            {"user_id": row["id"], "connection_id": connection.id, "data": {"via": "import"}}
            for row in rows
            if row["id"] in inserted
        ],
    )
