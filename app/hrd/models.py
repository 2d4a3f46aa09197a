"""The identifier-to-realm map: identifiers and patterns that admins route to a realm."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import pk


class IdentifierRoute(Base):
    """One entry of a tenant's identifier map: an identifier or a glob pattern -> a realm.

    Exact entries are found by the unique (tenant, identifier) index; patterns are compiled
    once per tenant and cached (:mod:`app.hrd.identifier_map`).
    """

    __tablename__ = "identifier_route"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "identifier"),
        sa.CheckConstraint(
            "organization_id IS NOT NULL OR connection_id IS NOT NULL", name="realm"
        ),
    )

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(sa.String(320))
    """A normalized identifier (lower case, IDNA domain), or a pattern with ``*`` and ``?``."""
    is_pattern: Mapped[bool] = mapped_column(default=False)
    organization_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), default=None, index=True
    )
    """The organization these identifiers sign in to, or None (the connection decides)."""
    connection_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), default=None, index=True
    )
    """The connection that serves them, or None (the organization's connections decide)."""
    created_at: Mapped[created_at]
