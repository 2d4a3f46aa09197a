"""Creating and finding connections."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.connections.models import Connection
from app.db import session

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
    from flask import current_app

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
