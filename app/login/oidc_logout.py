"""Signing out upstream too, for OpenID Connect connections whose ``upstream_logout`` is on
(off by default: a B2B user leaving one application rarely means to leave their company's
IdP and every other application signed in through it).

After an upstream sign-in, :func:`remember` keeps the ID token the IdP issued (encrypted,
for the Foyer session it started). When that Foyer session ends (the sign-out page, or an
application's RP-initiated logout), :func:`upstream_logout_url` sends the browser to the
IdP's ``end_session_endpoint`` with it as ``id_token_hint``; the IdP sends it back to
``/login/upstream-logout`` (the ``post_logout_redirect_uri`` to register at the IdP), and
Foyer goes on to the application's ``post_logout_redirect_uri`` it already checked, or to
its signed-out page. SAML Single Logout is :func:`app.login.saml_views.upstream_logout_url`;
:func:`app.login.upstream_logout.after_logout` asks both.
"""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for
from werkzeug.wrappers import Response

from app.connections.models import Connection
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import strategy_for
from app.db import session
from app.db import utcnow
from app.login import flow
from app.security.crypto import constant_time_equal
from app.sessions.models import SsoSession
from app.sessions.services import current_sso
from app.strategies.oidc import OidcStrategy
from app.strategies.oidc_models import OidcUpstreamSession

PENDING_FOR = dt.timedelta(hours=1)
"""How far apart an upstream answer and the Foyer session it led to may be (a step such as
a consent page waited between them)."""
RETURN = "oidc_logout_return"
"""Cookie key: the ``state`` sent to the IdP and where to go once it sends the browser back."""


def remember(
    connection: Connection,
    profile: UpstreamProfile,
    tx_id: str,
    response: Response | tuple[str, int],
) -> None:
    """After a successful upstream answer through a connection with ``upstream_logout``:
    keep the logout data for the Foyer session the sign-in started (None while a step such
    as two-step verification still waits; the user's latest is then used)."""
    status = response[1] if isinstance(response, tuple) else response.status_code
    if status not in (302, 303) or not profile.logout.get("id_token_hint"):
        return
    try:
        strategy = strategy_for(connection)
        if not isinstance(strategy, OidcStrategy) or not strategy.options.upstream_logout:
            return
    except (LookupError, UpstreamError):
        return
    tx = flow.load(tx_id)
    sso = current_sso()
    user_id = tx.user_id if tx is not None and tx.user_id else (sso.user_id if sso else None)
    if user_id is None:
        return
    settings = current_app.extensions["foyer.settings"]
    row = OidcUpstreamSession(
        connection_id=connection.id,
        user_id=user_id,
        sso_session_id=sso.id if sso is not None and sso.user_id == user_id else None,
        expires_at=utcnow() + dt.timedelta(seconds=settings.session_lifetime),
    )
    row.logout = {k: v for k, v in profile.logout.items() if isinstance(v, str)}
    session.add(row)
    now = utcnow()  # and forget those whose Foyer session is over anyway
    session.execute(sa.delete(OidcUpstreamSession).where(OidcUpstreamSession.expires_at < now))
    session.commit()


def find_row(ended: SsoSession) -> OidcUpstreamSession | None:
    mine = sa.select(OidcUpstreamSession).where(OidcUpstreamSession.sso_session_id == ended.id)
    pending = sa.select(OidcUpstreamSession).where(  # kept while a later step waited
        OidcUpstreamSession.user_id == ended.user_id,
        OidcUpstreamSession.sso_session_id.is_(None),
        OidcUpstreamSession.created_at >= ended.created_at - PENDING_FOR,
        OidcUpstreamSession.created_at <= ended.created_at + PENDING_FOR,
    )
    for query in (mine, pending):
        row = session.scalar(query.order_by(OidcUpstreamSession.created_at.desc()).limit(1))
        if row is not None:
            return row
    return None


def upstream_logout_url(ended: SsoSession, return_to: str | None = None) -> str | None:
    """After Foyer ended ``ended``: the IdP's end-session URL when its user came through an
    OpenID Connect connection with ``upstream_logout`` on, else None. ``return_to`` is an
    address Foyer already checked (the application's ``post_logout_redirect_uri``)."""
    row = find_row(ended)
    if row is None:
        return None
    logout = row.logout
    connection = session.get(Connection, row.connection_id)
    session.delete(row)
    session.commit()
    if connection is None:
        return None
    try:
        strategy = strategy_for(connection)
        if not isinstance(strategy, OidcStrategy):
            return None
        state = secrets.token_urlsafe(24)
        url = strategy.logout_url(
            logout, url_for("login.upstream_logout_done", _external=True), state
        )
    except (LookupError, UpstreamError):
        return None  # the IdP cannot be reached: Foyer's own session has ended anyway
    if url is not None:
        cookie[RETURN] = {"state": state, "to": return_to or ""}
    return url


def upstream_logout_done() -> Response:
    """``GET /login/upstream-logout``: the IdP signed the user out and sent the browser
    back; on to the application (when the ``state`` is the one sent), else the signed-out
    page."""
    saved = cookie.pop(RETURN, None)
    state = request.args.get("state") or ""
    if (
        isinstance(saved, dict)
        and isinstance(saved.get("to"), str)
        and saved["to"]
        and constant_time_equal(str(saved.get("state", "")), state)
    ):
        return t.cast(Response, redirect(saved["to"], code=303))
    return t.cast(Response, redirect(url_for("login.logout"), code=303))
