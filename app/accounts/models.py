"""Users, linked identities, single-use tokens, two-step factors and consents given."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk
from app.db import row_metadata

if t.TYPE_CHECKING:
    from app.connections.models import Connection


class User(Base):
    """A person. Unique per connection: the same email may be two users in two connections."""

    __tablename__ = "user"
    __table_args__ = (
        sa.UniqueConstraint("connection_id", "email_normalized"),
        sa.UniqueConstraint("connection_id", "username"),
        # who holds a username across a tenant's connections; the API's pages in order
        sa.Index("ix_user_tenant_id_username", "tenant_id", "username"),
        sa.Index("ix_user_tenant_id_created_at", "tenant_id", "created_at", "id"),
    )

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(sa.ForeignKey("connection.id", ondelete="CASCADE"))
    """The connection that owns this user (isolated users: one per organization)."""
    email: Mapped[str | None] = mapped_column(sa.String(320), default=None)
    email_normalized: Mapped[str | None] = mapped_column(sa.String(320), default=None, index=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    username: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    password_hash: Mapped[str | None] = mapped_column(sa.String(512), default=None)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    name: Mapped[str | None] = mapped_column(default=None)
    given_name: Mapped[str | None] = mapped_column(default=None)
    family_name: Mapped[str | None] = mapped_column(default=None)
    locale: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    user_metadata: Mapped[JSONDict] = mapped_column(default=dict)
    """Data the user may edit."""
    app_metadata: Mapped[JSONDict] = mapped_column(default=dict)
    """Data only admins and plugins may edit (``organizations`` mirrors memberships)."""
    blocked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    connection: Mapped[Connection] = relationship()
    identities: Mapped[list[Identity]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


row_metadata(
    User,
    hint="a user has 'app_metadata' (set by admins and plugins) and 'user_metadata' "
    "(the user's own data)",
)


class Identity(Base):
    """An upstream identity linked to a user (one user may have several)."""

    __tablename__ = "identity"
    __table_args__ = (sa.UniqueConstraint("connection_id", "subject"),)

    id: Mapped[pk]
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(sa.ForeignKey("connection.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(sa.String(255))
    """The upstream ``sub`` (or NameID, or legacy id)."""
    profile: Mapped[JSONDict] = mapped_column(default=dict)
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="identities")


class OneTimeToken(Base):
    """A single-use token (invite, password reset, email verification), stored hashed."""

    __tablename__ = "one_time_token"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), default=None, index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the token; the token itself is only ever in the link sent."""
    data: Mapped[JSONDict] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    """Set when the token is used, or when it is invalidated (a newer token, a password
    change): a token whose ``used_at`` is set never works again."""
    created_at: Mapped[created_at]


class TotpFactor(Base):
    """A user's TOTP authenticator (RFC 6238); the secret is encrypted at rest."""

    __tablename__ = "totp_factor"

    id: Mapped[pk]
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    """The base32 secret, a Fernet token (``app.security.crypto.encrypt``)."""
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    """None while enrolling: the factor counts only once a code from it was accepted."""
    last_used_step: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    """The last 30-second time step whose code was accepted: a code is good once."""
    created_at: Mapped[created_at]


class RecoveryCode(Base):
    """A single-use recovery code for a user who lost their authenticator, stored hashed."""

    __tablename__ = "recovery_code"

    id: Mapped[pk]
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 of the code (80 random bits, so a plain hash resists guessing)."""
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[created_at]


class Consent(Base):
    """The scopes a user allowed a third-party client; asked again only for new scopes."""

    __tablename__ = "consent"
    __table_args__ = (sa.UniqueConstraint("user_id", "client_id"),)

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    granted_at: Mapped[dt.datetime]
