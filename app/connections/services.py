"""Creating and finding connections, and which organizations a connection serves.

A connection enabled for exactly one organization is *dedicated* to it: it holds that
organization's *isolated* users, who belong there without a membership row, and a sign-in
through it brings its organization. A connection enabled for several organizations (or for
none) is a *shared pool*: its users enter an organization only as members. Enabling a
dedicated connection for a second organization therefore tightens access.
"""

from __future__ import annotations

import re
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.clikit import did_you_mean
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.connections.strategies import kind_of
from app.db import session
from app.orgs.models import Organization

if t.TYPE_CHECKING:
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
    """The id of the organization that alone enables ``connection``, else None."""
    organization_ids = session.scalars(
        sa.select(OrganizationConnection.organization_id)
        .where(OrganizationConnection.connection_id == connection.id)
        .limit(2)
    ).all()
    return organization_ids[0] if len(organization_ids) == 1 else None


def dedicated_organization(connection: Connection) -> Organization | None:
    """The organization that alone enables ``connection`` (its isolated users), else None."""
    organization_id = dedicated_organization_id(connection)
    return session.get(Organization, organization_id) if organization_id else None


def is_dedicated(connection: Connection, organization: Organization) -> bool:
    """The connection is enabled for this organization and for no other."""
    return dedicated_organization_id(connection) == organization.id


def shared_connections(tenant: Tenant) -> list[Connection]:
    """The tenant's switched-on connections not dedicated to one organization (shared pools
    and connections of no organization), oldest first."""
    dedicated = (
        sa.select(OrganizationConnection.connection_id)
        .join(Connection, Connection.id == OrganizationConnection.connection_id)
        .where(Connection.tenant_id == tenant.id)
        .group_by(OrganizationConnection.connection_id)
        .having(sa.func.count() == 1)
    )
    return list(
        session.scalars(
            sa.select(Connection)
            .where(
                Connection.tenant_id == tenant.id,
                Connection.id.not_in(dedicated),
                Connection.enabled,
            )
            .order_by(Connection.created_at, Connection.name)
        )
    )


def password_connections(tenant: Tenant, organization: Organization | None) -> list[Connection]:
    """Switched-on connections whose strategy takes a password on Foyer's page, in a stable
    order: the organization's, or every connection of the tenant."""
    if organization is not None:
        pool = list(organization.connections)
    else:
        pool = list(
            session.scalars(
                sa.select(Connection)
                .where(Connection.tenant_id == tenant.id)
                .order_by(Connection.created_at, Connection.name)
            )
        )
    return [c for c in pool if c.enabled and kind_of(c) == "password"]


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
