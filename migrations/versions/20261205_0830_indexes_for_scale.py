"""indexes that keep sign-in, the picker and user search flat with data

Revision ID: 20261205_0830
Revises: 20261205_0870
Create Date: 2026-12-05 08:30:00

With 100,000 organizations (each with its own connection) and a million users, these
lookups would otherwise read every row of a tenant: the oldest password connection that
is not dedicated to one organization (``connection``: tenant, creation order), who holds a
username (``user``: tenant, username), the management API's users in creation order
(``user``: tenant, created_at, id) and the picker's list in name order (``organization``:
tenant, display name, name). On PostgreSQL, trigram indexes (``pg_trgm``, when the server
has it) serve the "contains" searches of the picker and of the API's ``name`` filter.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_0830"
down_revision = "20261205_0870"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = {
    "ix_user_name_trgm": ('"user"', "name gin_trgm_ops"),
    "ix_organization_display_name_trgm": ("organization", "lower(display_name) gin_trgm_ops"),
    "ix_organization_name_trgm": ("organization", "name gin_trgm_ops"),
}
"""PostgreSQL only (the names are ``app.migrate.SEARCH_INDEXES``)."""


def upgrade() -> None:
    op.create_index(
        "ix_connection_tenant_id_created_at", "connection", ["tenant_id", "created_at", "name"]
    )
    op.create_index("ix_user_tenant_id_username", "user", ["tenant_id", "username"])
    op.create_index("ix_user_tenant_id_created_at", "user", ["tenant_id", "created_at", "id"])
    op.create_index(
        "ix_organization_tenant_id_display_name",
        "organization",
        ["tenant_id", "display_name", "name"],
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"))
    if not available:
        return
    try:
        with bind.begin_nested():  # a role that may not create it: searches scan instead
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return
    for name, (table, expression) in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({expression})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_organization_tenant_id_display_name", "organization")
    op.drop_index("ix_user_tenant_id_created_at", "user")
    op.drop_index("ix_user_tenant_id_username", "user")
    op.drop_index("ix_connection_tenant_id_created_at", "connection")
