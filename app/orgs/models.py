"""Organizations, their email domains and memberships."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk
from app.db import row_metadata


class Organization(Base):
    """One business customer of the tenant owner."""

    __tablename__ = "organization"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        # the picker's list, in name order
        sa.Index("ix_organization_tenant_id_display_name", "tenant_id", "display_name", "name"),
    )

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(63))
    """Slug: lower-case letters, digits and dashes; used in URLs and ``organization=``."""
    display_name: Mapped[str]
    theme: Mapped[str | None] = mapped_column(sa.String(63), default=None)
    branding: Mapped[JSONDict] = mapped_column(default=dict)
    """Validated branding data: logo_url, colors, support_email, support_url, legal links."""
    metadata_: Mapped[JSONDict] = mapped_column("metadata", default=dict)
    """Free-form data for plugins and applications; read it as ``organization.metadata``
    (a copy: assign a new mapping to change it)."""
    default_locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    plugins: Mapped[JSONDict] = mapped_column(default=dict)
    """Plugins enabled for this organization, with their settings: {name: {settings}}."""
    require_two_step: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """Signing in to this organization requires two-step verification
    (:mod:`app.login.assurance`)."""
    created_at: Mapped[created_at]

    email_domains: Mapped[list[OrgDomain]] = relationship(
        cascade="all, delete-orphan", order_by="OrgDomain.domain"
    )
    connection_links: Mapped[list[OrganizationConnection]] = relationship(
        cascade="all, delete-orphan", order_by=OrganizationConnection.position
    )
    connections: Mapped[list[Connection]] = relationship(
        secondary="organization_connection", viewonly=True, order_by=OrganizationConnection.position
    )


class OrgDomain(Base):
    """An email domain whose users belong to the organization (home realm discovery)."""

    __tablename__ = "org_domain"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "domain"),)

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(sa.String(253))
    """IDNA (punycode), lower-case."""
    include_subdomains: Mapped[bool] = mapped_column(default=False)
    connection_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="SET NULL"), default=None
    )
    """Connection to route to; None means the organization's first enabled connection."""


class Membership(Base):
    """A shared-pool user's right to enter an organization, with roles."""

    __tablename__ = "membership"

    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    roles: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[created_at]


class Invitation(Base):
    """An email address invited into an organization, with the roles it will get.

    The link's secret is a :class:`app.accounts.models.OneTimeToken` (purpose ``invitation``)
    naming this row; accepting consumes both, so an invitation is accepted at most once.
    """

    __tablename__ = "invitation"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(320))
    email_normalized: Mapped[str] = mapped_column(sa.String(320))
    roles: Mapped[list[str]] = mapped_column(default=list)
    invited_by: Mapped[str | None] = mapped_column(default=None)
    """Who sent it (an admin's name or ``cli``), for the log and the email."""
    locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    """Language of the email and the acceptance page, when the inviter knows it."""
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    accepted_user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[created_at]

    organization: Mapped[Organization] = relationship()


def _write_organization_metadata(org: Organization, value: dict[str, object]) -> None:
    org.metadata_ = value


row_metadata(Organization, lambda org: org.metadata_, _write_organization_metadata)
