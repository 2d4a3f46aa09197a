"""The outbox of emails: every email Foyer sends is a row before it is sent."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import created_at
from app.db import pk


class OutgoingMail(Base):
    """One email to send, sent, held or given up (:mod:`app.mail.outbox`).

    The bodies (text, HTML, From, Reply-To) are encrypted at rest: they carry links that sign
    a user in or reset a password. They are wiped once the email is sent, unless the
    development mailbox keeps them to show.
    """

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        sa.Index("ix_outgoing_mail_due", "status", "next_attempt_at"),
        sa.Index("ix_outgoing_mail_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    organization_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    purpose: Mapped[str] = mapped_column(sa.String(32), default="")
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(255), default="")
    body: Mapped[str | None] = mapped_column(sa.Text, default=None)
    """Fernet-encrypted JSON: ``text``, ``html``, ``sender``, ``reply_to``; None once wiped."""
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")
    """``queued``, ``sending`` (claimed by a worker until ``lease_until``), ``sent``,
    ``held`` (kept for the development mailbox: no delivery is configured) or ``dead``
    (given up after the last attempt)."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[created_at]
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
