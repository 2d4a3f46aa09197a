"""Example login rule: only users with a verified email address may sign in.

Enable it where needed (``plugins: {require_verified_email: {}}``); a user whose email is
not verified is refused with a reason in their language, and a ``login_denied`` event with
the code ``email_not_verified`` is recorded.
"""

from __future__ import annotations

import typing as t

from flask_babel import lazy_gettext as _l

from app import LoginDecision
from app import hookimpl

if t.TYPE_CHECKING:
    from app import LoginContext

FOYER_SCOPED = True


@hookimpl
def check_login(context: LoginContext) -> LoginDecision | None:
    if context.user.email_verified:
        return None
    return LoginDecision(
        code="email_not_verified",
        reason=_l("Verify your email address before signing in: open the link we sent you."),
    )
