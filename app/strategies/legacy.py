"""The builtin ``legacy`` strategy: proxy an existing user store and move users in lazily.

A ``legacy`` connection names a store (``options.store``) that a plugin registers through
``register_legacy_stores``. A sign-in first checks Foyer's own copy of the user; only a
user Foyer does not know yet (or knows without a password) is checked against the store.
On the first success the user is created in Foyer (or completed) with an argon2id hash of
the password just typed, in one transaction, so every later sign-in stays in Foyer and the
store may be switched off once everyone has signed in or been moved with
``foyer users migrate``. A store that cannot be reached raises
:class:`~app.connections.strategies.StrategyUnavailable` (a "try again later" page); nothing is
created half-way.
"""

from __future__ import annotations

import dataclasses
import typing as t

import click
import sqlalchemy as sa
from flask import current_app

from app.accounts.models import Identity
from app.accounts.models import User
from app.accounts.services import create_user
from app.accounts.services import normalize_email
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.connections.services import find_connection
from app.connections.strategies import AuthResult
from app.connections.strategies import StrategyUnavailable
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.hooks import HookTimeout
from app.hooks import PluginError
from app.hooks import hook_budget
from app.hooks import plugin_manager
from app.hooks import report_failure
from app.hookspecs import hookimpl
from app.security.passwords import dummy_verify
from app.security.passwords import hash_password
from app.strategies.database import DatabaseStrategy
from app.strategies.database import refuse_when_switched_off
from app.strategies.legacy_hashes import import_hash
from app.strategies.legacy_hashes import is_legacy_hash
from app.strategies.legacy_hashes import verify_legacy_hash
from app.tenancy.cli import tenant_or_fail

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy


@dataclasses.dataclass
class LegacyUser:
    """A user as the legacy store knows them."""

    id: str
    """The store's stable id for the user, kept as the identity's subject."""
    email: str | None = None
    username: str | None = None
    email_verified: bool = False
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    app_metadata: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    password_scheme: str | None = None
    """For bulk export: the scheme of ``password_hash`` (``bcrypt``, ``pbkdf2_sha256``)."""
    password_hash: str | None = None
    """For bulk export: the stored hash, when the store can give it and Foyer can check it."""


@t.runtime_checkable
class LegacyStore(t.Protocol):
    """An existing user store that a ``legacy`` connection proxies until users have moved.

    ``name`` is what a connection's ``options.store`` names. The store is built per use from
    the connection: its ``options`` (addresses, paths, timeouts) and ``get_secrets()``.
    """

    name: t.ClassVar[str]

    def __init__(self, connection: Connection) -> None: ...

    def authenticate(self, identifier: str, password: str) -> LegacyUser | None:
        """Check a password; None when the user is unknown or the password wrong.

        :raises StrategyUnavailable: when the store cannot be reached (refused, timed out).
        """
        ...

    def export_users(self) -> t.Iterable[LegacyUser]:
        """Every user, with ``password_scheme``/``password_hash`` where they can be given.

        :raises StrategyUnavailable: when the store cannot be reached.
        """
        ...


class LegacyStoreMissing(LookupError):
    """The connection names no store, or a store no installed plugin registers."""


def store_for(connection: Connection) -> LegacyStore:
    """Build the store a legacy connection names in ``options.store``."""
    wanted = (connection.options or {}).get("store")
    for batch in plugin_manager().hook.register_legacy_stores():
        for cls in batch:
            if cls.name == wanted:
                return t.cast(LegacyStore, cls(connection))
    raise LegacyStoreMissing(f"connection {connection.name!r}: no legacy store named {wanted!r}")


def _store_plugin(connection: Connection) -> str:
    return f"legacy store {(connection.options or {}).get('store')!r}"


def _ask_store(
    connection: Connection, call: t.Callable[[], t.Any], what: str, timed: bool = True
) -> t.Any:
    """Run a store call (inside the plugin time budget when ``timed``); a network failure
    becomes :class:`StrategyUnavailable`, any other error a contained plugin failure."""
    budget = float(current_app.extensions["foyer.settings"].plugin_timeout) if timed else 0.0
    try:
        with hook_budget(budget, f"{_store_plugin(connection)} {what}"):
            return call()
    except StrategyUnavailable:
        raise
    except (HookTimeout, OSError) as exc:  # refused, reset, timed out (socket.timeout)
        raise StrategyUnavailable(f"{_store_plugin(connection)}: {type(exc).__name__}") from exc
    except LegacyStoreMissing:
        raise
    except Exception as exc:
        report_failure(_store_plugin(connection), what, exc, None, None)
        raise PluginError(_store_plugin(connection), what, exc) from exc


class LegacyStrategy(DatabaseStrategy):
    """Users already moved sign in like ``database`` users; the others through the store."""

    name: t.ClassVar[str] = "legacy"
    kind: t.ClassVar[str] = "password"

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        refuse_when_switched_off(self.connection)
        user = self.find_user(identifier)
        if user is not None and user.password_hash and not is_legacy_hash(user.password_hash):
            return super().authenticate(identifier, password)  # moved: never asks the store
        if user is not None and is_legacy_hash(user.password_hash):
            return self._verify_imported(user, password)
        found = _ask_store(
            self.connection,
            lambda: store_for(self.connection).authenticate(identifier.strip(), password),
            "authenticate",
        )
        if found is None:
            if user is None:
                dummy_verify(password)  # same cost as a known user's wrong password
            return AuthResult(None)
        return AuthResult(self._move_in(found, password, user), amr=["pwd"])

    def _verify_imported(self, user: User, password: str) -> AuthResult:
        assert user.password_hash is not None
        if not verify_legacy_hash(user.password_hash, password):
            return AuthResult(None)
        user.password_hash = hash_password(password)
        session.commit()
        record_event(
            "password_rehashed",
            tenant_id=user.tenant_id,
            user_id=user.id,
            connection_id=self.connection.id,
            data={"from": "legacy"},
        )
        return AuthResult(user, amr=["pwd"])

    def _move_in(self, found: LegacyUser, password: str, user: User | None) -> User:
        """Create (or complete) the Foyer copy of a store user, all in one transaction."""
        user = user or self._user_for_subject(found.id) or self._user_for(found)
        created = user is None
        try:
            if user is None:
                user = create_user(
                    self.connection,
                    email=found.email,
                    username=found.username,
                    email_verified=found.email_verified,
                    password_hash=hash_password(password),
                    **_profile(found),
                )
            else:
                user.password_hash = hash_password(password)
                user.password_changed_at = utcnow()
            self._link(user, found)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        if created:
            record_event(
                "user_created",
                tenant_id=user.tenant_id,
                user_id=user.id,
                connection_id=self.connection.id,
                data={"via": "legacy_sign_in"},
            )
        record_event(
            "user_migrated",
            tenant_id=user.tenant_id,
            user_id=user.id,
            connection_id=self.connection.id,
            data={"via": "sign_in"},
        )
        return user

    def _user_for_subject(self, subject: str) -> User | None:
        return session.scalar(
            sa.select(User)
            .join(Identity, Identity.user_id == User.id)
            .where(Identity.connection_id == self.connection.id, Identity.subject == subject)
        )

    def _user_for(self, found: LegacyUser) -> User | None:
        for identifier in (found.email, found.username):
            if identifier:
                user = self.find_user(identifier)
                if user is not None:
                    return user
        return None

    def _link(self, user: User, found: LegacyUser) -> None:
        if any(i.connection_id == self.connection.id for i in user.identities):
            return
        user.identities.append(
            Identity(connection_id=self.connection.id, subject=found.id, profile={"legacy": True})
        )


def _profile(found: LegacyUser) -> dict[str, t.Any]:
    fields = ("name", "given_name", "family_name", "locale")
    profile = {name: getattr(found, name) for name in fields if getattr(found, name)}
    if found.app_metadata:
        profile["app_metadata"] = dict(found.app_metadata)
    return profile


@dataclasses.dataclass
class MigrationReport:
    created: int = 0
    with_hash: int = 0
    """Created with an imported hash: their first sign-in does not need the store."""
    skipped: int = 0
    """Already in Foyer (same store id, email or username)."""


def migrate_users(
    connection: Connection, *, dry_run: bool = False, batch: int = 200
) -> MigrationReport:
    """Copy every store user that Foyer does not hold yet into the connection.

    A hash Foyer can check (:mod:`app.strategies.legacy_hashes`) is kept as
    ``legacy:<scheme>:<hash>`` and replaced by argon2id at the user's first sign-in; users
    without one are created without a password and still sign in through the store once.
    """
    strategy = LegacyStrategy(connection)
    report = MigrationReport()
    users = _ask_store(
        connection, lambda: list(store_for(connection).export_users()), "export_users", timed=False
    )
    created: list[User] = []
    seen: set[str] = set()
    for found in users:
        keys = {f"id:{found.id}"}
        keys |= {f"email:{normalize_email(found.email)}"} if found.email else set()
        keys |= {f"username:{found.username}"} if found.username else set()
        if keys & seen or strategy._user_for_subject(found.id) or strategy._user_for(found):
            report.skipped += 1
            continue
        seen |= keys
        password_hash = None
        if found.password_scheme and found.password_hash:
            try:
                password_hash = import_hash(found.password_scheme, found.password_hash)
            except ValueError:
                password_hash = None
        report.created += 1
        report.with_hash += password_hash is not None
        if dry_run:
            continue
        user = create_user(
            connection,
            email=found.email,
            username=found.username,
            email_verified=found.email_verified,
            password_hash=password_hash,
            **_profile(found),
        )
        strategy._link(user, found)
        created.append(user)
        if len(created) % batch == 0:
            session.commit()
    if dry_run:
        session.rollback()
        return report
    session.commit()
    for user in created:
        record_event(
            "user_created",
            tenant_id=user.tenant_id,
            user_id=user.id,
            connection_id=connection.id,
            data={"via": "legacy_migration"},
        )
    return report


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [LegacyStrategy]


@hookimpl
def register_commands(cli: click.Group) -> None:
    users = t.cast(click.Group, cli.commands["users"])

    @users.command("migrate")
    @click.option("--tenant", "tenant_name", required=True)
    @click.option("--connection", "connection_name", required=True)
    @click.option("--dry-run", is_flag=True, help="Count what would be moved; change nothing.")
    @pass_app
    def users_migrate(
        ctx: AppContext, tenant_name: str, connection_name: str, dry_run: bool
    ) -> None:
        """Move every user of a legacy connection's store into Foyer at once."""
        ctx.app  # noqa: B018 - create the app and its context
        tenant = tenant_or_fail(tenant_name)
        connection = find_connection(tenant, connection_name)
        if connection is None or connection.strategy != LegacyStrategy.name:
            fail(f"tenant {tenant_name} has no legacy connection {connection_name!r}")
        try:
            report = migrate_users(connection, dry_run=dry_run)
        except StrategyUnavailable:
            fail("the legacy store cannot be reached; nothing was changed")
        except LegacyStoreMissing as exc:
            fail(str(exc))
        verb = "would create" if dry_run else "created"
        click.echo(
            f"{verb} {report.created} users ({report.with_hash} with an imported password "
            f"hash), skipped {report.skipped} already in Foyer"
        )
