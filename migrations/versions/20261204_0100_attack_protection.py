"""attack protection: shared counters

Revision ID: 20261204_0100
Revises: 0001
Create Date: 2026-12-04 01:00:00

A migration must not break the previous version of the code while it still serves:
add columns nullable or with defaults, drop only what no released code reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261204_0100"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counter",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_counter")),
    )
    op.create_index(op.f("ix_counter_expires_at"), "counter", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_counter_expires_at"), table_name="counter")
    op.drop_table("counter")
