"""Single-use tokens for links sent by email (password reset, email verification,
invitation, unblocking sign-ins) and for pending sign-ups (the browser that signed up holds
the token, the emailed code confirms it: :mod:`app.accounts.signup`).

A token is 256 random bits (``secrets``), sent only in the link; the database keeps its
SHA-256. Each is bound to one purpose and, except invitations, one user; it expires; it is
consumed with one conditional ``UPDATE ... WHERE used_at IS NULL`` so two concurrent uses
cannot both win; issuing a newer token of the same purpose, or changing the password,
invalidates the older ones. No Flask request is needed (the CLI issues invitations).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import OneTimeToken
from app.db import session
from app.db import utcnow
from app.security.crypto import new_token
from app.security.crypto import token_hash

if t.TYPE_CHECKING:
    from app.accounts.models import User

PASSWORD_RESET = "password_reset"
EMAIL_VERIFICATION = "email_verification"
INVITATION = "invitation"
SIGNUP = "signup"
UNBLOCK = "unblock"

LIFETIME_SETTINGS = {
    PASSWORD_RESET: "reset_token_lifetime",
    EMAIL_VERIFICATION: "verify_token_lifetime",
    INVITATION: "invitation_lifetime",
    SIGNUP: "signup_code_lifetime",
    UNBLOCK: "unblock_token_lifetime",
}
"""Purpose -> the setting holding its lifetime in seconds."""

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100
"""Longer values in a link are refused before any lookup."""


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``value`` goes in the link, never in the database or a log."""

    value: str
    row: OneTimeToken


def lifetime(purpose: str) -> dt.timedelta:
    settings = current_app.extensions["foyer.settings"]
    return dt.timedelta(seconds=int(getattr(settings, LIFETIME_SETTINGS[purpose])))


def issue(
    purpose: str,
    *,
    tenant_id: str,
    user: User | None = None,
    data: dict[str, t.Any] | None = None,
    ttl: dt.timedelta | None = None,
    replace_older: bool = True,
) -> IssuedToken:
    """Create a token (flushed, not committed). Older unused tokens of the same purpose and
    user stop working when ``replace_older`` (a second reset email voids the first)."""
    if purpose not in LIFETIME_SETTINGS:
        raise ValueError(f"unknown token purpose {purpose!r}")
    now = utcnow()
    if user is not None and replace_older:
        invalidate(user, purpose)
    value = new_token(TOKEN_BYTES)
    row = OneTimeToken(
        tenant_id=tenant_id,
        user_id=user.id if user is not None else None,
        purpose=purpose,
        token_hash=token_hash(value),
        data=dict(data or {}),
        expires_at=now + (ttl if ttl is not None else lifetime(purpose)),
    )
    session.add(row)
    session.flush()
    return IssuedToken(value, row)


def peek(value: str | None, purpose: str, tenant_id: str) -> OneTimeToken | None:
    """The usable token for ``value`` (right purpose and tenant, unused, unexpired), without
    using it: for showing the form the link opens. None otherwise."""
    row = _find(value, purpose, tenant_id)
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def consume(value: str | None, purpose: str, tenant_id: str) -> OneTimeToken | None:
    """Use the token once: returns it when this call won, None when it is unknown, of
    another purpose or tenant, expired, already used, or used concurrently by another
    request. The caller commits (rolling back gives the token back)."""
    row = _find(value, purpose, tenant_id)
    if row is None:
        return None
    now = utcnow()
    result = session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.id == row.id,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if t.cast(sa.CursorResult[t.Any], result).rowcount != 1:
        return None
    session.refresh(row)
    return row


def invalidate(user: User, *purposes: str) -> int:
    """Void every unused token of ``user`` for these purposes (all when none are given);
    returns how many. Used on a newer token and on a password change."""
    stmt = sa.update(OneTimeToken).where(
        OneTimeToken.user_id == user.id, OneTimeToken.used_at.is_(None)
    )
    if purposes:
        stmt = stmt.where(OneTimeToken.purpose.in_(purposes))
    result = session.execute(
        stmt.values(used_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(t.cast(sa.CursorResult[t.Any], result).rowcount)


def issued_since(user: User, purpose: str, since: dt.datetime) -> int:
    """How many tokens of ``purpose`` were issued to ``user`` since ``since`` (per-account
    email limits count these rows, so every process sees the same number)."""
    return int(
        session.scalar(
            sa.select(sa.func.count(OneTimeToken.id)).where(
                OneTimeToken.user_id == user.id,
                OneTimeToken.purpose == purpose,
                OneTimeToken.created_at > since,
            )
        )
        or 0
    )


def _find(value: str | None, purpose: str, tenant_id: str) -> OneTimeToken | None:
    if not value or len(value) > MAX_TOKEN_LENGTH:
        return None
    row = session.scalar(
        sa.select(OneTimeToken).where(OneTimeToken.token_hash == token_hash(value))
    )
    if row is None or row.purpose != purpose or row.tenant_id != tenant_id:
        return None
    return row
