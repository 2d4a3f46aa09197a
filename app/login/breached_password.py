"""A login step: a password that is right but that the tenant's policy now refuses must be
changed before the sign-in goes on ("breached password detection").

A password chosen before the policy grew stricter, or one that has since appeared in a
breach, still opens its account. When the password page checks a right password
(:func:`note`), Foyer asks what it asks of a new password: zxcvbn's common-password lists
and the tenant's minimum score, "not your email or name", and the ``check_password`` rules
(an online breach corpus is such a rule, docs/accounts.md). A refused password marks the
sign-in and records a ``password_breach_detected`` event; after two-step verification
(an attacker holding only the password cannot change it), the builtin login rule
:func:`check_login` requires the ``password_change`` step: the user chooses a new password
on :func:`change`, which the same policy checks. Their other sessions and refresh tokens
end, the "your password was changed" email is sent, and the sign-in goes on.

The tenant setting ``passwords.check_at_sign_in`` (default on) turns it off. The answer for
one stored hash is kept per worker for :data:`MEMO_SECONDS`, so signing in again costs no
second estimate.
"""

from __future__ import annotations

import threading
import time
import typing as t

from flask import Blueprint
from flask import request
from flask import url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.accounts.background import later
from app.accounts.credentials import set_new_password
from app.accounts.credentials import sign_out_everywhere
from app.accounts.forms import ResetPasswordForm
from app.accounts.password_strength import min_score
from app.accounts.services import PasswordRejected
from app.accounts.services import check_password_policy
from app.accounts.views import notify_password_changed
from app.branding.pages import render_page
from app.connections.strategies import kind_of
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.hookspecs import hookimpl
from app.login import flow
from app.login import steps
from app.login.context import current_sign_in
from app.login.rules import LoginDecision
from app.security.limits import count_submission

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.login.context import SignIn
    from app.login.rules import LoginContext
    from app.tenancy.models import Tenant

STEP = "password_change"
"""The step a sign-in with a refused password waits on (``tx.steps`` once passed)."""
MEMO_SECONDS = 3600.0
MEMO_SIZE = 4096

bp = Blueprint("login_password", __name__)

_memo: dict[tuple[str, str, int], tuple[float, str | None]] = {}
_memo_lock = threading.Lock()


def enabled(tenant: Tenant) -> bool:
    """The tenant's ``passwords.check_at_sign_in`` (on unless set to false)."""
    return ((tenant.settings or {}).get("passwords") or {}).get("check_at_sign_in") is not False


def note(sign_in: SignIn, user: User, connection: Connection, password: str) -> None:
    """The password page checked ``password`` and it is right: if the policy refuses it
    now, the sign-in must change it (an event says so). Never raises for a plugin's sake:
    a failing ``check_password`` rule leaves the sign-in as it is."""
    tenant, tx = sign_in.tenant, sign_in.transaction
    if tx is None or not enabled(tenant) or kind_of(connection) != "password":
        return
    reason = _refusal(password, sign_in, user)
    if reason is None:
        return
    tx.password_change = True
    record_event(
        "password_breach_detected",
        tenant=tenant,
        organization=sign_in.organization,
        user_id=user.id,
        client_id=sign_in.client.client_id if sign_in.client else None,
        connection_id=connection.id,
        data={"identifier": tx.identifier, "reason": reason},
    )


def _refusal(password: str, sign_in: SignIn, user: User) -> str | None:
    """``weak`` or ``rule`` when the policy refuses ``password`` now, else None."""
    key = (user.id, user.password_hash or "", min_score(sign_in.tenant))
    now = time.monotonic()
    with _memo_lock:
        found = _memo.get(key)
    if found is not None and now - found[0] < MEMO_SECONDS:
        return found[1]
    try:
        check_password_policy(
            password,
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            user=user,
            check_length=False,
        )
        reason = None
    except PasswordRejected:
        reason = "refused"
    except Exception:  # a failing rule must not stop a sign-in with a right password
        return None
    with _memo_lock:
        if len(_memo) >= MEMO_SIZE:
            _memo.clear()
        _memo[key] = (now, reason)
    return reason


@hookimpl
def check_login(context: LoginContext) -> LoginDecision | None:
    """Require the ``password_change`` step of a sign-in whose password was refused.

    Only a sign-in that checked a password here can be one: one its SSO session answers
    (no step passed) is let through without opening the request's sign-in."""
    if STEP in context.steps or steps.AUTHENTICATE not in context.steps:
        return None
    tx = current_sign_in().transaction
    if tx is None or not tx.password_change or tx.user_id != context.user.id:
        return None
    return LoginDecision.require(
        STEP,
        page="login_password.change",
        reason=_l("Your password must be changed before you can sign in."),
    )


@bp.route("/login/password/change", methods=["GET", "POST"])
def change() -> Response | tuple[str, int]:
    """The step's page: choose a new password, checked by the tenant's policy."""
    sign_in = current_sign_in()
    if not steps.waiting_for(sign_in, STEP):
        return error_page("login_expired")
    tx, user = sign_in.transaction, sign_in.user
    assert tx is not None and user is not None
    form = ResetPasswordForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            password = form.new_password.data
            try:
                check_password_policy(
                    password, tenant=sign_in.tenant, organization=sign_in.organization, user=user
                )
            except PasswordRejected as rejected:
                form.new_password.errors.append(str(rejected))
            else:
                return _changed(sign_in, user, password)
    return render_page(
        "login/password_change.html",
        400 if request.method == "POST" else 200,
        form=form,
        action=url_for("login_password.change", tx=tx.id),
    )


def _changed(sign_in: SignIn, user: User, password: str) -> Response | tuple[str, int]:
    tx = sign_in.transaction
    assert tx is not None
    set_new_password(user, password)
    counts = sign_out_everywhere(user, "password_breached")
    tx.password_change = False
    flow.save(tx)
    session.commit()
    organization = sign_in.organization
    record_event(
        "password_changed",
        tenant=sign_in.tenant,
        organization=organization,
        user_id=user.id,
        connection_id=user.connection_id,
        data={"how": "sign_in", **counts},
    )
    later(notify_password_changed, user.id, "change", organization.id if organization else None)
    return steps.passed(sign_in, STEP)


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
