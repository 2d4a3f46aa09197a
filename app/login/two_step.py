"""The two-step verification step of a sign-in: the authenticator's code, or a recovery code.

:mod:`app.login.steps` parks the sign-in on ``mfa`` and sends the browser to ``/login/mfa``;
a good code adds ``otp`` and ``mfa`` to ``amr`` and the sign-in goes on. Setting up an
authenticator is an account page (:mod:`app.accounts.mfa_views`); a sign-in that requires
two-step verification (:mod:`app.login.assurance`, or a rule) of a user who has none takes
them through the same page first (``/login/mfa/setup``), then shows their recovery codes
(``/login/mfa/recovery-codes``) and goes on, the new code counting as the second step.
"""

from __future__ import annotations

from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import mfa
from app.accounts.forms import CodeForm
from app.accounts.forms import EnrollTotpCodeForm
from app.accounts.mfa_views import CODES_KEY
from app.accounts.mfa_views import enrollment_page
from app.branding.pages import render_page
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.login import steps
from app.login.context import current_sign_in
from app.login.rules import MFA
from app.security.limits import count_submission


def mfa_challenge() -> Response | tuple[str, int]:
    """Ask for the authenticator's code (or a recovery code), then go on with the sign-in."""
    sign_in = current_sign_in()
    if not steps.waiting_for(sign_in, MFA):
        return error_page("login_expired")
    tenant, user, connection = sign_in.tenant, sign_in.user, sign_in.connection
    assert user is not None and connection is not None
    form = CodeForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            try:
                method = mfa.verify(user, form.code.data)
            except mfa.TooManyAttempts:
                record_event(
                    "mfa_failed", tenant=tenant, user_id=user.id, data={"reason": "rate_limited"}
                )
                return error_page("rate_limited", 429, headers={"Retry-After": "300"})
            if method is None:
                session.rollback()
                record_event(
                    "mfa_failed",
                    tenant=tenant,
                    organization=sign_in.organization,
                    user_id=user.id,
                    connection_id=connection.id,
                    data={"reason": "wrong_code"},
                )
                return render_page(
                    "account/mfa_challenge.html",
                    400,
                    form=CodeForm(formdata=None),
                    errors=[_("That code is not right. Try the newest code.")],
                )
            if user.blocked:
                session.rollback()
                return error_page("access_denied")
            session.commit()
            if method == "recovery":
                record_event(
                    "recovery_code_used",
                    tenant=tenant,
                    user_id=user.id,
                    data={"left": mfa.recovery_codes_left(user)},
                )
            return steps.passed(sign_in, MFA, mfa.AMR)
        return render_page("account/mfa_challenge.html", 400, form=form)
    return render_page("account/mfa_challenge.html", form=form)


ENROLLED = "mfa_enrolled"
"""The step a sign-in waits on once its user set up an authenticator: saving the recovery
codes."""


def mfa_enroll() -> Response | tuple[str, int]:
    """Set up an authenticator to go on signing in (a user who has none, at a sign-in that
    requires two-step verification)."""
    sign_in = current_sign_in()
    user = sign_in.user
    tx = sign_in.transaction
    if not steps.waiting_for(sign_in, MFA) or user is None or tx is None or mfa.has_totp(user):
        return error_page("login_expired")
    return enrollment_page(
        user,
        EnrollTotpCodeForm(),
        action=url_for("login.mfa_enroll", tx=tx.id),
        enrolled=lambda: steps.wait_for(
            sign_in, ENROLLED, url_for("login.mfa_recovery_codes", tx=tx.id)
        ),
        at_sign_in=True,
    )


def mfa_recovery_codes() -> Response | tuple[str, int]:
    """The new recovery codes, shown once; "I saved them" (a POST) goes on signing in."""
    sign_in = current_sign_in()
    tx = sign_in.transaction
    if not steps.waiting_for(sign_in, ENROLLED) or tx is None:
        return error_page("login_expired")
    if request.method == "POST":  # CSRF-checked by CSRFProtect before the view runs
        return steps.passed(sign_in, MFA, mfa.AMR)
    return render_page(
        "account/mfa_recovery_codes.html",
        codes=cookie.pop(CODES_KEY, None) or [],
        user=sign_in.user,
        continue_url=url_for("login.mfa_recovery_codes", tx=tx.id),
    )
