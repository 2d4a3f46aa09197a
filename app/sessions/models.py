"""Browser state kept on the server: SSO sessions and sign-in transactions (the browser holds
only random references to them in the signed cookie)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.accounts.models import User
from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk


class SsoSession(Base):
    """A signed-in browser: lets a second application sign in without a prompt."""

    __tablename__ = "sso_session"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """The browser's reference to its session, kept in the signed cookie and nowhere else
    (never logged, never in a token). The ``sid`` claim of ID tokens is ``id``."""
    auth_time: Mapped[dt.datetime]
    amr: Mapped[list[str]] = mapped_column(default=list)
    organization_id: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[created_at]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    user_agent: Mapped[str | None] = mapped_column(default=None)
    """The browser's ``User-Agent`` when the session started (shown to its user)."""
    ip: Mapped[str | None] = mapped_column(sa.String(45), default=None)
    """The address the session started from (shown to its user)."""

    user: Mapped[User] = relationship()


class LoginTransactionRow(Base):
    """A sign-in in progress (:class:`app.login.flow.LoginTransaction`), kept here so the
    cookie stays small whatever the authorization request carried. Only the browser it is
    bound to may use it (:mod:`app.sessions.transactions`)."""

    __tablename__ = "login_transaction"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    """The transaction's random id (128 bits), in the hosted pages' ``?tx=``."""
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    browser_hash: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    """SHA-256 of the browser key (a random value in the signed cookie) of the browser
    that first used it; None until then."""
    data: Mapped[JSONDict]
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
