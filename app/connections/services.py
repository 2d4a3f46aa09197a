"""Creating and finding connections, and which organizations a connection serves.

A connection enabled for exactly one organization is *dedicated* to it: it holds that
organization's *isolated* users, who belong there without a membership row, and a sign-in
through it brings its organization. A connection enabled for several organizations (or for
none) is a *shared pool*: its users enter an organization only as members. Enabling a
dedicated connection for a second organization therefore tightens access.
"""

from __future__ import annotations

import functools
import itertools
import re
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.accounts.services import normalize_email
from app.clikit import did_you_mean
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.connections.strategies import kind_of
from app.connections.strategies import strategy_for
from app.db import session
from app.orgs.models import Organization
from app.rowcache import row_cache

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.tenancy.models import Tenant


def find_connection(tenant: Tenant, name: str) -> Connection | None:
    return session.scalar(
        sa.select(Connection).where(Connection.tenant_id == tenant.id, Connection.name == name)
    )


def create_connection(
    tenant: Tenant,
    name: str,
    strategy: str = "database",
    display_name: str = "",
    options: dict[str, t.Any] | None = None,
    secrets: dict[str, t.Any] | None = None,
) -> Connection:
    if strategy not in current_app.extensions["foyer.strategies"]:
        raise ValueError(f"no connection strategy named {strategy!r}")
    connection = Connection(
        tenant_id=tenant.id,
        name=name,
        strategy=strategy,
        display_name=display_name or name,
        options=options or {},
    )
    connection.set_secrets(secrets or {})
    session.add(connection)
    session.flush()
    return connection


SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
"""A connection secret's name (``client_secret``)."""
STRATEGY_NAME = re.compile(r"[a-z0-9_-]{1,63}")


def check_connection(
    strategy: str,
    options: t.Mapping[str, t.Any],
    secrets: t.Mapping[str, t.Any] | None,
    stored: Connection | None,
) -> list[tuple[str, str]]:
    """What is wrong with a connection's settings, as ``[(field, message)]``: the checks
    that configuration files (``foyer apply``) and the management API share. ``secrets``
    None keeps the stored ones; ``stored`` is the connection being changed, if any.
    """
    registry = current_app.extensions["foyer.strategies"]
    problems: list[tuple[str, str]] = []
    if strategy not in registry:
        problems.append(
            (
                "strategy",
                f"unknown strategy {strategy!r} (installed: {', '.join(sorted(registry))})"
                + did_you_mean(strategy, registry),
            )
        )
    check_options = getattr(registry.get(strategy), "check_options", None)
    if check_options is not None:
        if secrets is None:
            secrets = stored.get_secrets() if stored is not None else {}
        for field, message in check_options(options, secrets):
            problems.append(
                (field if field.startswith("secrets.") else f"options.{field}", message)
            )
    if stored is not None and stored.strategy != strategy:
        problems.append(
            (
                "strategy",
                f"connection {stored.name!r} uses {stored.strategy!r}; a strategy cannot "
                "change (its users depend on it): add a new connection instead",
            )
        )
    return problems


def enables(organization: Organization, connection: Connection) -> bool:
    """The organization enables the connection (it is on its login page)."""
    return connection.id in {link.connection_id for link in organization.connection_links}


def dedicated_organization_id(connection: Connection) -> str | None:
    """The id of the organization that alone enables ``connection``, else None. Asked of
    every identifier submitted without an organization: kept in the worker's row cache."""
    connection_id = connection.id
    return row_cache().value(
        ("dedicated_organization_id", connection_id),
        lambda s: _dedicated_organization_id(s, connection_id),
    )


def _dedicated_organization_id(s: Session, connection_id: str) -> str | None:
    organization_ids = s.scalars(_TWO_LINKS, {"connection_id": connection_id}).all()
    return organization_ids[0] if len(organization_ids) == 1 else None


_TWO_LINKS = (
    sa.select(OrganizationConnection.organization_id)
    .where(OrganizationConnection.connection_id == sa.bindparam("connection_id"))
    .limit(2)
)
"""Built once: every identifier submitted without an organization asks it."""


def dedicated_organization(connection: Connection) -> Organization | None:
    """The organization that alone enables ``connection`` (its isolated users), else None."""
    organization_id = dedicated_organization_id(connection)
    return session.get(Organization, organization_id) if organization_id else None


def is_dedicated(connection: Connection, organization: Organization) -> bool:
    """The connection is enabled for this organization and for no other."""
    return dedicated_organization_id(connection) == organization.id


def password_strategies() -> tuple[list[str], list[str]]:
    """The installed strategies that take a password, as two lists: those whose users are
    rows of the user table found by email or username (``stored_users``), so the holders
    of an identifier across every connection are one indexed query; and the others, whose
    connections are asked one at a time."""
    stored, other = [], []
    for name, cls in current_app.extensions["foyer.strategies"].items():
        if getattr(cls, "kind", None) == "password":
            (stored if getattr(cls, "stored_users", False) else other).append(name)
    return stored, other


def _not_dedicated(connection_id: t.Any) -> sa.ColumnElement[bool]:
    """The connection is enabled by no organization or by several (a shared pool). Reads
    at most two links of the connection's index, whatever the number of organizations."""
    first = sa.orm.aliased(OrganizationConnection)
    one_organization = (
        sa.select(first.organization_id)
        .where(first.connection_id == connection_id)
        .correlate_except(first)
        .limit(1)
        .scalar_subquery()
    )
    linked = sa.exists().where(OrganizationConnection.connection_id == connection_id)
    another = sa.exists().where(
        OrganizationConnection.connection_id == connection_id,
        OrganizationConnection.organization_id != one_organization,
    )
    return sa.or_(~linked, another)


def first_password_connection(
    tenant: Tenant, *, shared: bool = False, signup: bool = False
) -> Connection | None:
    """The tenant's oldest password connection (``shared``: not dedicated to one
    organization; ``signup``: open to sign-up). Every hosted page asks it for its sign-up
    link: the answer is kept in the worker's row cache (:mod:`app.rowcache`)."""
    tenant_id = tenant.id
    found = row_cache().value(
        ("first_password_connection", tenant_id, shared, signup),
        lambda s: _first_password_connection_id(s, tenant_id, shared, signup),
    )
    if found is None:
        return None
    return row_cache().row(Connection, found)


def _first_password_connection_id(
    s: Session, tenant_id: str, shared: bool, signup: bool
) -> str | None:
    """Without loading the other connections: they are read in creation order through an
    index, a few at a time, and the first that fits ends the walk (a tenant's own pools are
    usually older than its organizations')."""
    stored, other = password_strategies()
    statement = sa.select(Connection).where(
        Connection.tenant_id == tenant_id, Connection.strategy.in_(stored + other)
    )
    # the conditions are checked here, not in SQL: a rare value (one connection open to
    # sign-up) would make the planner read and sort every connection instead of the index
    statement = statement.order_by(Connection.created_at, Connection.name)
    offset = 0
    for size in itertools.chain([1], itertools.repeat(WALK_PAGE)):  # usually the first fits
        rows = s.scalars(statement.limit(size).offset(offset)).all()
        offset += size
        for connection in rows:
            if not connection.enabled or (signup and not connection.signup_enabled):
                continue
            if not shared or _dedicated_organization_id(s, connection.id) is None:
                return connection.id
        if len(rows) < size:
            return None
    return None  # pragma: no cover (the loop returns)


WALK_PAGE = 20
"""Connections read at once by :func:`first_password_connection`."""


def password_connections_knowing(
    tenant: Tenant, identifier: str, *, shared: bool = False
) -> list[Connection]:
    """The tenant's password connections whose strategy finds ``identifier`` (``shared``:
    only those not dedicated to one organization), oldest first. The same statements run
    whether or not anyone holds the identifier, however many connections the tenant has:
    one for the stored users' connections, and when other strategies are installed one for
    their connections (each then asked in turn)."""
    stored, other = password_strategies()
    value = identifier.strip()
    by_email = "@" in value
    found_stored, asked = _knowing_statements(tuple(stored), tuple(other), shared, by_email)
    params = {"tenant_id": tenant.id, "value": normalize_email(value) if by_email else value}
    found = list(session.scalars(found_stored, params))
    if asked is not None:  # an empty IN () is a scan of the tenant's connections on SQLite
        asked_rows = session.scalars(asked, params)
        found += [c for c in asked_rows if strategy_for(c).find_user(value) is not None]
    return sorted(found, key=lambda c: (c.created_at, c.name))


@functools.cache
def _knowing_statements(
    stored: tuple[str, ...], other: tuple[str, ...], shared: bool, by_email: bool
) -> tuple[sa.Select[tuple[Connection]], sa.Select[tuple[Connection]] | None]:
    """The statements of :func:`password_connections_knowing`, built once per set of
    installed strategies: composing them cost more than running them, on every identifier
    submitted. Parameters: ``tenant_id`` and ``value`` (the normalized email, or the
    username)."""
    tenant_id, value = sa.bindparam("tenant_id"), sa.bindparam("value")
    column = User.email_normalized if by_email else User.username
    holders = sa.select(User.connection_id).where(User.tenant_id == tenant_id, column == value)
    found_stored = sa.select(Connection).where(
        Connection.id.in_(holders), Connection.strategy.in_(stored), Connection.enabled
    )
    asked = sa.select(Connection).where(
        Connection.tenant_id == tenant_id, Connection.strategy.in_(other), Connection.enabled
    )
    if shared:
        found_stored = found_stored.where(_not_dedicated(Connection.id))
        asked = asked.where(_not_dedicated(Connection.id))
    return found_stored, asked if other else None


def password_connections(organization: Organization) -> list[Connection]:
    """The organization's switched-on connections whose strategy takes a password on
    Foyer's page, in the order of its login page."""
    return [
        connection
        for connection in organization.connections
        if connection.enabled and kind_of(connection) == "password"
    ]


def redirect_connections(organization: Organization | None) -> list[Connection]:
    """The organization's switched-on connections that send the browser to an upstream IdP
    (one button each on its login page)."""
    if organization is None:
        return []
    return [c for c in organization.connections if c.enabled and kind_of(c) == "redirect"]


def set_enabled(connection: Connection, enabled: bool) -> bool:
    """Switch ``connection`` on or off (users, identities and settings are kept); returns
    whether that changed anything."""
    if connection.enabled == enabled:
        return False
    connection.enabled = enabled
    session.flush()
    return True
