"""The builtin ``database`` strategy: users and argon2id password hashes stored by Foyer."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import normalize_email
from app.connections.strategies import AuthResult
from app.connections.strategies import StrategyUnavailable
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.hookspecs import hookimpl
from app.security.hash_formats import is_legacy_hash
from app.security.hash_formats import verify_legacy_hash
from app.security.passwords import hash_password
from app.security.passwords import verify_password

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy


def refuse_when_switched_off(connection: Connection) -> None:
    """:raises StrategyUnavailable: when ``connection`` is switched off (``enabled: false``)."""
    if not connection.enabled:
        raise StrategyUnavailable(f"connection {connection.name} is switched off")


class DatabaseStrategy:
    name: t.ClassVar[str] = "database"
    kind: t.ClassVar[str] = "password"
    stored_users: t.ClassVar[bool] = True
    """:meth:`find_user` is a lookup of the connection's rows in the user table by email or
    username, so who holds an identifier among many connections is one indexed query
    (:func:`app.connections.services.password_connections_knowing`). A subclass whose
    ``find_user`` asks elsewhere sets it False."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def find_user(self, identifier: str) -> User | None:
        identifier = identifier.strip()
        column = User.email_normalized if "@" in identifier else User.username
        value = normalize_email(identifier) if "@" in identifier else identifier
        return session.scalar(
            sa.select(User).where(User.connection_id == self.connection.id, column == value)
        )

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        """:raises StrategyUnavailable: the connection is switched off (a sign-in that
        started before the switch gets the "unavailable" page, not a password check)."""
        refuse_when_switched_off(self.connection)
        user = self.find_user(identifier)
        stored = user.password_hash if user else None
        if stored is not None and is_legacy_hash(stored):
            # an imported hash (bcrypt, PBKDF2, scrypt): checked once, then argon2id
            ok = verify_legacy_hash(stored, password)
            new_hash = hash_password(password) if ok else None
        else:
            ok, new_hash = verify_password(stored, password)
        if not ok or user is None:
            return AuthResult(None)
        if new_hash:
            user.password_hash = new_hash
            session.commit()
            record_event(
                "password_rehashed",
                tenant_id=user.tenant_id,
                user_id=user.id,
                connection_id=self.connection.id,
            )
        return AuthResult(user, amr=["pwd"])

    def set_password(self, user: User, password: str) -> None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [DatabaseStrategy]
