"""The tenant's event log."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk


class Event(Base):
    """One entry of the log. ``type`` is a stable code (see ``app.events.types``)."""

    __tablename__ = "event"
    __table_args__ = (sa.Index("ix_event_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[pk]
    """Also the reference id shown on error pages."""
    tenant_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), default=None
    )
    type: Mapped[str] = mapped_column(sa.String(32), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    client_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    organization_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    connection_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    ip: Mapped[str | None] = mapped_column(sa.String(45), default=None)
    data: Mapped[JSONDict] = mapped_column(default=dict)
    created_at: Mapped[created_at]
