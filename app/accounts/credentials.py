"""Setting a new password and what must follow it (no Flask request needed).

A new password voids the user's outstanding reset and verification links (L-06); after a
reset every session and refresh-token family of the user ends, after a change those of the
other browsers end when the user asks for it (L-05, P-12).
"""

from __future__ import annotations

import typing as t

from app.accounts import tokens
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import strategy_for
from app.db import session
from app.hooks import call_hook
from app.sessions.services import end_user_sessions
from app.tenancy.models import Tenant

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


def sign_out_everywhere(user: User, reason: str, keep: SsoSession | None = None) -> dict[str, int]:
    """End sessions, and through ``end_user_access`` refresh tokens and whatever plugins
    keep (all but ``keep``'s); counts for the event."""
    counts = {"sessions_ended": end_user_sessions(user, keep)}
    for answer in call_hook(
        "end_user_access",
        tenant=session.get(Tenant, user.tenant_id),
        user=user,
        reason=reason,
        keep=keep,
    ):
        for key, value in answer.items():
            counts[key] = counts.get(key, 0) + value
    return counts
