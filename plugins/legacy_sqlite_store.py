"""Example legacy store: users in another application's SQLite database (bcrypt, PBKDF2).

A ``legacy`` connection proxies it until every user has moved into Foyer::

    connections:
      - name: old-app
        strategy: legacy
        options: {store: legacy_sqlite, path: /srv/old-app/users.db}

The database has a ``users`` table with ``id``, ``email``, ``username``, ``password_hash``,
``email_verified`` and ``name`` columns (change :data:`QUERY` for another layout). Hashes
are bcrypt (``$2b$...``) or PBKDF2-SHA256 (``pbkdf2_sha256$<iterations>$<salt>$<digest>``).
The file is opened read-only: Foyer never writes to the old store.
"""

from __future__ import annotations

import sqlite3
import typing as t
from pathlib import Path

from app import LegacyUser
from app import StrategyUnavailable
from app import hookimpl
from app import normalize_email
from app import time_left
from app import verify_hash

if t.TYPE_CHECKING:
    from app import Connection
    from app import LegacyStore

COLUMNS = "id, email, username, password_hash, email_verified, name"
QUERY = f"SELECT {COLUMNS} FROM users"


def split_hash(stored: str | None) -> tuple[str, str] | None:
    """(scheme, hash) of a stored hash, or None for one this store cannot check."""
    if not stored:
        return None
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        return "bcrypt", stored
    if stored.startswith("pbkdf2_sha256$"):
        return "pbkdf2_sha256", stored.removeprefix("pbkdf2_sha256$")
    return None


class SQLiteStore:
    name: t.ClassVar[str] = "legacy_sqlite"

    def __init__(self, connection: Connection) -> None:
        self.path = Path(str((connection.options or {}).get("path", "")))

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=time_left(5.0)
            )
            db.row_factory = sqlite3.Row
            db.execute("SELECT 1 FROM users LIMIT 1")
        except sqlite3.Error as exc:  # missing file, locked, not a database
            raise StrategyUnavailable(f"legacy SQLite store: {exc}") from exc
        return db

    def authenticate(self, identifier: str, password: str) -> LegacyUser | None:
        db = self._connect()
        try:
            if "@" in identifier:
                row = db.execute(
                    f"{QUERY} WHERE lower(email) = ?", (normalize_email(identifier),)
                ).fetchone()
            else:
                row = db.execute(f"{QUERY} WHERE username = ?", (identifier,)).fetchone()
        except sqlite3.Error as exc:
            raise StrategyUnavailable(f"legacy SQLite store: {exc}") from exc
        finally:
            db.close()
        if row is None:
            return None
        parts = split_hash(row["password_hash"])
        if parts is None or not verify_hash(parts[0], parts[1], password):
            return None
        return _user(row, with_hash=False)

    def export_users(self) -> t.Iterator[LegacyUser]:
        db = self._connect()
        try:
            rows = db.execute(f"{QUERY} ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise StrategyUnavailable(f"legacy SQLite store: {exc}") from exc
        finally:
            db.close()
        for row in rows:
            yield _user(row, with_hash=True)


def _user(row: sqlite3.Row, with_hash: bool) -> LegacyUser:
    parts = split_hash(row["password_hash"]) if with_hash else None
    return LegacyUser(
        id=str(row["id"]),
        email=row["email"],
        username=row["username"],
        email_verified=bool(row["email_verified"]),
        name=row["name"],
        password_scheme=parts[0] if parts else None,
        password_hash=parts[1] if parts else None,
    )


@hookimpl
def register_legacy_stores() -> list[type[LegacyStore]]:
    return [SQLiteStore]
