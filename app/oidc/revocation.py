"""Refresh-token families end with the user's sessions: the builtin ``end_user_access``.

A builtin plugin, so the accounts room (which signs a user out after a password reset, a
change or a block) never needs to know about the provider's tokens.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from app.db import session
from app.hookspecs import hookimpl
from app.oidc.models import TokenGrant
from app.oidc.tokens import revoke_grant

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.sessions.models import SsoSession


@hookimpl
def end_user_access(user: User, reason: str, keep: SsoSession | None) -> dict[str, int]:
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
    return {"grants_revoked": len(grant_ids)}
