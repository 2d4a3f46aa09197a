"""The hosted login pages: identifier, password, signed in, sign out.

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
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.hrd.by_user_lookup import kind_of
from app.hrd.request_stage import organizations_allowed
from app.hrd.request_stage import resolve_request
from app.i18n import page_choice
from app.i18n import page_choice_time
from app.login import discovery
from app.login import flow
from app.login.discovery import begin_login
from app.login.forms import IdentifierForm
from app.login.forms import LogoutForm
from app.login.forms import PasswordForm
from app.oidc.models import Client
from app.orgs.models import Organization
from app.security.limits import limit
from app.security.limits import limiter
from app.security.sessions import current_sso
from app.security.sessions import end_sso_session
from app.strategies.base import StrategyUnavailable
from app.strategies.registry import strategy_for
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import vanity_organization

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.login.flow import LoginTransaction
    from app.tenancy.models import Tenant

bp = Blueprint("login", __name__)

LOGIN_HINT_MAX_LENGTH = 320


# --- Request set-up ------------------------------------------------------------------------


@bp.before_request
def load_context() -> None:
    """Resolve tenant (404 for unknown hosts), transaction, organization and locale hints."""
    tenant = current_tenant()
    tx = flow.load(request.args.get("tx"))
    g.login_tx = tx
    organization = organization_for(tenant, tx)
    g.organization = organization
    g.locale_candidates = locale_candidates(tx)
    g.locale_defaults = [
        organization.default_locale if organization is not None else None,
        tenant.default_locale,
    ]


def organization_for(tenant: Tenant, tx: LoginTransaction | None) -> Organization | None:
    """The transaction's organization (checked against the tenant), else the vanity host's."""
    if tx is not None and tx.organization_id:
        org = session.get(Organization, tx.organization_id)
        return org if org is not None and org.tenant_id == tenant.id else None
    return vanity_organization()


def locale_candidates(tx: LoginTransaction | None) -> list[str | None]:
    """ui_locales, then the language picked on the page, then the signed-in user's.

    A language picked on the page after this sign-in started comes first: the user saw the
    page in the application's language and chose another.
    """
    hint = tx.locale_hint if tx is not None else None
    choice = page_choice()
    candidates: list[str | None] = [hint, choice]
    if tx is not None and choice and page_choice_time() >= tx.created_at:
        candidates = [choice, hint]
    sso = current_sso()
    if sso is not None:
        candidates.append(sso.user.locale)
    return candidates


def client_for(tenant: Tenant, tx: LoginTransaction | None) -> Client | None:
    """The application of the sign-in, looked up once per request (pages ask several times)."""
    if tx is None or not tx.client_id:
        return None
    from app.oidc.server import oauth_server

    found = oauth_server().query_client(tx.client_id)
    if found is None or found.model.tenant_id != tenant.id:
        return None
    return found.model


def rate_limit_credentials() -> None:
    """Count one credential submission against the client address (429 page when over)."""
    with limiter().shared_limit(limit("rate_limit_login"), scope="login"):
        pass


def page(template: str, status: int = 200, **context: t.Any) -> tuple[str, int]:
    tenant = current_tenant()
    tx: LoginTransaction | None = g.login_tx
    context.setdefault("errors", [])
    return (
        render_template(
            template,
            tenant=tenant,
            organization=g.organization,
            client=client_for(tenant, tx),
            tx=tx,
            **context,
        ),
        status,
    )


def user_label(user: User) -> str:
    """How a user is named on the pages: email, else username, else name."""
    return user.email or user.username or user.name or ""


# --- Page 1: the identifier ----------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def identifier() -> Response | tuple[str, int]:
    tenant = current_tenant()
    tx: LoginTransaction | None = g.login_tx
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
        rate_limit_credentials()
        if form.validate():
            return submit_identifier(tenant, tx, form.identifier.data)
        return identifier_page(tenant, tx, form, 400)
    fixed_connection = discovery.connection_of(tenant, tx.fixed_connection_id)
    if fixed_connection is not None and kind_of(fixed_connection) == "redirect":
        return upstream.start(tenant, tx, fixed_connection)  # the application chose the IdP
    if (
        discovery.organization_required(tenant, tx)
        and discovery.organization_prompt(tenant, tx) == "picker"
    ):
        return redirect(url_for(".organization", tx=tx.id))
    if (tx.organization_id, tx.connection_id) != (tx.fixed_organization_id, tx.fixed_connection_id):
        # back from a later page ("Not you?"): the last identifier's choice no longer holds
        tx.organization_id, tx.connection_id = tx.fixed_organization_id, tx.fixed_connection_id
        flow.save(tx)
        g.organization = organization_for(tenant, tx)
    hint = tx.login_hint
    if hint and len(hint) <= LOGIN_HINT_MAX_LENGTH:
        form.identifier.data = hint
    return identifier_page(tenant, tx, form)


def identifier_page(
    tenant: Tenant,
    tx: LoginTransaction,
    form: IdentifierForm,
    status: int = 200,
    errors: list[str] | None = None,
) -> tuple[str, int]:
    """Page 1, with a button per upstream IdP of the organization, and a link to the
    organization picker when the organization is still the user's to choose."""
    client = client_for(tenant, tx)
    choosable = (
        not tx.organization_from_request
        and organizations_allowed(client)
        and discovery.has_organizations(tenant)
    )
    return page(
        "login/identifier.html",
        status,
        form=form,
        errors=errors or [],
        upstream_connections=discovery.redirect_connections(g.organization),
        organization_picker_url=url_for(".organization", tx=tx.id) if choosable else None,
    )


def submit_identifier(
    tenant: Tenant, tx: LoginTransaction, value: str
) -> Response | tuple[str, int]:
    """Route the identifier (home realm discovery), then continue where it leads."""
    tx.identifier = value
    try:
        connection = discovery.choose_connection(tenant, tx, value, g.organization)
    except discovery.OrganizationNeeded:
        flow.save(tx)
        return redirect(url_for(".organization", tx=tx.id, needed=1), code=303)
    except discovery.NoConnection:
        flow.save(tx)
        g.organization = organization_for(tenant, tx)
        if discovery.redirect_connections(g.organization):
            return identifier_page(
                tenant,
                tx,
                IdentifierForm(formdata=None, identifier=value),
                400,
                errors=[_("Choose how to sign in: use one of the buttons below.")],
            )
        return error_page("no_connection")
    except StrategyUnavailable:
        return error_page("service_unavailable")
    flow.save(tx)
    return continue_with(tenant, tx, connection)


def continue_with(tenant: Tenant, tx: LoginTransaction, connection: Connection) -> Response:
    """After discovery: the password page, or the upstream IdP of a redirecting connection."""
    if kind_of(connection) == "redirect":
        return upstream.start(tenant, tx, connection)
    return redirect(url_for(".password", tx=tx.id), code=303)


# --- Page 2: the password ------------------------------------------------------------------


@bp.route("/login/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    tenant = current_tenant()
    tx: LoginTransaction | None = g.login_tx
    if tx is None or tx.completed:
        return error_page("login_expired")
    connection = discovery.connection_of(tenant, tx.connection_id)
    if not tx.identifier or connection is None:
        return redirect(url_for(".identifier", tx=tx.id), code=303)

    form = PasswordForm()
    if request.method == "POST":
        rate_limit_credentials()
        if form.validate():
            return check_password(tenant, tx, connection, form.password.data)
        return page("login/password.html", 400, form=form, identifier=tx.identifier)
    return page("login/password.html", form=form, identifier=tx.identifier)


def check_password(
    tenant: Tenant, tx: LoginTransaction, connection: Connection, secret: str
) -> Response | tuple[str, int]:
    """Authenticate, then hand over to :func:`app.login.flow.complete`."""
    organization = g.organization
    client = client_for(tenant, tx)
    assert tx.identifier is not None
    strategy = strategy_for(connection)
    try:
        result = strategy.authenticate(tx.identifier, secret)
    except StrategyUnavailable:
        return error_page("service_unavailable", connection=connection.name)
    user = result.user
    if user is not None and user.tenant_id != tenant.id:
        user = None  # a strategy must never sign in a user of another tenant
    event = {
        "tenant": tenant,
        "organization": organization,
        "client_id": client.client_id if client else None,
        "connection_id": connection.id,
    }
    if user is None:
        try:  # only to name the account in the log; the answer is the same either way
            known = strategy.find_user(tx.identifier)
        except StrategyUnavailable:
            known = None
        record_event(
            "login_failed",
            user_id=known.id if known is not None and known.tenant_id == tenant.id else None,
            data={"identifier": tx.identifier, "reason": "wrong_credentials", "hrd": tx.hrd},
            **event,
        )
        return wrong_credentials(tx)
    if user.blocked:
        record_event(
            "login_blocked",
            user_id=user.id,
            data={"identifier": tx.identifier, "hrd": tx.hrd},
            **event,
        )
        return wrong_credentials(tx)
    from app.accounts.mfa_views import second_step

    step = second_step(tx, user, connection, result.amr)  # two-step verification, if set up
    if step is not None:
        return step
    try:
        return flow.complete(tx, user, connection, result.amr, tenant, organization, client)
    except flow.LoginDenied as denied:
        return error_page("access_denied", detail=denied.decision.reason, rule=denied.decision.code)


def wrong_credentials(tx: LoginTransaction) -> tuple[str, int]:
    """The one answer to every failed password check, whatever the reason."""
    return page(
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
    return page(
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
        return redirect(url_for(".logout"), code=303)
    sso = current_sso()
    if sso is None:
        return page("login/signed_out.html")
    return page(
        "login/logout.html", form=LogoutForm(), user=sso.user, user_label=user_label(sso.user)
    )


# --- Pages of home realm discovery, on this blueprint ---------------------------------------

from app.login import organization_picker  # noqa: E402,F401  (the organization picker)
from app.login import upstream  # noqa: E402  (a redirecting connection: the upstream IdP)
