"""connection enabled

Revision ID: 20261205_0870
Revises: 20261205_0860
Create Date: 2026-12-05

A per-connection switch (``connection.enabled``): a connection switched off stays with its
users, identities and settings, but no login page or discovery offers it and its IdP's
answers are refused. Existing connections stay on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_0870"
down_revision = "20261205_0860"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.drop_column("enabled")
