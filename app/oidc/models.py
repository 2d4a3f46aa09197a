"""Signing keys, authorization codes, refresh-token families and back-channel logout tokens."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.db import Base
from app.db import JSONDict
from app.db import created_at
from app.db import pk


class SigningKey(Base):
    """A tenant signing key. Life cycle: next -> current -> previous -> retired.

    ``next`` and ``previous`` keys are published in JWKS so tokens survive rotation; only
    ``current`` signs (one current key per algorithm).
    """

    __tablename__ = "signing_key"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(
        sa.ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    alg: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(10))
    private_jwk_encrypted: Mapped[str] = mapped_column(sa.Text)
    public_jwk: Mapped[JSONDict]
    created_at: Mapped[created_at]
    rotated_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AuthorizationCode(Base):
    """A pending authorization code (stored hashed, single use, short-lived)."""

    __tablename__ = "authorization_code"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(sa.Text)
    scope: Mapped[str] = mapped_column(sa.Text)
    nonce: Mapped[str | None] = mapped_column(sa.Text, default=None)
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(8), default=None)
    auth_time: Mapped[dt.datetime]
    amr: Mapped[list[str]] = mapped_column(default=list)
    acr: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    organization_id: Mapped[str | None] = mapped_column(default=None)
    sso_session_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    issuer: Mapped[str] = mapped_column(sa.String(512))
    """Issuer of the host the flow started on (vanity hosts keep their own)."""
    extra_claims: Mapped[JSONDict] = mapped_column(default=dict)
    """Claims computed at login by claims rules, copied into the tokens."""
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    grant_id: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    """The token grant issued when the code was redeemed (revoked on code re-use)."""
    created_at: Mapped[created_at]


class TokenGrant(Base):
    """A family of tokens from one authorization: revoking it revokes them all."""

    __tablename__ = "token_grant"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(sa.Text)
    organization_id: Mapped[str | None] = mapped_column(default=None)
    sso_session_id: Mapped[str | None] = mapped_column(sa.String(40), default=None, index=True)
    auth_time: Mapped[dt.datetime]
    amr: Mapped[list[str]] = mapped_column(default=list)
    acr: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    """The ``acr`` of the sign-in, repeated in the ID tokens of every refresh."""
    issuer: Mapped[str] = mapped_column(sa.String(512))
    extra_claims: Mapped[JSONDict] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime]
    """Absolute end of the family: refresh never extends past it."""
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    created_at: Mapped[created_at]


class RefreshToken(Base):
    """One refresh token of a grant family; rotated on every use."""

    __tablename__ = "refresh_token"

    id: Mapped[pk]
    grant_id: Mapped[str] = mapped_column(
        sa.ForeignKey("token_grant.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[str] = mapped_column(sa.Text)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    """Set when rotated; presenting it again revokes the whole family."""
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[created_at]


class BackchannelLogout(Base):
    """A logout token owed to an application (OpenID Connect Back-Channel Logout 1.0): one
    per application and issuer of an ended session, delivered and retried by
    :mod:`app.oidc.backchannel`."""

    __tablename__ = "backchannel_logout"

    id: Mapped[pk]
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenant.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    uri: Mapped[str] = mapped_column(sa.Text)
    """The client's ``backchannel_logout_uri`` when the session ended."""
    issuer: Mapped[str] = mapped_column(sa.String(512))
    """The issuer of the tokens the client got in that session."""
    subject: Mapped[str] = mapped_column(sa.String(40))
    """The user (``sub``)."""
    sid: Mapped[str] = mapped_column(sa.String(40))
    """The ended session (the ``sid`` of the client's ID tokens)."""
    jti: Mapped[str] = mapped_column(sa.String(64))
    """The token's id: the same on every attempt, so a relying party can ignore repeats."""
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    """``pending``, ``delivered`` or ``failed`` (given up)."""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[created_at]
