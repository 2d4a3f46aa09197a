"""oidc upstream logout

Revision ID: 20261204_0450
Revises: 20261204_0400
Create Date: 2026-12-04 04:50:00

The upstream session behind a sign-in through an OpenID Connect connection whose
``upstream_logout`` is on (``oidc_upstream_session``): the ID token to send back as
``id_token_hint`` when the Foyer session ends, encrypted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0450"
down_revision = "20261204_0400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_upstream_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("sso_session_id", sa.String(length=40), nullable=True),
        sa.Column("logout_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("expires_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_oidc_upstream_session_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sso_session_id"],
            ["sso_session.id"],
            name=op.f("fk_oidc_upstream_session_sso_session_id_sso_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_oidc_upstream_session_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_upstream_session")),
    )
    with op.batch_alter_table("oidc_upstream_session", schema=None) as batch_op:
        for column in ("connection_id", "expires_at", "sso_session_id", "user_id"):
            batch_op.create_index(
                batch_op.f(f"ix_oidc_upstream_session_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("oidc_upstream_session", schema=None) as batch_op:
        for column in ("user_id", "sso_session_id", "expires_at", "connection_id"):
            batch_op.drop_index(batch_op.f(f"ix_oidc_upstream_session_{column}"))
    op.drop_table("oidc_upstream_session")
