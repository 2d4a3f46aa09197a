"""durable import jobs

Revision ID: 20261205_0860
Revises: 20261204_0700
Create Date: 2026-12-05 09:00:00

Import jobs run from the durable job table: the rows to import are kept with the job
(``api_import_job.payload``, compressed and encrypted, cleared when the job ends) and
``through`` says up to which row everything is committed, so a worker that takes over a
job whose process died goes on from there.

A migration must not break the previous version of the code while it still serves:
add columns nullable or with defaults, drop only what no released code reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_0860"
down_revision = "20261204_0700"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_import_job") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(sa.Column("through", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("api_import_job") as batch:
        batch.drop_column("through")
        batch.drop_column("payload")
