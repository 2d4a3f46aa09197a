"""sessions and transactions

Revision ID: 20261204_0200
Revises: 0001
Create Date: 2026-12-04 02:00:00

Sign-in transactions move from the cookie to the server (``login_transaction``).

A migration must not break the previous version of the code while it still serves:
add columns nullable or with defaults, drop only what no released code reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0200"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_transaction",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("expires_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_login_transaction_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_transaction")),
    )
    with op.batch_alter_table("login_transaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_transaction_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_transaction_expires_at"))
    op.drop_table("login_transaction")
