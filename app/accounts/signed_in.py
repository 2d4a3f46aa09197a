"""Who an account page is for: the signed-in user, else a visitor sent to sign in first."""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import url_for
from werkzeug.wrappers import Response

from app.sessions.services import current_sso

if t.TYPE_CHECKING:
    from app.accounts.models import User


def signed_in_user() -> User | None:
    sso = current_sso()
    return sso.user if sso is not None else None


def sign_in_first() -> Response:
    """Send a visitor who is not signed in to the sign-in page."""
    return redirect(url_for("login.identifier"))
