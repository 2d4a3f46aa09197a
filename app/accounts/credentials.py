"""Setting a new password and what must follow it (no Flask request needed).

A new password voids the user's outstanding reset and verification links (L-06); after a
reset every session and refresh-token family of the user ends, after a change those of the
other browsers end when the user asks for it (L-05, P-12).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.accounts import tokens
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import strategy_for
from app.db import session
from app.oidc.models import TokenGrant
from app.oidc.tokens import revoke_grant
from app.sessions.services import end_user_sessions

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.sessions.models import SsoSession


def password_is_current(user: User, password: str) -> bool:
    """Check the user's password through their connection's strategy (one hash either way)."""
    identifier = user.email or user.username
    if not identifier:
        return False
    try:
        result = strategy_for(user.connection).authenticate(identifier, password)
    except StrategyUnavailable:
        return False
    return result.user is not None and result.user.id == user.id


def set_new_password(user: User, password: str) -> None:
    """Store ``password`` (already checked by the policy) and void the user's links."""
    strategy_for(user.connection).set_password(user, password)
    tokens.invalidate(user, tokens.PASSWORD_RESET, tokens.EMAIL_VERIFICATION)


def revoke_grants(user: User, reason: str, keep: SsoSession | None = None) -> int:
    """Revoke the user's refresh-token families (all but those of session ``keep``)."""
    stmt = sa.select(TokenGrant.id).where(
        TokenGrant.user_id == user.id, TokenGrant.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(
            sa.or_(TokenGrant.sso_session_id.is_(None), TokenGrant.sso_session_id != keep.id)
        )
    grant_ids = list(session.scalars(stmt))
    for grant_id in grant_ids:
        revoke_grant(grant_id, reason)
    return len(grant_ids)


def sign_out_everywhere(user: User, reason: str, keep: SsoSession | None = None) -> dict[str, int]:
    """End sessions and refresh tokens (except ``keep``'s); counts for the event."""
    return {
        "sessions_ended": end_user_sessions(user, keep),
        "grants_revoked": revoke_grants(user, reason, keep),
    }
