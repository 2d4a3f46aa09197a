"""SCIM provisioning per organization: bearer tokens, users' external ids and groups."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import pk


class ScimToken(Base):
    """A bearer token an organization's identity provider provisions with; stored hashed."""

    __tablename__ = "scim_token"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(128), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the token (256 random bits): shown once when created, never again."""
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[created_at]


class ScimUser(Base):
    """A user provisioned into an organization by its identity provider."""

    __tablename__ = "scim_user"
    __table_args__ = (sa.UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[pk]
    """The SCIM ``id`` of the user in this organization."""
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime]


class ScimGroup(Base):
    """A group pushed by the identity provider; its members get the role of the same name
    in the organization."""

    __tablename__ = "scim_group"
    __table_args__ = (sa.UniqueConstraint("organization_id", "display_name"),)

    id: Mapped[pk]
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(64))
    """The organization role its members hold."""
    external_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime]


class ScimGroupMember(Base):
    """A user in a pushed group."""

    __tablename__ = "scim_group_member"

    group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("scim_group.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
