"""The hosted login pages: identifier, password, signed in, sign out; the routes of the
organization picker, of the upstream IdP buttons and of the two-step verification step.

``/authorize`` starts a login transaction and sends the browser to ``/login?tx=<id>``;
``/login`` without ``tx`` is a sign-in without an application, ending on ``/login/done``.
Page 1 asks who is signing in, page 2 the password of the connection home realm discovery
chose (:mod:`app.login.discovery`). A wrong identifier and a wrong password get the same page,
message and status, and both spend one password hash, so nothing reveals whether an
account exists. Credential POSTs are rate limited and answer with 303 redirects.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import current_app
from flask import make_response
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from app.accounts import protection
from app.accounts.services import user_label
from app.branding.pages import render_page
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import kind_of
from app.connections.strategies import strategy_for
from app.errors import error_page
from app.errors import unavailable_page
from app.events.record import record_event
from app.hrd.request_stage import resolve_request
from app.login import after_signup
from app.login import breached_password
from app.login import discovery
from app.login import federated
from app.login import flow
from app.login import linking
from app.login import oidc_logout
from app.login import organization_picker
from app.login import steps
from app.login import two_step
from app.login import upstream
from app.login.context import current_sign_in
from app.login.context import load_sign_in
from app.login.discovery import begin_login
from app.login.forms import IdentifierForm
from app.login.forms import LogoutForm
from app.login.forms import PasswordForm
from app.login.identify import identifier_page
from app.login.identify import submit_identifier
from app.login.upstream_logout import after_logout as upstream_logout_url
from app.mail.outbox import mailbox_enabled
from app.security.limits import count_submission
from app.security.limits import retry_after
from app.sessions.services import current_sso
from app.sessions.services import end_sso_session
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.login.context import SignIn
    from app.login.flow import LoginTransaction

bp = Blueprint("login", __name__)
bp.before_request(load_sign_in)

LOGIN_HINT_MAX_LENGTH = 320


# --- Page 1: the identifier ----------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def identifier() -> Response | tuple[str, int]:
    sign_in = current_sign_in()
    tenant, tx = sign_in.tenant, sign_in.transaction
    if tx is None:
        if request.args.get("tx") or request.method == "POST":
            return error_page("login_expired")
        if current_sso() is not None:
            return redirect(url_for(".signed_in"))
        tx = begin_login(tenant, resolve_request(tenant, None, {}))  # host and path only
        return redirect(url_for(".identifier", tx=tx.id))
    if tx.completed:
        return error_page("login_expired")

    form = IdentifierForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            return submit_identifier(sign_in, form.identifier.data)
        return identifier_page(sign_in, form, 400)
    fixed_connection = discovery.connection_of(tenant, tx.fixed_connection_id)
    if fixed_connection is not None and kind_of(fixed_connection) == "redirect":
        return upstream.start(sign_in, fixed_connection)  # the application chose the IdP
    if (
        discovery.organization_required(sign_in.client, tx)
        and discovery.organization_prompt(sign_in.client) == "picker"
    ):
        return redirect(url_for(".organization", tx=tx.id))
    if (tx.organization_id, tx.connection_id) != (tx.fixed_organization_id, tx.fixed_connection_id):
        # back from a later page ("Not you?"): the last identifier's choice no longer holds
        tx.organization_id, tx.connection_id = tx.fixed_organization_id, tx.fixed_connection_id
        flow.save(tx)
        sign_in.reload_organization()
    hint = tx.login_hint
    if hint and len(hint) <= LOGIN_HINT_MAX_LENGTH:
        form.identifier.data = hint
    return identifier_page(sign_in, form)


# --- Page 2: the password ------------------------------------------------------------------


@bp.route("/login/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    sign_in = current_sign_in()
    tx = sign_in.transaction
    if tx is None or tx.completed:
        return error_page("login_expired")
    connection = sign_in.connection
    if not tx.identifier or connection is None:
        return redirect(url_for(".identifier", tx=tx.id), code=303)

    form = PasswordForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            return check_password(sign_in, connection, form.password.data)
        return render_page("login/password.html", 400, form=form, identifier=tx.identifier)
    return render_page("login/password.html", form=form, identifier=tx.identifier)


def check_password(
    sign_in: SignIn, connection: Connection, secret: str
) -> Response | tuple[str, int]:
    """The strategy's step: check the password, then the next steps
    (:func:`app.login.steps.authenticated`). Attack protection
    (:mod:`app.accounts.protection`) may refuse the attempt first, or make a blocked pair's
    right password fail like a wrong one."""
    tenant, tx, client = sign_in.tenant, sign_in.transaction, sign_in.client
    organization = sign_in.organization
    assert tx is not None and tx.identifier is not None
    event = {
        "tenant": tenant,
        "organization": organization,
        "client_id": client.client_id if client else None,
        "connection_id": connection.id,
    }
    attempt = protection.before_password_check(tenant, tx.identifier, request.remote_addr or "")
    if attempt.refused_for:
        reason = "address_throttled" if attempt.throttled_for else "account_delayed"
        record_event("login_failed", data={"identifier": tx.identifier, "reason": reason}, **event)
        return refused(tx, attempt)
    strategy = strategy_for(connection)
    try:
        result = strategy.authenticate(tx.identifier, secret)
    except StrategyUnavailable as error:
        return unavailable_page(error, connection=connection.name)
    user = result.user
    if user is not None and user.tenant_id != tenant.id:
        user = None  # a strategy must never sign in a user of another tenant
    if user is None or attempt.blocked:  # blocked: the hash was spent, the answer is the same
        known = user
        if known is None:
            try:  # only to name the account; the answer is the same either way
                known = strategy.find_user(tx.identifier)
            except StrategyUnavailable:
                known = None
        if known is not None and known.tenant_id != tenant.id:
            known = None
        reason = "pair_blocked" if attempt.blocked else "wrong_credentials"
        record_event(
            "login_failed",
            user_id=known.id if known is not None else None,
            data={"identifier": tx.identifier, "reason": reason, "hrd": tx.hrd},
            **event,
        )
        protection.failed(attempt, known)
        return wrong_credentials(tx)
    if user.blocked:
        record_event(
            "login_blocked",
            user_id=user.id,
            data={"identifier": tx.identifier, "hrd": tx.hrd},
            **event,
        )
        return wrong_credentials(tx)
    protection.succeeded(attempt)
    breached_password.note(sign_in, user, connection, secret)
    response = make_response(steps.authenticated(sign_in, user, connection, result.amr))
    return protection.remember_device(response, user)


def refused(tx: LoginTransaction, attempt: protection.Attempt) -> Response:
    """An attempt refused before any check: the address is throttled (the "too many
    attempts" page), or the account must wait (the password page says so)."""
    headers = {"Retry-After": retry_after(attempt.refused_for)}
    if attempt.throttled_for:
        return error_page("rate_limited", 429, headers=headers)
    page, status = render_page(
        "login/password.html",
        429,
        form=PasswordForm(formdata=None),
        identifier=tx.identifier,
        errors=[
            _(
                "There were too many failed sign-ins to this account. Try again in a few "
                "minutes, or reset your password."
            )
        ],
    )
    return make_response(page, status, headers)


def wrong_credentials(tx: LoginTransaction) -> tuple[str, int]:
    """The one answer to every failed password check, whatever the reason."""
    return render_page(
        "login/password.html",
        400,
        form=PasswordForm(formdata=None),
        identifier=tx.identifier,
        errors=[_("Wrong email or password.")],
    )


# --- Signed in, sign out -------------------------------------------------------------------


@bp.route("/login/done")
def signed_in() -> Response | tuple[str, int]:
    """The end of a sign-in without an application: who is signed in, and a sign-out button."""
    sso = current_sso()
    if sso is None:
        return redirect(url_for(".identifier"))
    return render_page(
        "login/signed_in.html", form=LogoutForm(), user=sso.user, user_label=user_label(sso.user)
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | tuple[str, int]:
    """GET asks for confirmation (a link must never sign anyone out); POST signs out.

    The OIDC end-session endpoint sends the browser here when it may not redirect back to
    the application; after signing out, the page says so.
    """
    if request.method == "POST":  # CSRF-checked by CSRFProtect before the view runs
        ended = end_sso_session()
        if ended is not None:
            record_event(
                "logout",
                tenant=current_tenant(),
                user_id=ended.user_id,
                data={"session": ended.id, "via": "logout_page"},
            )
            upstream_url = upstream_logout_url(ended)
            if upstream_url is not None:  # the IdP signs out too, then comes back here
                return redirect(upstream_url, code=303)
        return redirect(url_for(".logout"), code=303)
    sso = current_sso()
    if sso is None:
        return render_page("login/signed_out.html")
    return render_page(
        "login/logout.html", form=LogoutForm(), user=sso.user, user_label=user_label(sso.user)
    )


# --- Pages of home realm discovery, and of the steps ---------------------------------------

bp.add_url_rule(
    "/login/organization", view_func=organization_picker.organization, methods=["GET", "POST"]
)
bp.add_url_rule("/login/connection", view_func=upstream.connection_choice, methods=["POST"])
bp.add_url_rule("/login/callback", "upstream_callback", federated.callback, methods=["GET"])
bp.add_url_rule("/login/upstream-logout", "upstream_logout_done", oidc_logout.upstream_logout_done)
bp.add_url_rule("/login/link", view_func=linking.link_account, methods=["GET", "POST"])
bp.add_url_rule(
    "/login/link/separate", "link_keep_separate", linking.keep_separate, methods=["POST"]
)
bp.add_url_rule("/login/link/code/send", "link_send_code", linking.send_code, methods=["POST"])
bp.add_url_rule("/login/link/code", "link_code", linking.enter_code, methods=["GET", "POST"])
bp.add_url_rule("/login/signed-up", "signed_up", after_signup.signed_up)
bp.add_url_rule("/login/mfa", view_func=two_step.mfa_challenge, methods=["GET", "POST"])
bp.add_url_rule("/login/mfa/setup", view_func=two_step.mfa_enroll, methods=["GET", "POST"])
bp.add_url_rule(
    "/login/mfa/recovery-codes", view_func=two_step.mfa_recovery_codes, methods=["GET", "POST"]
)


# --- The tenant's landing page -----------------------------------------------------------


@bp.route("/")
def home() -> tuple[str, int]:
    """The host's root: what this service is, where to sign in, the account; in the demo
    (or debug mode) also the demo application, the mailbox and the developer documents."""
    sso = current_sso()
    settings = current_app.extensions["foyer.settings"]
    developer = bool(settings.demo or current_app.debug)
    return render_page(
        "login/home.html",
        user=sso.user if sso is not None else None,
        user_label=user_label(sso.user) if sso is not None else None,
        developer=developer,
        demo_app_url=settings.demo_app_url if developer else "",
        mailbox_url=optional_url(MAILBOX_ENDPOINT) if developer and mailbox_enabled() else None,
    )


MAILBOX_ENDPOINT = "mailbox.inbox"
"""The development mailbox's page, linked from the landing page when it is on."""


def optional_url(endpoint: str) -> str | None:
    """``url_for(endpoint)``, or None where no such page is served (an optional feature)."""
    try:
        return url_for(endpoint)
    except BuildError:
        return None
