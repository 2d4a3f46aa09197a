"""What the management API keeps between requests: the answers to idempotent creates."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk


class IdempotentRequest(Base):
    """A create sent with an ``Idempotency-Key``: the same key from the same client gets
    the first answer again instead of a second resource."""

    __tablename__ = "api_idempotent_request"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "client_id", "key"),)

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    """SHA-256 of method, path and body: the key reused for another request is refused."""
    status: Mapped[int]
    body: Mapped[JSONDict] = mapped_column(default=dict)
    location: Mapped[str | None] = mapped_column(sa.String(512), default=None)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_at: Mapped[created_at]
