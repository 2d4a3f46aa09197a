"""outgoing mail and background jobs

Revision ID: 20261204_0600
Revises: 20261204_0200
Create Date: 2026-12-04 06:00:00

The outbox of emails (``outgoing_mail``) and the work pages hand off (``background_job``):
both are rows before anything is done, so a process that stops loses none; workers claim
rows with a lease and retry with backoff.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0600"
down_revision = "20261204_0450"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.db.TZDateTime(), nullable=False),
        sa.Column("lease_until", app.db.TZDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("sent_at", app.db.TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_outgoing_mail_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
    )
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.create_index("ix_outgoing_mail_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_outgoing_mail_tenant_created", ["tenant_id", "created_at"], unique=False
        )

    op.create_table(
        "background_job",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.db.TZDateTime(), nullable=False),
        sa.Column("lease_until", app.db.TZDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_job")),
    )
    with op.batch_alter_table("background_job", schema=None) as batch_op:
        batch_op.create_index("ix_background_job_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("background_job", schema=None) as batch_op:
        batch_op.drop_index("ix_background_job_due")
    op.drop_table("background_job")
    with op.batch_alter_table("outgoing_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_outgoing_mail_tenant_created")
        batch_op.drop_index("ix_outgoing_mail_due")
    op.drop_table("outgoing_mail")
