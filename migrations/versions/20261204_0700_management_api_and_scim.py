"""management api and scim

Revision ID: 20261204_0700
Revises: 20261204_0200
Create Date: 2026-12-04 07:00:00

The management API's idempotent creates (``api_idempotent_request``) and import jobs
(``api_import_job``); SCIM provisioning per organization: bearer tokens (``scim_token``),
provisioned users with their external ids (``scim_user``) and pushed groups mapped to
organization roles (``scim_group``, ``scim_group_member``).

A migration must not break the previous version of the code while it still serves:
add columns nullable or with defaults, drop only what no released code reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "20261204_0700"
down_revision = "20261204_0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_idempotent_request",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("location", sa.String(length=512), nullable=True),
        sa.Column("expires_at", app.db.TZDateTime(), nullable=False),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_api_idempotent_request_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotent_request")),
        sa.UniqueConstraint(
            "tenant_id",
            "client_id",
            "key",
            name=op.f("uq_api_idempotent_request_tenant_id_client_id_key"),
        ),
    )
    with op.batch_alter_table("api_idempotent_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_idempotent_request_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "api_import_job",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("finished_at", app.db.TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connection.id"],
            name=op.f("fk_api_import_job_connection_id_connection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_api_import_job_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_import_job")),
    )
    op.create_table(
        "scim_group",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("updated_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_scim_group_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_group")),
        sa.UniqueConstraint(
            "organization_id",
            "display_name",
            name=op.f("uq_scim_group_organization_id_display_name"),
        ),
    )
    with op.batch_alter_table("scim_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scim_group_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "scim_token",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", app.db.TZDateTime(), nullable=True),
        sa.Column("revoked_at", app.db.TZDateTime(), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_scim_token_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_scim_token_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_token_token_hash")),
    )
    with op.batch_alter_table("scim_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scim_token_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "scim_group_member",
        sa.Column("group_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scim_group.id"],
            name=op.f("fk_scim_group_member_group_id_scim_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_scim_group_member_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_scim_group_member")),
    )
    with op.batch_alter_table("scim_group_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scim_group_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "scim_user",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", app.db.TZDateTime(), nullable=False),
        sa.Column("updated_at", app.db.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_scim_user_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_scim_user_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_user")),
        sa.UniqueConstraint(
            "organization_id", "user_id", name=op.f("uq_scim_user_organization_id_user_id")
        ),
    )
    with op.batch_alter_table("scim_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scim_user_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scim_user_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scim_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scim_user_user_id"))
        batch_op.drop_index(batch_op.f("ix_scim_user_organization_id"))

    op.drop_table("scim_user")
    with op.batch_alter_table("scim_group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scim_group_member_user_id"))

    op.drop_table("scim_group_member")
    with op.batch_alter_table("scim_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scim_token_organization_id"))

    op.drop_table("scim_token")
    with op.batch_alter_table("scim_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scim_group_organization_id"))

    op.drop_table("scim_group")
    op.drop_table("api_import_job")
    with op.batch_alter_table("api_idempotent_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_idempotent_request_expires_at"))

    op.drop_table("api_idempotent_request")
