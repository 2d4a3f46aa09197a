"""Starting, finding and ending SSO sessions; the Flask-Login wiring.

A server-side row per signed-in browser (:class:`app.sessions.models.SsoSession`).

The signed cookie holds only the session's random ``sid`` (through Flask-Login), so ending
a session on the server (sign-out, block, password change) takes effect at once even if the
cookie was copied. Whatever ends sessions tells :data:`sessions_ended` first, in the same
unit of work: the provider ends what the applications hold of them (refresh tokens of the
applications that ask for it, back-channel logout).
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

import blinker
import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import request
from flask import session as cookie
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from sqlalchemy.orm import joinedload

from app.db import new_id
from app.db import session
from app.db import utcnow
from app.security.crypto import new_token
from app.sessions.models import SsoSession
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.orgs.models import Organization

LAST_SEEN_GRANULARITY = dt.timedelta(seconds=60)
USER_AGENT_LENGTH = 255

sessions_ended = blinker.Signal(
    """Sent with the app as sender and ``sessions`` (the SSO sessions just ended, not yet
    committed) by everything that ends sessions; receivers add their work to the same unit
    of work, committed with the end of the sessions."""
)


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


SIGNED_IN_KEY = "_user_id"
"""Where Flask-Login keeps the signed-in session's id in the signed cookie (``login_user``);
Foyer never sets its remember-me cookie, so without this key nobody is signed in."""


def current_sso() -> SsoSession | None:
    """The active SSO session of this browser, or None.

    A browser whose cookie names no session is answered at once: Flask-Login would first
    hash its address and user agent for a session protection that is off, then look for
    a remember-me cookie and an ``Authorization`` header, on every hosted page.
    """
    if SIGNED_IN_KEY not in cookie:
        return None
    if current_user.is_authenticated:
        return t.cast(SessionUser, current_user._get_current_object()).sso
    return None


def new_sso_session(
    user: User,
    amr: t.Sequence[str],
    organization: Organization | None = None,
    auth_time: dt.datetime | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> SsoSession:
    """Add a session row for ``user`` (not committed), authenticated at ``auth_time``
    (default: now); it ends ``session_lifetime`` from now. ``user_agent`` and ``ip``
    describe the browser to its user (the account page's list of sessions)."""
    now = utcnow()
    settings = current_app.extensions["foyer.settings"]
    sso = SsoSession(
        id=new_id(),  # usable before the row is flushed, with its user: the same request's
        user=user,  # code names both
        tenant_id=user.tenant_id,
        user_id=user.id,
        sid=new_token(24),
        auth_time=auth_time or now,
        amr=list(amr),
        organization_id=organization.id if organization else None,
        last_seen_at=now,
        expires_at=now + dt.timedelta(seconds=settings.session_lifetime),
        user_agent="".join(filter(str.isprintable, user_agent or ""))[:USER_AGENT_LENGTH] or None,
        ip=ip,
    )
    session.add(sso)
    return sso


def start_sso_session(
    user: User, amr: list[str], organization: Organization | None = None, *, commit: bool = True
) -> SsoSession:
    """End any current session of this browser and start a new one for ``user``, committed
    unless the caller commits it with the rest of its step (``commit=False``)."""
    end_sso_session()
    sso = new_sso_session(
        user, amr, organization, user_agent=request.user_agent.string, ip=request.remote_addr
    )
    if commit:
        session.commit()
    cookie.permanent = True
    login_user(SessionUser(sso))
    return sso


def _ended(sessions: t.Sequence[SsoSession]) -> None:
    """Mark ``sessions`` ended and tell :data:`sessions_ended` (nothing committed)."""
    now = utcnow()
    for sso in sessions:
        sso.ended_at = now
    if sessions:
        sessions_ended.send(current_app._get_current_object(), sessions=list(sessions))


def end_sso_session() -> SsoSession | None:
    """End this browser's session (server row and cookie); returns the ended session."""
    sso = current_sso()
    if sso is not None:
        _ended([sso])
        session.commit()
    logout_user()
    return sso


def active_sessions(user: User) -> list[SsoSession]:
    """The user's sessions that have not ended, most recently used first."""
    rows = session.scalars(
        sa.select(SsoSession)
        .where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
        .order_by(SsoSession.last_seen_at.desc())
    )
    return [sso for sso in rows if is_active(sso)]


def end_session_of(user: User, session_id: str) -> SsoSession | None:
    """End one active session of ``user`` by its id (committed); None when it is not one."""
    found = next((sso for sso in active_sessions(user) if sso.id == session_id), None)
    if found is not None:
        _ended([found])
        session.commit()
    return found


def end_user_sessions(user: User, keep: SsoSession | None = None) -> int:
    """End the user's sessions, all but ``keep`` (block, password reset or change); returns
    how many ended. Not committed."""
    stmt = sa.select(SsoSession).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(SsoSession.id != keep.id)
    ended = list(session.scalars(stmt))
    _ended(ended)
    return len(ended)
