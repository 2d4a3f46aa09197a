"""sessions and transactions

Revision ID: 20261204_0200
Revises: 0001
Create Date: 2026-12-04 02:00:00

Sign-in transactions move from the cookie to the server (``login_transaction``); the
outbox of back-channel logout tokens (``backchannel_logout``); what a session shows its
user (``sso_session.user_agent``, ``.ip``); required two-step verification per organization
(``organization.require_two_step``) and the ``acr`` of a token family (``token_grant.acr``).

A migration must not break the previous version of the code while it still serves:
add columns nullable or with defaults, drop only what no released code reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0200"
down_revision = "20261204_0100"
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

    op.create_table(
        "backchannel_logout",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("sid", sa.String(length=40), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.db.TZDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_backchannel_logout_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backchannel_logout")),
    )
    with op.batch_alter_table("backchannel_logout", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backchannel_logout_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    with op.batch_alter_table("sso_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_agent", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("ip", sa.String(length=45), nullable=True))

    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_two_step", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acr", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.drop_column("acr")

    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("require_two_step")

    with op.batch_alter_table("sso_session", schema=None) as batch_op:
        batch_op.drop_column("ip")
        batch_op.drop_column("user_agent")

    with op.batch_alter_table("backchannel_logout", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backchannel_logout_next_attempt_at"))
    op.drop_table("backchannel_logout")

    with op.batch_alter_table("login_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_transaction_expires_at"))
    op.drop_table("login_transaction")
