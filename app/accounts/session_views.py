"""The account page listing the user's sessions (the browsers signed in to their account),
where they can end any other one, or all others, after typing their password again.

Ending a session ends what applications hold of it too (:mod:`app.oidc.logout`).
"""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import request
from flask import url_for
from flask_babel import format_datetime
from flask_babel import format_timedelta
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import protection
from app.accounts.forms import PasswordConfirmForm
from app.accounts.signed_in import sign_in_first
from app.branding.pages import render_page
from app.db import session
from app.db import utcnow
from app.events.record import record_event
from app.security.limits import count_submission
from app.sessions.services import active_sessions
from app.sessions.services import current_sso
from app.sessions.services import end_session_of
from app.sessions.services import end_user_sessions
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.sessions.models import SsoSession

OTHERS = "others"
"""The value of the button ending every session but this browser's."""
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
"""``User-Agent`` substrings naming a browser or system, the first match wins."""


class SessionRow(t.NamedTuple):
    """One session as the page shows it."""

    id: str
    browser: str
    ip: str | None
    signed_in: str
    last_active: str
    current: bool


def browser_name(user_agent: str | None) -> str:
    """The browser and system of a ``User-Agent``, as in "Firefox on Linux" (their names
    are not translated; the rest is)."""
    agent = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")


def rows_of(user: User, current: SsoSession) -> list[SessionRow]:
    now = utcnow()
    return [
        SessionRow(
            id=sso.id,
            browser=browser_name(sso.user_agent),
            ip=sso.ip,
            signed_in=format_datetime(sso.created_at, "medium"),
            last_active=format_timedelta(sso.last_seen_at - now, add_direction=True),
            current=sso.id == current.id,
        )
        for sso in active_sessions(user)
    ]


def account_sessions() -> Response | tuple[str, int]:
    """List the sessions; POST ends one (``session=<id>``) or all others (``others``)."""
    current = current_sso()
    if current is None:
        return sign_in_first()
    user = current.user
    form = PasswordConfirmForm()
    status = 200
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        target = (request.form.get("session") or "")[:64]
        if form.validate() and protection.current_password_matches(
            current_tenant(), user, form.current_password.data
        ):
            ended = _end(user, current, target)
            for sso_id in ended:
                record_event(
                    "logout",
                    tenant=current_tenant(),
                    user_id=user.id,
                    data={"session": sso_id, "via": "account_page"},
                )
            done = "ended" if ended else "none"
            return redirect(url_for(".account_sessions", done=done), code=303)
        if not form.errors:
            form.current_password.errors.append(_("This is not your current password."))
        status = 400
    return render_page(
        "account/sessions.html",
        status,
        sessions=rows_of(user, current),
        form=form,
        user=user,
        others=OTHERS,
        done=request.args.get("done", "")[:20],
    )


def _end(user: User, current: SsoSession, target: str) -> list[str]:
    """End the session ``target`` (or all but this browser's); the ids ended."""
    if target == OTHERS:
        others = [sso.id for sso in active_sessions(user) if sso.id != current.id]
        end_user_sessions(user, keep=current)
        session.commit()
        return others
    ended = end_session_of(user, target)
    return [ended.id] if ended is not None else []
