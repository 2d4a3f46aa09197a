"""saml connections

Revision ID: 20261204_0400
Revises: 20261204_0200
Create Date: 2026-12-04 04:00:00

SAML 2.0 connections: the service provider's key pairs per connection (``saml_sp_key``,
private keys encrypted), the assertions already accepted until they expire
(``saml_assertion``, so a replay is refused by every worker), and the upstream session
behind a sign-in (``saml_session``) that Single Logout names.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0400"
down_revision = "20261204_0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_sp_key",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("key_encrypted", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("not_after", app.db.TZDateTime(), nullable=False),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_saml_sp_key_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_sp_key")),
    )
    with op.batch_alter_table("saml_sp_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saml_sp_key_connection_id"), ["connection_id"], unique=False
        )

    op.create_table(
        "saml_assertion",
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("assertion_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_saml_assertion_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "assertion_hash", name=op.f("pk_saml_assertion")),
    )
    with op.batch_alter_table("saml_assertion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saml_assertion_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "saml_session",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("sso_session_id", sa.String(length=40), nullable=True),
        sa.Column("name_id", sa.Text(), nullable=False),
        sa.Column("session_index", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("expires_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_saml_session_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sso_session_id"],
            ["sso_session.id"],
            name=op.f("fk_saml_session_sso_session_id_sso_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_saml_session_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_session")),
    )
    with op.batch_alter_table("saml_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saml_session_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_saml_session_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_saml_session_sso_session_id"), ["sso_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_saml_session_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("saml_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saml_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_saml_session_sso_session_id"))
        batch_op.drop_index(batch_op.f("ix_saml_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_saml_session_connection_id"))
    op.drop_table("saml_session")
    with op.batch_alter_table("saml_assertion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saml_assertion_expires_at"))
    op.drop_table("saml_assertion")
    with op.batch_alter_table("saml_sp_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saml_sp_key_connection_id"))
    op.drop_table("saml_sp_key")
