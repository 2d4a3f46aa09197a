"""Home realm discovery: which connection serves the identifier typed on the first page.

For now the candidates are the password connections of the sign-in's organization (or of
the tenant when there is none); the user is looked up in each and the first that knows
them wins, else the first candidate serves the password page anyway, so the answer never
reveals whether an account exists. The choice is recorded in the transaction (``tx.hrd``).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.connections.models import Connection
from app.db import session
from app.login import flow
from app.login.home_realm import HomeRealm
from app.login.home_realm import realm_from_plugins
from app.strategies.registry import strategy_for

if t.TYPE_CHECKING:
    from app.login.flow import LoginTransaction
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


class NoConnection(LookupError):
    """Nothing can check a password here: the tenant or organization has no such connection."""


def password_connections(tenant: Tenant, organization: Organization | None) -> list[Connection]:
    """Connections whose strategy takes a password on Foyer's page, in a stable order."""
    if organization is not None:
        candidates = list(organization.connections)
    else:
        candidates = list(
            session.scalars(
                sa.select(Connection)
                .where(Connection.tenant_id == tenant.id)
                .order_by(Connection.created_at, Connection.name)
            )
        )
    found = []
    for connection in candidates:
        try:
            strategy = strategy_for(connection)
        except LookupError:
            continue  # its plugin is not installed here; skip rather than fail the page
        if strategy.kind == "password":
            found.append(connection)
    return found


def choose_connection(
    tenant: Tenant,
    tx: LoginTransaction,
    identifier: str,
    organization: Organization | None = None,
) -> Connection:
    """Pick the connection for ``identifier`` and record why in ``tx`` (not saved here).

    :raises NoConnection: when no password connection is available.
    """
    realm = _realm_from_plugins(tenant, tx, identifier, organization)
    if realm is not None:
        tx.connection_id = realm.connection.id
        if realm.organization is not None:
            tx.organization_id = realm.organization.id
        flow.add_trace(tx, "plugin", realm.detail or realm.connection.name)
        return realm.connection
    candidates = password_connections(tenant, organization)
    if not candidates:
        raise NoConnection(tenant.name)
    chosen = None
    method = "user_lookup"
    for connection in candidates:  # every candidate, so timing does not depend on which
        if strategy_for(connection).find_user(identifier) is not None and chosen is None:
            chosen = connection
    if chosen is None:
        chosen = candidates[0]
        method = "first_password_connection"
    tx.connection_id = chosen.id
    flow.add_trace(tx, method, chosen.name)
    return chosen


def _realm_from_plugins(
    tenant: Tenant, tx: LoginTransaction, identifier: str, organization: Organization | None
) -> HomeRealm | None:
    """A ``home_realm_for_identifier`` plugin's answer, if it names a password connection."""
    from app.oidc.models import Client

    client = None
    if tx.client_id:
        client = session.scalar(
            sa.select(Client).where(Client.client_id == tx.client_id, Client.tenant_id == tenant.id)
        )
    realm = realm_from_plugins(identifier, tenant, organization, client)
    if realm is None:
        return None
    try:
        if strategy_for(realm.connection).kind != "password":
            return None  # the pages after this one ask for a password
    except LookupError:
        return None
    return realm


def connection_of(tenant: Tenant, connection_id: str | None) -> Connection | None:
    """The transaction's connection, only if it still belongs to this tenant."""
    if not connection_id:
        return None
    connection = session.get(Connection, connection_id)
    if connection is None or connection.tenant_id != tenant.id:
        return None
    return connection
