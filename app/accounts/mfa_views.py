"""Two-step verification pages: the code step of a sign-in, and setting up an authenticator.

The sign-in step follows the login rule pattern "redirect to a step and resume": once the
password is right, :func:`second_step` parks the sign-in (user, connection, methods) in the
session under the transaction's id and sends the browser to ``/login/mfa``; a good code
resumes it with :func:`app.login.flow.complete`, adding ``otp`` and ``mfa`` to ``amr``.
"""

from __future__ import annotations

import time
import typing as t

from flask import current_app
from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import mfa
from app.accounts.credentials import password_is_current
from app.accounts.forms import CodeForm
from app.accounts.forms import EnrollTotpForm
from app.accounts.forms import PasswordConfirmForm
from app.accounts.models import User
from app.accounts.signed_in import sign_in_first
from app.accounts.signed_in import signed_in_user
from app.branding.context import current_brand
from app.branding.pages import render_page
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.login import discovery
from app.login import flow
from app.login.context import current_sign_in
from app.security.limits import count_submission
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.login.flow import LoginTransaction

PENDING_KEY = "mfa_pending"
"""Session entry: {tx id: {"user_id", "connection_id", "amr", "at"}} of parked sign-ins."""
CODES_KEY = "mfa_new_codes"
"""Session entry holding fresh recovery codes until the page showing them once is read."""


# --- The code step of a sign-in ------------------------------------------------------------


def second_step(
    tx: LoginTransaction, user: User, connection: Connection, amr: list[str]
) -> Response | None:
    """Park a password-authenticated sign-in when the user has an authenticator; the
    redirect to the code page, or None when no second step is needed."""
    if not mfa.has_totp(user):
        return None
    pending = dict(cookie.get(PENDING_KEY, {}))
    pending = {k: v for k, v in pending.items() if time.time() - v.get("at", 0) < _lifetime()}
    pending[tx.id] = {
        "user_id": user.id,
        "connection_id": connection.id,
        "amr": list(amr),
        "at": time.time(),
    }
    cookie[PENDING_KEY] = pending
    return redirect(url_for("accounts.mfa_challenge", tx=tx.id), code=303)


def _lifetime() -> int:
    return int(current_app.extensions["foyer.settings"].login_transaction_lifetime)


def _parked(tx: LoginTransaction | None) -> tuple[dict[str, t.Any], User, Connection] | None:
    if tx is None or tx.completed:
        return None
    entry = cookie.get(PENDING_KEY, {}).get(tx.id)
    if not isinstance(entry, dict) or time.time() - entry.get("at", 0) > _lifetime():
        return None
    tenant = current_tenant()
    user = session.get(User, entry.get("user_id"))
    connection = discovery.connection_of(tenant, entry.get("connection_id"))
    if user is None or connection is None or user.tenant_id != tenant.id:
        return None
    return entry, user, connection


def _unpark(tx: LoginTransaction) -> None:
    pending = dict(cookie.get(PENDING_KEY, {}))
    pending.pop(tx.id, None)
    cookie[PENDING_KEY] = pending


def mfa_challenge() -> Response | tuple[str, int]:
    """Ask for the authenticator's code (or a recovery code), then finish the sign-in."""
    sign_in = current_sign_in()
    tenant, tx = sign_in.tenant, sign_in.transaction
    parked = _parked(tx)
    if tx is None or parked is None:
        return error_page("login_expired")
    entry, user, connection = parked
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
            _unpark(tx)
            amr = [*entry.get("amr", ["pwd"]), *mfa.AMR]
            try:
                return flow.complete(
                    tx, user, connection, amr, tenant, sign_in.organization, sign_in.client
                )
            except flow.LoginDenied as denied:
                return error_page(
                    "access_denied", detail=denied.decision.reason, rule=denied.decision.code
                )
        return render_page("account/mfa_challenge.html", 400, form=form)
    return render_page("account/mfa_challenge.html", form=form)


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
    enrollment = mfa.start_enrollment(user, current_brand().name)
    session.commit()
    form = EnrollTotpForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            if not password_is_current(user, form.current_password.data):
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
                        data={"factor": "totp"},
                    )
                    cookie[CODES_KEY] = codes
                    return redirect(url_for(".mfa_recovery_codes"), code=303)
                session.rollback()
                form.code.errors.append(
                    _(
                        "That code is not right. Check the time on your "
                        "phone and try the newest code."
                    )
                )
        return render_page(
            "account/mfa_setup.html", 400, form=form, enrollment=enrollment, user=user
        )
    return render_page("account/mfa_setup.html", form=form, enrollment=enrollment, user=user)


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
    if form.validate() and password_is_current(user, form.current_password.data):
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
    if form.validate() and password_is_current(user, form.current_password.data):
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
