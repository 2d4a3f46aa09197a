"""The link step: an upstream identity meets an existing account with its address.

:func:`app.login.federated.upstream_signed_in` parks a sign-in here only when the tenant
allows linking for that pair of connections (the upstream connection's ``link_to``) and the
IdP verified the address. The identity is linked only after the user proves the existing
account is theirs: with its password (attack protection counts the attempts like any
password check), or with a code emailed to the account's address (8 digits, good for
:data:`CODE_MINUTES`, :data:`CODE_TRIES` wrong tries, :data:`MAX_CODES` codes per sign-in,
kept only as a keyed hash in the sign-in). The user may instead keep a separate account in
the upstream connection.
"""

from __future__ import annotations

import secrets
import time

from flask import make_response
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import protection
from app.accounts.emails import send_link_code
from app.accounts.forms import CodeForm
from app.accounts.models import User
from app.accounts.services import user_label
from app.branding.pages import render_page
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import strategy_for
from app.db import session
from app.errors import error_page
from app.errors import unavailable_page
from app.events.record import record_event
from app.hooks import PluginError
from app.login import federated
from app.login import flow
from app.login.context import SignIn
from app.login.context import current_sign_in
from app.login.forms import LogoutForm
from app.login.forms import PasswordForm
from app.security.crypto import constant_time_equal
from app.security.crypto import keyed_hash
from app.security.limits import count_submission

CODE_DIGITS = 8
CODE_MINUTES = 10
CODE_TRIES = 5
"""Wrong codes accepted per code; then the sign-in must start again."""
MAX_CODES = 3


def link_account() -> Response | tuple[str, int]:
    """``/login/link``: the existing account's password, then the link."""
    sign_in = current_sign_in()
    waiting = _waiting(sign_in)
    if waiting is None:
        return error_page("login_expired")
    user, profile = waiting
    connection = federated.find_link_connection(sign_in)
    assert connection is not None
    form = PasswordForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            return _check(sign_in, user, profile, form.password.data)
        return _page(sign_in, user, form, 400)
    return _page(sign_in, user, form)


def send_code() -> Response | tuple[str, int]:
    """``POST /login/link/code/send``: email a code to the existing account's address."""
    sign_in = current_sign_in()
    waiting = _waiting(sign_in)
    if waiting is None:
        return error_page("login_expired")
    user, _profile = waiting
    tx, connection = sign_in.transaction, sign_in.connection
    assert tx is not None and connection is not None
    count_submission("rate_limit_login", "login")
    pending = tx.upstream[federated.LINK]
    if not user.email or pending.get("codes_sent", 0) >= MAX_CODES:
        return error_page("rate_limited", 429, reason="link_codes_spent")
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    pending.update(
        code_hash=keyed_hash(code, f"link:{tx.id}"),
        code_expires=time.time() + CODE_MINUTES * 60,
        code_tries=0,
        codes_sent=pending.get("codes_sent", 0) + 1,
    )
    flow.save(tx)
    send_link_code(
        user, sign_in.organization, code, connection.display_name or connection.name, CODE_MINUTES
    )
    return redirect(url_for("login.link_code", tx=tx.id), code=303)


def enter_code() -> Response | tuple[str, int]:
    """``/login/link/code``: the emailed code, then the link."""
    sign_in = current_sign_in()
    waiting = _waiting(sign_in)
    tx = sign_in.transaction
    if waiting is None or tx is None or not tx.upstream[federated.LINK].get("code_hash"):
        return error_page("login_expired")
    user, profile = waiting
    pending = tx.upstream[federated.LINK]
    form = CodeForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            digits = "".join(ch for ch in form.code.data if ch.isdigit())
            expected = str(pending["code_hash"])
            fresh = time.time() < float(pending.get("code_expires", 0))
            if fresh and constant_time_equal(keyed_hash(digits, f"link:{tx.id}"), expected):
                return _link(sign_in, user, profile, ["email"])
            pending["code_tries"] = pending.get("code_tries", 0) + 1
            record_event(
                "identity_link_failed",
                tenant=sign_in.tenant,
                organization=sign_in.organization,
                user_id=user.id,
                connection_id=tx.connection_id,
                data={"subject": profile.subject, "reason": "wrong_code"},
            )
            if pending["code_tries"] >= CODE_TRIES or not fresh:
                flow.discard(tx)
                return error_page("login_expired", reason="link_code_spent")
            flow.save(tx)
            errors = [_("That code is not right. Try the newest code.")]
            form = CodeForm(formdata=None)
        status = 400
    return render_page(
        "login/link_code.html",
        status,
        form=form,
        resend_form=LogoutForm(),
        email=user.email,
        minutes=CODE_MINUTES,
        can_resend=pending.get("codes_sent", 0) < MAX_CODES,
        errors=errors,
    )


def keep_separate() -> Response | tuple[str, int]:
    """``POST /login/link/separate``: no link; a separate account of the upstream
    connection (the existing account is left as it is)."""
    sign_in = current_sign_in()
    waiting = _waiting(sign_in)
    if waiting is None:
        return error_page("login_expired")
    _user, profile = waiting
    connection = federated.find_link_connection(sign_in)
    assert connection is not None and sign_in.transaction is not None
    sign_in.transaction.upstream = {}
    sign_in.transaction.pending_step = None
    try:
        user = federated.create_from_profile(sign_in, connection, profile)
        session.commit()
    except UpstreamError as exc:
        return federated.upstream_failed(sign_in, connection, exc)
    except PluginError:
        session.rollback()
        raise
    record_event(
        "user_created",
        tenant=sign_in.tenant,
        organization=sign_in.organization,
        user_id=user.id,
        connection_id=connection.id,
        data={"via": "upstream", "subject": profile.subject, "link": "declined"},
    )
    return federated.signed_in_as(sign_in, connection, user, profile.amr)


def _waiting(sign_in: SignIn) -> tuple[User, UpstreamProfile] | None:
    """The account and the upstream profile of a sign-in waiting for a link, else None."""
    tx = sign_in.transaction
    if tx is None or tx.completed or tx.pending_step != federated.LINK:
        return None
    if federated.find_link_connection(sign_in) is None:
        return None
    pending = tx.upstream[federated.LINK]
    user = session.get(User, pending.get("user"))
    if user is None or user.tenant_id != sign_in.tenant.id:
        return None
    return user, UpstreamProfile(**pending["profile"])


def _page(
    sign_in: SignIn, user: User, form: PasswordForm, status: int = 200, errors: list[str] = ()
) -> tuple[str, int]:
    connection = sign_in.connection
    assert connection is not None
    return render_page(
        "login/link.html",
        status,
        form=form,
        separate_form=LogoutForm(),
        code_form=LogoutForm() if user.email else None,
        identifier=user_label(user),
        upstream_name=connection.display_name or connection.name,
        errors=list(errors),
    )


def _check(
    sign_in: SignIn, user: User, profile: UpstreamProfile, secret: str
) -> Response | tuple[str, int]:
    """Check the existing account's password (with attack protection), then link."""
    tenant, tx = sign_in.tenant, sign_in.transaction
    connection = federated.find_link_connection(sign_in)
    assert tx is not None and connection is not None
    identifier = user.email or ""
    attempt = protection.before_password_check(tenant, identifier, request.remote_addr or "")
    if attempt.refused_for:
        return error_page("rate_limited", 429)
    try:
        result = strategy_for(user.connection).authenticate(identifier, secret)
    except StrategyUnavailable as error:
        return unavailable_page(error, connection=user.connection.name)
    if result.user is None or result.user.id != user.id or attempt.blocked:
        protection.failed(attempt, user)
        record_event(
            "identity_link_failed",
            tenant=tenant,
            organization=sign_in.organization,
            user_id=user.id,
            connection_id=connection.id,
            data={"subject": profile.subject, "reason": "wrong_password"},
        )
        wrong = PasswordForm(formdata=None)
        return _page(sign_in, user, wrong, 400, [_("Wrong password.")])
    protection.succeeded(attempt)
    return _link(sign_in, user, profile, result.amr)


def _link(
    sign_in: SignIn, user: User, profile: UpstreamProfile, proof: list[str]
) -> Response | tuple[str, int]:
    """The account is proved (``proof`` adds to ``amr``): link, and go on."""
    tx, connection = sign_in.transaction, federated.find_link_connection(sign_in)
    assert tx is not None and connection is not None
    tx.upstream = {}
    tx.pending_step = None
    amr = [*profile.amr, *(method for method in proof if method not in profile.amr)]
    proved = UpstreamProfile(**{**federated.profile_data(profile), "amr": amr})
    return make_response(federated.link_identity(sign_in, connection, user, proved))
