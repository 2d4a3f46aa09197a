"""The account pages: password reset, change password, email verification, sign-up.

Pages that take an email address answer the same way, in the same time, whether or not an
account exists: the request validates the form and queues the work
(:mod:`app.accounts.background`), which finds the account and sends its email. Links in
emails come from the tenant's configured domain (:mod:`app.accounts.emails`). Credential
POSTs are rate limited and answer with 303 redirects; no page signs anyone in by itself.
The two-step verification set-up pages (:mod:`app.accounts.mfa_views`) and the list of
sessions (:mod:`app.accounts.session_views`) are routes of this blueprint too. A page
reached from a sign-in (``?tx=``) carries its brand and languages
(:mod:`app.branding.pages`).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import emails
from app.accounts import mfa
from app.accounts import mfa_views
from app.accounts import protection
from app.accounts import session_views
from app.accounts import signup as signup_service
from app.accounts import tokens
from app.accounts.background import background_job
from app.accounts.background import later
from app.accounts.credentials import set_new_password
from app.accounts.credentials import sign_out_everywhere
from app.accounts.forms import ChangePasswordForm
from app.accounts.forms import CodeForm
from app.accounts.forms import EmailForm
from app.accounts.forms import ResetPasswordForm
from app.accounts.forms import SignupForm
from app.accounts.forms import TokenAndPasswordForm
from app.accounts.forms import TokenForm
from app.accounts.models import OneTimeToken
from app.accounts.models import User
from app.accounts.services import PasswordRejected
from app.accounts.services import check_password_policy
from app.accounts.services import user_label
from app.accounts.signed_in import sign_in_first
from app.accounts.signed_in import signed_in_user
from app.branding.context import current_tenant_or_none
from app.branding.pages import page_subject
from app.branding.pages import render_page
from app.branding.pages import show_organization
from app.connections.models import Connection
from app.connections.services import dedicated_organization
from app.connections.services import dedicated_organization_id
from app.connections.services import first_password_connection
from app.connections.services import password_connections
from app.connections.services import password_connections_knowing
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import kind_of
from app.connections.strategies import strategy_for
from app.db import session
from app.db import utcnow
from app.errors import ErrorAction
from app.errors import error_page
from app.events.record import record_event
from app.i18n import locale_tag
from app.i18n import page_languages
from app.orgs.models import Organization
from app.security.limits import count_submission
from app.security.limits import retry_after
from app.sessions.services import current_sso
from app.tenancy.models import Tenant
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    pass

bp = Blueprint("accounts", __name__)


# --- Request set-up and helpers ------------------------------------------------------------


def use_organization(organization_id: str | None) -> Organization | None:
    """Brand this page for the organization a link was sent for (same tenant only)."""
    subject = page_subject()
    if not organization_id:
        return subject.organization
    org = session.get(Organization, organization_id)
    if org is not None and org.tenant_id == current_tenant().id:
        subject = show_organization(org)
        page_languages().defaults = [org.default_locale, current_tenant().default_locale]
    return subject.organization


def has_own_password(user: User) -> bool:
    """Whether Foyer checks this user's password (a password connection), so it can be
    changed here; an upstream identity provider's users change it there."""
    connection = session.get(Connection, user.connection_id)
    return connection is not None and kind_of(connection) == "password"


def tx_id() -> str | None:
    """The sign-in this page was reached from, kept in the links it sends the browser to."""
    tx = page_subject().transaction
    return tx.id if tx is not None else None


def link_invalid(purpose: str) -> tuple[str, int]:
    """The branded page for a link that is unknown, expired or already used."""
    record_event("link_rejected", tenant=current_tenant(), data={"purpose": purpose})
    return render_page(
        "account/link_invalid.html", 400, purpose=purpose, form=EmailForm(formdata=None)
    )


def signup_connection(tenant: Tenant, organization: Organization | None) -> Connection | None:
    """The first password connection of this page that allows sign-up, or None.

    Without an organization, a connection that belongs to one organization only (its
    isolated users) is left out: people sign up to it on that organization's pages.
    """
    if organization is None:
        return first_password_connection(tenant, shared=True, signup=True)
    return next((c for c in password_connections(organization) if c.signup_enabled), None)


def home_organization(user: User) -> Organization | None:
    """The organization whose own connection holds the user (isolated users), if any: its
    brand and pages are the user's when a page without an organization emails them."""
    return dedicated_organization(user.connection)


def _find_users(tenant_id: str, organization_id: str | None, email: str) -> list[User]:
    """The tenant's users with this email among the password connections of the page."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return []
    organization = session.get(Organization, organization_id) if organization_id else None
    pool = (
        password_connections(organization)
        if organization is not None
        else password_connections_knowing(tenant, email)
    )
    found = []
    for connection in pool:
        try:
            user = strategy_for(connection).find_user(email)
        except StrategyUnavailable:
            continue
        if user is not None and user.tenant_id == tenant.id and user.email:
            found.append(user)
    return found


@bp.app_context_processor
def _account_links() -> dict[str, t.Any]:
    """``account_links()`` for the login pages: where "Forgot password?" and "Create an
    account" lead, keeping the sign-in (``tx``); ``signup`` is None where sign-up is off."""

    def account_links() -> dict[str, str | None]:
        subject = page_subject()
        tenant = current_tenant_or_none()
        tx = subject.transaction
        args: dict[str, t.Any] = {"tx": tx.id} if tx is not None else {}
        signup = None
        if tenant is None:  # a theme preview (no tenant): show every link the page can have
            signup = url_for("accounts.signup", **args)
        elif signup_connection(tenant, subject.organization) is not None:
            signup = url_for("accounts.signup", **args)
        return {"reset": url_for("accounts.reset_request", **args), "signup": signup}

    settings = current_app.extensions["foyer.settings"]
    return {"account_links": account_links, "password_min_length": settings.password_min_length}


# --- Password reset ------------------------------------------------------------------------


@bp.route("/password/reset", methods=["GET", "POST"])
def reset_request() -> Response | tuple[str, int]:
    """Ask for a reset link. Every address gets the same answer; only accounts get mail."""
    form = EmailForm()
    if request.method == "POST":
        count_submission("rate_limit_account_email", "account_email")
        if form.validate():
            organization = page_subject().organization
            later(
                send_reset_emails,
                current_tenant().id,
                organization.id if organization is not None else None,
                form.email.data,
                str(get_locale()),
            )
            return redirect(url_for(".reset_sent", tx=tx_id()), code=303)
        return render_page("account/reset_request.html", 400, form=form)
    tx = page_subject().transaction
    if tx is not None and tx.identifier and "@" in tx.identifier:
        form.email.data = tx.identifier
    return render_page("account/reset_request.html", form=form)


@background_job
def send_reset_emails(
    tenant_id: str, organization_id: str | None, email: str, page_locale: str | None = None
) -> None:
    """Background: email a reset link to each active account with this address, at most
    ``reset_emails_per_hour`` per account (more requests send nothing, L-09)."""
    settings = current_app.extensions["foyer.settings"]
    since = utcnow() - dt.timedelta(hours=1)
    organization = session.get(Organization, organization_id) if organization_id else None
    for user in _find_users(tenant_id, organization_id, email):
        if user.blocked:
            continue
        sent = tokens.issued_since(user, tokens.PASSWORD_RESET, since)
        if sent >= settings.reset_emails_per_hour:
            record_event(
                "password_reset_limited",
                tenant_id=tenant_id,
                user_id=user.id,
                connection_id=user.connection_id,
            )
            continue
        emails.send_password_reset(user, organization or home_organization(user), page_locale)


@bp.route("/password/reset/sent")
def reset_sent() -> tuple[str, int]:
    return render_page("account/reset_sent.html")


@bp.route("/password/reset/new", methods=["GET", "POST"])
def reset_form() -> Response | tuple[str, int]:
    """The page a reset link opens: choose a new password. No sign-in follows (L-08)."""
    tenant = current_tenant()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
    value = request.form.get("token") if request.method == "POST" else request.args.get("token")
    row = tokens.peek(value, tokens.PASSWORD_RESET, tenant.id)
    user = session.get(User, row.user_id) if row is not None and row.user_id else None
    if row is None or user is None or user.tenant_id != tenant.id or user.blocked:
        return link_invalid(tokens.PASSWORD_RESET)
    organization = use_organization(row.data.get("organization_id"))
    page_languages().candidates.append(user.locale)  # the email's language
    form = ResetPasswordForm()
    if request.method == "POST" and form.validate():
        password = form.new_password.data
        try:
            check_password_policy(password, tenant=tenant, organization=organization, user=user)
        except PasswordRejected as rejected:
            form.new_password.errors.append(str(rejected))
        else:
            if tokens.consume(value, tokens.PASSWORD_RESET, tenant.id) is None:
                return link_invalid(tokens.PASSWORD_RESET)
            set_new_password(user, password)
            if row.data.get("email") and row.data.get("email") == user.email_normalized:
                user.email_verified = True  # the link reached this address
            counts = sign_out_everywhere(user, "password_reset")
            session.commit()
            protection.unblock(user, "password_reset")
            record_event(
                "password_reset_completed",
                tenant=tenant,
                organization=organization,
                user_id=user.id,
                connection_id=user.connection_id,
                data=counts,
            )
            later(
                notify_password_changed,
                user.id,
                "reset",
                organization.id if organization is not None else None,
            )
            return protection.remember_device(redirect(url_for(".reset_done"), code=303), user)
    form.token.data = value
    status = 400 if request.method == "POST" else 200
    return render_page(
        "account/reset_form.html", status, form=form, user=user, user_label=user_label(user)
    )


@bp.route("/password/reset/done")
def reset_done() -> tuple[str, int]:
    return render_page("account/reset_done.html")


@background_job
def notify_password_changed(user_id: str, how: str, organization_id: str | None) -> None:
    """Background: the "your password was changed" email."""
    user = session.get(User, user_id)
    if user is None:
        return
    organization = session.get(Organization, organization_id) if organization_id else None
    emails.send_password_changed(user, how, organization)


# --- Account overview and change password --------------------------------------------------


@bp.route("/account")
def account() -> Response | tuple[str, int]:
    """Who is signed in, whether their email is verified, and what they can change."""

    user = signed_in_user()
    if user is None:
        return sign_in_first()
    return render_page(
        "account/account.html",
        user=user,
        user_label=user_label(user),
        mfa_enabled=mfa.has_totp(user),
        has_password=has_own_password(user),
        done=request.args.get("done", "")[:20],
        resend_form=EmailForm(formdata=None, email=user.email),
    )


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response | tuple[str, int]:
    """Change the password: the current one is required (L-05); the user is notified."""
    sso = current_sso()
    if sso is None:
        return sign_in_first()
    user = sso.user
    if not has_own_password(user):  # their identity provider keeps their password
        return redirect(url_for(".account"), code=303)
    tenant = current_tenant()
    organization = page_subject().organization
    form = ChangePasswordForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            if not protection.current_password_matches(tenant, user, form.current_password.data):
                record_event(
                    "password_change_failed",
                    tenant=tenant,
                    user_id=user.id,
                    connection_id=user.connection_id,
                )
                form.current_password.errors.append(_("This is not your current password."))
                return render_page("account/change_password.html", 400, form=form, user=user)
            try:
                check_password_policy(
                    form.new_password.data, tenant=tenant, organization=organization, user=user
                )
            except PasswordRejected as rejected:
                form.new_password.errors.append(str(rejected))
                return render_page("account/change_password.html", 400, form=form, user=user)
            set_new_password(user, form.new_password.data)
            counts = {"sessions_ended": 0, "grants_revoked": 0}
            if form.sign_out_others.data:
                counts = sign_out_everywhere(user, "password_changed", keep=sso)
            session.commit()
            record_event(
                "password_changed",
                tenant=tenant,
                organization=organization,
                user_id=user.id,
                connection_id=user.connection_id,
                data=counts,
            )
            later(
                notify_password_changed,
                user.id,
                "change",
                organization.id if organization is not None else None,
            )
            return redirect(url_for(".account", done="password"), code=303)
        return render_page("account/change_password.html", 400, form=form, user=user)
    return render_page("account/change_password.html", form=form, user=user)


# --- Email verification --------------------------------------------------------------------


@bp.route("/email/verify", methods=["GET", "POST"])
def verify_email() -> Response | tuple[str, int]:
    """GET shows a button (mail scanners follow links, they do not press buttons); the POST
    uses the token and marks the address verified. Only the account's holder may: a browser
    not signed in to the account also gives its password, so the mailbox's owner clicking
    a link sent for someone else's account confirms nothing."""
    tenant = current_tenant()
    value = request.form.get("token") if request.method == "POST" else request.args.get("token")
    row = tokens.peek(value, tokens.EMAIL_VERIFICATION, tenant.id)
    user = session.get(User, row.user_id) if row is not None and row.user_id else None
    if (
        row is None
        or user is None
        or user.tenant_id != tenant.id
        or row.data.get("email") != user.email_normalized
    ):
        return link_invalid(tokens.EMAIL_VERIFICATION)
    organization = use_organization(row.data.get("organization_id"))
    page_languages().candidates.append(user.locale)  # the email's language
    holder = signed_in_user()
    needs_password = holder is None or holder.id != user.id
    form = TokenAndPasswordForm() if needs_password else TokenForm()
    if request.method == "POST":
        if needs_password:
            count_submission("rate_limit_login", "login")
        if form.validate():
            if needs_password and (
                user.blocked
                or not protection.current_password_matches(tenant, user, form.password.data)
            ):
                record_event(
                    "email_verification_failed",
                    tenant=tenant,
                    organization=organization,
                    user_id=user.id,
                    connection_id=user.connection_id,
                )
                form.password.errors.append(_("Wrong password."))
            else:
                if tokens.consume(value, tokens.EMAIL_VERIFICATION, tenant.id) is None:
                    return link_invalid(tokens.EMAIL_VERIFICATION)
                user.email_verified = True
                session.commit()
                record_event(
                    "email_verified",
                    tenant=tenant,
                    organization=organization,
                    user_id=user.id,
                    connection_id=user.connection_id,
                )
                return redirect(url_for(".email_verified"), code=303)
    form.token.data = value
    return render_page(
        "account/verify_email.html",
        400 if request.method == "POST" else 200,
        form=form,
        needs_password=needs_password,
        user=user,
        user_label=user_label(user),
    )


@bp.route("/email/verified")
def email_verified() -> tuple[str, int]:
    return render_page("account/email_verified.html", signed_in=current_sso() is not None)


@bp.route("/email/verify/resend", methods=["GET", "POST"])
def resend_verification() -> Response | tuple[str, int]:
    """Send the verification email again (same answer for every address)."""
    form = EmailForm()
    if request.method == "POST":
        count_submission("rate_limit_account_email", "account_email")
        if form.validate():
            organization = page_subject().organization
            later(
                send_verification_emails,
                current_tenant().id,
                organization.id if organization is not None else None,
                form.email.data,
                str(get_locale()),
            )
            return redirect(url_for(".verification_sent", tx=tx_id()), code=303)
        return render_page("account/resend_verification.html", 400, form=form)
    user = signed_in_user()
    if user is not None:
        form.email.data = user.email
    return render_page("account/resend_verification.html", form=form)


@background_job
def send_verification_emails(
    tenant_id: str, organization_id: str | None, email: str, page_locale: str | None = None
) -> None:
    """Background: a verification link to each unverified account with this address."""
    settings = current_app.extensions["foyer.settings"]
    since = utcnow() - dt.timedelta(hours=1)
    organization = session.get(Organization, organization_id) if organization_id else None
    for user in _find_users(tenant_id, organization_id, email):
        if user.email_verified or user.blocked:
            continue
        sent = tokens.issued_since(user, tokens.EMAIL_VERIFICATION, since)
        if sent >= settings.reset_emails_per_hour:
            continue
        emails.send_verification(user, organization or home_organization(user), page_locale)


@bp.route("/email/verify/sent")
def verification_sent() -> tuple[str, int]:
    return render_page("account/check_email.html", reason="verification")


# --- Unblocking sign-ins -------------------------------------------------------------------


@bp.route("/login/unblock", methods=["GET", "POST"])
def unblock() -> Response | tuple[str, int]:
    """The link of the "too many failed sign-ins" email: GET shows a button (mail scanners
    follow links, they do not press buttons); the POST uses the token and lifts every
    block and delay of the account's sign-ins."""
    tenant = current_tenant()
    value = request.form.get("token") if request.method == "POST" else request.args.get("token")
    row = tokens.peek(value, tokens.UNBLOCK, tenant.id)
    user = session.get(User, row.user_id) if row is not None and row.user_id else None
    if row is None or user is None or user.tenant_id != tenant.id:
        return link_invalid(tokens.UNBLOCK)
    use_organization(dedicated_organization_id(user.connection))
    page_languages().candidates.append(user.locale)  # the email's language
    form = TokenForm()
    if request.method == "POST" and form.validate():
        if tokens.consume(value, tokens.UNBLOCK, tenant.id) is None:
            return link_invalid(tokens.UNBLOCK)
        session.commit()
        protection.unblock(user, "link")
        return protection.remember_device(redirect(url_for(".unblocked"), code=303), user)
    form.token.data = value
    return render_page("account/unblock.html", form=form, user_label=user_label(user))


@bp.route("/login/unblocked")
def unblocked() -> tuple[str, int]:
    return render_page("account/unblocked.html")


# --- Sign-up -------------------------------------------------------------------------------

SIGNUP_KEY = "signup"
"""Session key of the browser's pending sign-up (the token of :mod:`app.accounts.signup`)."""


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | tuple[str, int]:
    """Start a sign-up, where a connection of this page allows it (checked here, not only
    hidden in the page: L-14): nothing is created until this browser enters the code
    emailed to the address. An address that already has an account gets the same answer
    here, and its owner an email saying someone tried."""
    tenant = current_tenant()
    organization = page_subject().organization
    connection = signup_connection(tenant, organization)
    if connection is None:
        return error_page(
            "signup_disabled",
            actions=[ErrorAction("sign-in", _("Sign in"), url_for("login.identifier", tx=tx_id()))],
        )
    form = SignupForm()
    if request.method == "POST":
        count_submission("rate_limit_account_email", "account_email")
        if form.validate():
            try:
                check_password_policy(
                    form.password.data,
                    tenant=tenant,
                    organization=organization,
                    email=form.email.data,
                    names=[form.name.data],
                )
            except PasswordRejected as rejected:
                form.password.errors.append(str(rejected))
                return render_page("account/signup.html", 400, form=form, connection=connection)
            wait = protection.count_signup(tenant, request.remote_addr or "")
            if wait:
                return error_page("rate_limited", 429, headers={"Retry-After": retry_after(wait)})
            started = signup_service.start(
                connection,
                organization,
                form.email.data,
                form.name.data or None,
                form.password.data,
                locale_tag(),
            )
            cookie[SIGNUP_KEY] = started.token
            later(send_signup_code, started.row.id, started.code, first=True)
            return redirect(url_for(".signup_verify", tx=tx_id()), code=303)
        return render_page("account/signup.html", 400, form=form, connection=connection)
    return render_page("account/signup.html", form=form, connection=connection)


@background_job
def send_signup_code(row_id: str, code: str, first: bool) -> None:
    """Background: email the code when the address has no account in the connection;
    otherwise, after the first code only, tell the owner someone tried."""
    row = session.get(OneTimeToken, row_id)
    if row is None or row.purpose != tokens.SIGNUP:
        return
    data = row.data
    tenant = session.get(Tenant, row.tenant_id)
    connection = session.get(Connection, data.get("connection_id") or "")
    if tenant is None or connection is None or not connection.signup_enabled:
        return
    organization_id = data.get("organization_id")
    organization = session.get(Organization, organization_id) if organization_id else None
    existing = strategy_for(connection).find_user(data["email"])
    if existing is None:
        emails.send_signup_code(tenant, organization, data["email"], code, data.get("locale"))
    elif first and existing.email:
        record_event(
            "signup_existing_email",
            tenant=tenant,
            organization=organization,
            user_id=existing.id,
            connection_id=connection.id,
        )
        emails.send_signup_attempt(existing, organization)


def _pending_signup() -> OneTimeToken | None:
    return signup_service.pending(cookie.get(SIGNUP_KEY), current_tenant().id)


@bp.route("/signup/verify", methods=["GET", "POST"])
def signup_verify() -> Response | tuple[str, int]:
    """Enter the emailed code in the browser that signed up: the account is created then,
    its address verified, and the sign-in the sign-up started from goes on signed in (its
    login rules, two-step verification and consent apply as usual)."""
    tenant = current_tenant()
    row = _pending_signup()
    if row is None:
        return render_page("account/signup_code.html", 400, ended=True, form=None)
    form = CodeForm()
    if request.method == "POST":
        count_submission("rate_limit_login", "login")
        if form.validate():
            right = signup_service.check_code(row, form.code.data)
            if right is not True:
                record_event(
                    "signup_code_failed",
                    tenant=tenant,
                    organization=page_subject().organization,
                    data={"ended": right is None},
                )
            if right is None:
                cookie.pop(SIGNUP_KEY, None)
                return render_page("account/signup_code.html", 400, ended=True, form=None)
            if right is False:
                form.code.errors.append(_("This code is not right. Check the email and try again."))
            else:
                return finish_signup(tenant, row.data.get("email", ""))
        return render_page("account/signup_code.html", 400, **_code_page(row, form))
    sent = request.args.get("sent") == "1"
    return render_page("account/signup_code.html", **_code_page(row, form), sent=sent)


def finish_signup(tenant: Tenant, email: str) -> Response | tuple[str, int]:
    """The code was right: create the account, or say the address got one meanwhile."""
    user = signup_service.complete(cookie.get(SIGNUP_KEY, ""), tenant.id)
    cookie.pop(SIGNUP_KEY, None)  # used either way (a plugin failure keeps it for a retry)
    organization = page_subject().organization
    if user is None:
        return render_page("account/signup_code.html", 409, taken=True, email=email, form=None)
    record_event(
        "user_created",
        tenant=tenant,
        organization=organization,
        user_id=user.id,
        connection_id=user.connection_id,
        data={"via": "signup"},
    )
    transaction = tx_id()
    if transaction is not None:  # the sign-in it interrupted goes on, signed in
        cookie[signup_service.SIGNED_UP_KEY] = signup_service.signed_up_proof(
            transaction, user, organization.id if organization is not None else None
        )
        return redirect(url_for("login.signed_up", tx=transaction), code=303)
    return redirect(url_for(".signup_done"), code=303)


def _code_page(row: OneTimeToken, form: CodeForm) -> dict[str, t.Any]:
    return {
        "form": form,
        "email": row.data.get("email", ""),
        "can_resend": row.data.get("codes_sent", 0) < signup_service.MAX_CODES,
        "minutes": max(1, current_app.extensions["foyer.settings"].signup_code_lifetime // 60),
    }


@bp.route("/signup/verify/resend", methods=["POST"])
def signup_resend() -> Response | tuple[str, int]:
    """Email a new code for this browser's sign-up (the older one stops working)."""
    count_submission("rate_limit_account_email", "account_email")
    row = _pending_signup()
    if row is None:
        return render_page("account/signup_code.html", 400, ended=True, form=None)
    code = signup_service.new_code_for(row)
    if code is None:
        return render_page(
            "account/signup_code.html",
            400,
            **_code_page(row, CodeForm(formdata=None)),
            errors=[_("No more codes can be sent for this sign-up. Start again.")],
        )
    later(send_signup_code, row.id, code, first=False)
    return redirect(url_for(".signup_verify", tx=tx_id(), sent=1), code=303)


@bp.route("/signup/done")
def signup_done() -> tuple[str, int]:
    return render_page("account/email_verified.html", signed_in=current_sso() is not None)


# --- Two-step verification set-up, on this blueprint ---------------------------------------

bp.add_url_rule("/account/mfa", view_func=mfa_views.mfa_settings)
bp.add_url_rule("/account/mfa/setup", view_func=mfa_views.mfa_setup, methods=["GET", "POST"])
bp.add_url_rule("/account/mfa/recovery-codes", view_func=mfa_views.mfa_recovery_codes)
bp.add_url_rule(
    "/account/mfa/recovery-codes/new", view_func=mfa_views.mfa_new_recovery_codes, methods=["POST"]
)
bp.add_url_rule("/account/mfa/disable", view_func=mfa_views.mfa_disable, methods=["POST"])

# --- Sessions, on this blueprint -----------------------------------------------------------

bp.add_url_rule(
    "/account/sessions", view_func=session_views.account_sessions, methods=["GET", "POST"]
)
