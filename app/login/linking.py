"""The link step: an upstream identity meets an existing account with its address.

:func:`app.login.federated.upstream_signed_in` parks a sign-in here only when the tenant
allows linking for that pair of connections (the upstream connection's ``link_to``) and the
IdP verified the address. The identity is linked only after the user proves the existing
account is theirs with its password (attack protection counts the attempts like any
password check). The user may instead keep a separate account in the upstream connection.
"""

from __future__ import annotations

from flask import make_response
from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import protection
from app.accounts.models import User
from app.accounts.services import user_label
from app.branding.pages import render_page
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import strategy_for
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.hooks import PluginError
from app.login import federated
from app.login.context import SignIn
from app.login.context import current_sign_in
from app.login.forms import LogoutForm
from app.login.forms import PasswordForm
from app.security.limits import count_submission


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
    except StrategyUnavailable:
        return error_page("service_unavailable", connection=user.connection.name)
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
    tx.upstream = {}
    tx.pending_step = None
    amr = [*profile.amr, *(method for method in result.amr if method not in profile.amr)]
    proved = UpstreamProfile(**{**federated.profile_data(profile), "amr": amr})
    response = make_response(federated.link_identity(sign_in, connection, user, proved))
    return response
