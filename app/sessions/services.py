"""Starting, finding and ending SSO sessions; the Flask-Login wiring.

A server-side row per signed-in browser (:class:`app.sessions.models.SsoSession`).

The signed cookie holds only the session's random ``sid`` (through Flask-Login), so ending
a session on the server (sign-out, block, password change) takes effect at once even if the
cookie was copied.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import session as cookie
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy.orm import joinedload

from app.db import session
from app.db import utcnow
from app.security.crypto import new_token
from app.sessions.models import SsoSession
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.orgs.models import Organization

LAST_SEEN_GRANULARITY = dt.timedelta(seconds=60)


@functools.cache
def session_by_sid() -> sa.Select[tuple[SsoSession]]:
    """Built once (on first use: the mappers must all be known): every request of a
    signed-in browser runs it; the user, checked for a block at once, comes in the same
    query."""
    return (
        sa.select(SsoSession)
        .where(SsoSession.sid == sa.bindparam("sid"))
        .options(joinedload(SsoSession.user, innerjoin=True))
    )


class SessionUser(UserMixin):  # type: ignore[misc]
    """What Flask-Login sees as ``current_user``: an SSO session and its user."""

    def __init__(self, sso: SsoSession) -> None:
        self.sso = sso

    @property
    def user(self) -> User:
        return self.sso.user

    def get_id(self) -> str:
        return self.sso.sid


def init_login_manager(app: Flask) -> None:
    manager = LoginManager()
    manager.session_protection = None  # the server-side session row is the protection
    manager.user_loader(_load_session)
    manager.init_app(app)


def _load_session(sid: str) -> SessionUser | None:
    sso = session.scalar(session_by_sid(), {"sid": sid})
    if sso is None or not is_active(sso) or sso.tenant_id != current_tenant().id:
        return None
    if sso.user.blocked:
        return None
    now = utcnow()
    if now - sso.last_seen_at > LAST_SEEN_GRANULARITY:
        sso.last_seen_at = now
        session.commit()
    return SessionUser(sso)


def is_active(sso: SsoSession) -> bool:
    settings = current_app.extensions["foyer.settings"]
    now = utcnow()
    return (
        sso.ended_at is None
        and sso.expires_at > now
        and now - sso.last_seen_at < dt.timedelta(seconds=settings.session_idle_timeout)
    )


def current_sso() -> SsoSession | None:
    """The active SSO session of this browser, or None."""
    if current_user.is_authenticated:
        return t.cast(SessionUser, current_user._get_current_object()).sso
    return None


def new_sso_session(
    user: User,
    amr: t.Sequence[str],
    organization: Organization | None = None,
    auth_time: dt.datetime | None = None,
) -> SsoSession:
    """Add a session row for ``user`` (not committed), authenticated at ``auth_time``
    (default: now); it ends ``session_lifetime`` from now."""
    now = utcnow()
    settings = current_app.extensions["foyer.settings"]
    sso = SsoSession(
        tenant_id=user.tenant_id,
        user_id=user.id,
        sid=new_token(24),
        auth_time=auth_time or now,
        amr=list(amr),
        organization_id=organization.id if organization else None,
        last_seen_at=now,
        expires_at=now + dt.timedelta(seconds=settings.session_lifetime),
    )
    session.add(sso)
    return sso


def start_sso_session(
    user: User, amr: list[str], organization: Organization | None = None
) -> SsoSession:
    """End any current session of this browser and start a new one for ``user``."""
    end_sso_session()
    sso = new_sso_session(user, amr, organization)
    session.commit()
    cookie.permanent = True
    login_user(SessionUser(sso))
    return sso


def end_sso_session() -> SsoSession | None:
    """End this browser's session (server row and cookie); returns the ended session."""
    sso = current_sso()
    if sso is not None:
        sso.ended_at = utcnow()
        session.commit()
    logout_user()
    return sso


def end_user_sessions(user: User, keep: SsoSession | None = None) -> int:
    """End the user's sessions, all but ``keep`` (block, password reset or change); returns
    how many ended. Not committed."""
    stmt = sa.update(SsoSession).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(SsoSession.id != keep.id)
    result = session.execute(
        stmt.values(ended_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(t.cast(sa.CursorResult[t.Any], result).rowcount)
