"""Two-step verification account pages: setting up an authenticator, recovery codes,
turning it off. The code step of a sign-in, and the set-up a sign-in that requires two-step
verification takes a user through (:func:`enrollment_page`), are :mod:`app.login.two_step`."""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import mfa
from app.accounts import protection
from app.accounts.forms import EnrollTotpCodeForm
from app.accounts.forms import EnrollTotpForm
from app.accounts.forms import PasswordConfirmForm
from app.accounts.signed_in import sign_in_first
from app.accounts.signed_in import signed_in_user
from app.branding.context import current_brand
from app.branding.pages import render_page
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.security.limits import count_submission
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.accounts.models import User

CODES_KEY = "mfa_new_codes"
"""Session entry holding fresh recovery codes until the page showing them once is read."""


# --- Setting up and turning off an authenticator -------------------------------------------


def mfa_settings() -> Response | tuple[str, int]:
    """Whether two-step verification is on; set it up or turn it off."""
    user = signed_in_user()
    if user is None:
        return sign_in_first()
    if not mfa.has_totp(user):
        return redirect(url_for(".mfa_setup"))
    return render_page(
        "account/mfa_settings.html",
        user=user,
        form=PasswordConfirmForm(),
        codes_left=mfa.recovery_codes_left(user),
        done=request.args.get("done", "")[:20],
    )


def mfa_setup() -> Response | tuple[str, int]:
    """Scan the QR code (or type the key), then confirm with a code and the password."""
    user = signed_in_user()
    if user is None:
        return sign_in_first()
    if mfa.has_totp(user):
        return redirect(url_for(".mfa_settings"))
    return enrollment_page(
        user,
        EnrollTotpForm(),
        action=url_for(".mfa_setup"),
        enrolled=lambda: redirect(url_for(".mfa_recovery_codes"), code=303),
        cancel_url=url_for(".account"),
    )


def enrollment_page(
    user: User,
    form: EnrollTotpCodeForm,
    *,
    action: str,
    enrolled: t.Callable[[], Response],
    cancel_url: str | None = None,
    at_sign_in: bool = False,
) -> Response | tuple[str, int]:
    """The set-up page of ``user``'s authenticator, on the account pages and, for a sign-in
    that requires two-step verification, on the login pages (``at_sign_in``: the user has
    just signed in, so ``form`` asks no password).

    A good code confirms it: the fresh recovery codes wait in the cookie for the page that
    shows them once, and ``enrolled()`` is the answer.
    """
    enrollment = mfa.start_enrollment(user, current_brand().name)
    session.commit()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            if "current_password" in form and not protection.current_password_matches(
                current_tenant(), user, form.current_password.data
            ):
                form.current_password.errors.append(_("This is not your current password."))
            else:
                try:
                    mfa.count_attempt(user)
                except mfa.TooManyAttempts:
                    return error_page("rate_limited", 429, headers={"Retry-After": "300"})
                codes = mfa.confirm_enrollment(user, form.code.data)
                if codes is not None:
                    session.commit()
                    record_event(
                        "mfa_enrolled",
                        tenant=current_tenant(),
                        user_id=user.id,
                        connection_id=user.connection_id,
                        data={"factor": "totp", "at_sign_in": at_sign_in},
                    )
                    cookie[CODES_KEY] = codes
                    return enrolled()
                session.rollback()
                form.code.errors.append(
                    _(
                        "That code is not right. Check the time on your "
                        "phone and try the newest code."
                    )
                )
        status = 400
    else:
        status = 200
    return render_page(
        "account/mfa_setup.html",
        status,
        form=form,
        enrollment=enrollment,
        user=user,
        action=action,
        cancel_url=cancel_url,
        required=at_sign_in,
    )


def mfa_recovery_codes() -> Response | tuple[str, int]:
    """The new recovery codes, shown once (reloading shows nothing)."""
    user = signed_in_user()
    if user is None:
        return sign_in_first()
    codes = cookie.pop(CODES_KEY, None)
    if not codes:
        return redirect(url_for(".mfa_settings"))
    return render_page("account/mfa_recovery_codes.html", codes=codes, user=user)


def mfa_new_recovery_codes() -> Response | tuple[str, int]:
    """Replace the recovery codes (the old ones stop working): asks for the password."""
    user = signed_in_user()
    if user is None:
        return sign_in_first()
    if not mfa.has_totp(user):
        return redirect(url_for(".mfa_setup"))
    form = PasswordConfirmForm()
    count_submission("rate_limit_login", "login")
    if form.validate() and protection.current_password_matches(
        current_tenant(), user, form.current_password.data
    ):
        cookie[CODES_KEY] = mfa.new_recovery_codes(user)
        session.commit()
        record_event(
            "recovery_codes_renewed",
            tenant=current_tenant(),
            user_id=user.id,
            connection_id=user.connection_id,
        )
        return redirect(url_for(".mfa_recovery_codes"), code=303)
    if not form.errors:
        form.current_password.errors.append(_("This is not your current password."))
    return render_page(
        "account/mfa_settings.html",
        400,
        user=user,
        form=form,
        codes_left=mfa.recovery_codes_left(user),
        done="",
    )


def mfa_disable() -> Response | tuple[str, int]:
    """Turn two-step verification off: asks for the password again."""
    user = signed_in_user()
    if user is None:
        return sign_in_first()
    form = PasswordConfirmForm()
    count_submission("rate_limit_login", "login")
    if form.validate() and protection.current_password_matches(
        current_tenant(), user, form.current_password.data
    ):
        mfa.disable(user)
        session.commit()
        record_event(
            "mfa_disabled",
            tenant=current_tenant(),
            user_id=user.id,
            connection_id=user.connection_id,
        )
        return redirect(url_for(".account", done="mfa_off"), code=303)
    if not form.errors:
        form.current_password.errors.append(_("This is not your current password."))
    return render_page(
        "account/mfa_settings.html",
        400,
        user=user,
        form=form,
        codes_left=mfa.recovery_codes_left(user),
        done="",
    )
