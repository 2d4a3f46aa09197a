"""What the management API keeps between requests: the answers to idempotent creates."""

from __future__ import annotations

import datetime as dt
import typing as t

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


class ImportJob(Base):
    """A bulk import of users into a connection, run after the answer by the durable worker
    (:mod:`app.jobs`); polled for progress."""

    __tablename__ = "api_import_job"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(sa.ForeignKey("connection.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    """``queued``, ``running``, ``done`` or ``failed`` (a plugin raised: ``error`` says)."""
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[dict[str, t.Any]]] = mapped_column(sa.JSON, default=list)
    """The first refused rows: ``{"row": n, "message": ...}``."""
    error: Mapped[str | None] = mapped_column(sa.String(512), default=None)
    payload: Mapped[str | None] = mapped_column(sa.Text, default=None, deferred=True)
    """The rows to import (JSON, compressed, encrypted: they hold password hashes); cleared
    when the job ends."""
    through: Mapped[int] = mapped_column(default=0, server_default="0")
    """Every row up to this number is committed with the counts: where a resumed job goes on."""
    created_at: Mapped[created_at]
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
