"""The routes of SAML connections, on every host and ``/o/<name>`` path of the tenant:

``GET  /saml/<connection>/metadata``  the service provider's metadata for the customer's IdP
``GET  /saml/<connection>/post``      the page that posts an AuthnRequest (POST binding)
``POST /saml/<connection>/acs``       the Assertion Consumer Service
``GET|POST /saml/<connection>/slo``   Single Logout, both ways

The IdP posts to the ACS from its own site, so the ``SameSite=Lax`` cookie that binds the
sign-in to the browser stays home: the ACS then answers with a page of Foyer's that posts
the same form again, from Foyer's own site, with the cookie. Then the strategy checks the
response (:meth:`app.strategies.saml.SamlStrategy.finish_login`); a refusal shows the
branded error page and logs ``login_failed``, with nothing created.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import request
from flask import url_for

from app.accounts.models import User
from app.branding.pages import render_page
from app.clients.services import tenant_client
from app.connections.models import Connection
from app.connections.services import dedicated_organization_id
from app.connections.services import find_connection
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamAnswer
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamProfile
from app.db import session
from app.db import utcnow
from app.errors import error_page
from app.events.record import record_event
from app.i18n import page_languages
from app.login import flow
from app.login.context import locale_candidates
from app.login.context import open_sign_in
from app.login.context import organization_for
from app.login.upstream_users import upstream_signed_in
from app.sessions.models import SsoSession
from app.sessions.services import current_sso
from app.sessions.services import end_sso_session
from app.strategies.saml import SamlStrategy
from app.strategies.saml import endpoint_url
from app.strategies.saml import same_name_id
from app.strategies.saml_models import SamlSession
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

    from app.login.flow import LoginTransaction
    from app.orgs.models import Organization

bp = Blueprint("saml", __name__)

REPOST_FIELD = "foyer_repost"
"""Marks the second post of a response, from Foyer's own page (with the cookie)."""
UPSTREAM_ERRORS = {
    "access_denied": "access_denied",
    "upstream_unavailable": "service_unavailable",
    "upstream_misconfigured": "no_connection",
    "invalid_response": "upstream_rejected",
}
"""The error page shown for each :class:`UpstreamError` code."""


def saml_connection(name: str) -> tuple[Connection, SamlStrategy] | None:
    """The tenant's SAML connection of that name, with its strategy."""
    connection = find_connection(current_tenant(), name[:63])
    if connection is None or connection.strategy != SamlStrategy.name:
        return None
    return connection, SamlStrategy(connection)


# --- Metadata and the POST binding ---------------------------------------------------------


@bp.route("/saml/<name>/metadata")
def metadata(name: str) -> BaseResponse:
    found = saml_connection(name)
    if found is None:
        return error_page("not_found")
    try:
        xml = found[1].metadata_xml()
    except StrategyUnavailable:
        return error_page("no_connection", connection=name)
    response = Response(xml, mimetype="application/samlmetadata+xml")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Content-Disposition"] = f'inline; filename="{name}-metadata.xml"'
    return response


@bp.route("/saml/<name>/post")
def post_request(name: str) -> BaseResponse | tuple[str, int]:
    """The page that posts the signed AuthnRequest to the IdP (script, or a button)."""
    tx = flow.load(request.args.get("tx"))
    found = saml_connection(name)
    if found is None or tx is None or tx.completed:
        return error_page("login_expired")
    post = tx.upstream.get("post") if tx.upstream.get("connection") == found[0].id else None
    if not post:
        return error_page("login_expired")
    _open(tx)
    fields = {"SAMLRequest": post["SAMLRequest"], "RelayState": tx.id}
    return render_page("login/saml_post.html", action=post["url"], fields=fields, to_idp=True)


def _open(tx: LoginTransaction | None) -> None:
    """Make ``tx`` the request's sign-in, with its brand and languages."""
    sign_in = open_sign_in(current_tenant(), tx)
    languages = page_languages()
    languages.candidates = locale_candidates(tx)
    organization = sign_in.organization
    languages.defaults = [
        organization.default_locale if organization is not None else None,
        sign_in.tenant.default_locale,
    ]


# --- The Assertion Consumer Service ---------------------------------------------------------


@bp.route("/saml/<name>/acs", methods=["POST"])
def acs(name: str) -> BaseResponse | tuple[str, int]:
    found = saml_connection(name)
    if found is None:
        return error_page("not_found")
    connection, strategy = found
    form = request.form
    relay = (form.get("RelayState") or "")[:100]
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    if cookie not in request.cookies and not form.get(REPOST_FIELD):
        fields = {
            "SAMLResponse": form.get("SAMLResponse", ""),
            "RelayState": relay,
            REPOST_FIELD: "1",
        }
        _open(None)
        return render_page("login/saml_post.html", action=request.url, fields=fields, to_idp=False)
    tx = flow.load(relay) if relay else None
    if tx is not None and (tx.completed or tx.upstream.get("connection") != connection.id):
        return error_page("login_expired")
    if tx is None and relay and not strategy.options.idp_initiated:
        return error_page("login_expired")  # the sign-in ended or belongs to another browser
    _open(tx)
    answer = UpstreamAnswer(
        transaction_id=tx.id if tx else "",
        params={key: form[key] for key in ("SAMLResponse", "RelayState") if key in form},
        saved=dict(tx.upstream) if tx else {},
        callback_url=endpoint_url(request_issuer(), connection, "acs"),
    )
    try:
        profile = strategy.finish_login(answer)
    except UpstreamError as error:
        return upstream_failed(error, connection, tx)
    if tx is None:
        tx = idp_initiated_transaction(strategy)
        if tx is None:
            return upstream_failed(
                UpstreamError("upstream_misconfigured", "idp_initiated names no application"),
                connection,
                None,
            )
    sign_in = open_sign_in(current_tenant(), tx)
    tx.connection_id = connection.id
    flow.save(tx)
    response = upstream_signed_in(sign_in, connection, profile)
    _remember_upstream_session(connection, tx, profile)
    return response


def idp_initiated_transaction(strategy: SamlStrategy) -> LoginTransaction | None:
    """A sign-in into the connection's configured application (its registered return
    address), opened for an IdP-initiated response; None when none is configured."""
    options = strategy.options
    tenant = current_tenant()
    client = tenant_client(tenant.id, options.idp_initiated_client_id or "")
    if client is None or not client.redirect_uris:
        return None
    redirect_uri = options.idp_initiated_redirect_uri or client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        return None
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": options.idp_initiated_scope,
    }
    tx = flow.begin(tenant, params, client)
    organization_id = dedicated_organization_id(strategy.connection)
    tx.organization_id = tx.fixed_organization_id = organization_id
    tx.connection_id = tx.fixed_connection_id = strategy.connection.id
    tx.hrd.append(
        {
            "method": "idp_initiated",
            "detail": f"SAML connection {strategy.connection.name}",
            "organization": organization_id or "",
            "connection": strategy.connection.id,
        }
    )
    flow.save(tx)
    return tx


def upstream_failed(
    error: UpstreamError, connection: Connection, tx: LoginTransaction | None
) -> BaseResponse:
    """The branded error page for a refused upstream answer, and its event; the sign-in
    ends (nothing of it was created)."""
    tenant = current_tenant()
    record_event(
        "login_failed",
        tenant=tenant,
        organization=sign_in_organization(tx),
        client_id=tx.client_id if tx else None,
        connection_id=connection.id,
        data={"reason": error.code, "detail": error.detail[:300], "hrd": tx.hrd if tx else []},
    )
    if tx is not None:
        flow.discard(tx)
    return error_page(
        UPSTREAM_ERRORS.get(error.code, "upstream_rejected"),
        connection=connection.name,
        reason=error.code,
    )


def sign_in_organization(tx: LoginTransaction | None) -> Organization | None:
    return organization_for(current_tenant(), tx) if tx is not None else None


def _remember_upstream_session(
    connection: Connection, tx: LoginTransaction, profile: UpstreamProfile
) -> None:
    """Keep the NameID and SessionIndex for Single Logout, with the Foyer session the
    sign-in started (when it is done already: not while a step such as MFA waits)."""
    logout = profile.logout or {}
    if not logout.get("name_id"):
        return
    done = flow.load(tx.id)
    user_id = done.user_id if done is not None else tx.user_id
    sso = current_sso()
    if user_id is None and sso is not None:
        user_id = sso.user_id
    if user_id is None:
        return
    settings = current_app.extensions["foyer.settings"]
    session.add(
        SamlSession(
            connection_id=connection.id,
            user_id=user_id,
            sso_session_id=sso.id if sso is not None and sso.user_id == user_id else None,
            name_id=logout["name_id"],
            session_index=(logout.get("session_index") or None),
            expires_at=utcnow() + dt.timedelta(seconds=settings.session_lifetime),
        )
    )
    session.commit()


# --- Single Logout --------------------------------------------------------------------------


@bp.route("/saml/<name>/slo", methods=["GET", "POST"])
def slo(name: str) -> BaseResponse | tuple[str, int]:
    """A LogoutRequest from the IdP (its user signed out there: the Foyer sessions of that
    upstream session end), or the LogoutResponse to Foyer's own request."""
    found = saml_connection(name)
    if found is None:
        return error_page("not_found")
    connection, strategy = found
    _open(None)
    binding = "redirect" if request.method == "GET" else "post"
    params = request.args if binding == "redirect" else request.form
    try:
        message = strategy.read_logout_message(params, binding)
    except UpstreamError as error:
        record_event(
            "error_shown",
            tenant=current_tenant(),
            connection_id=connection.id,
            data={"code": "saml_logout_refused", "detail": error.detail[:300]},
        )
        return error_page("upstream_rejected", connection=name, reason=error.code)
    relay = params.get("RelayState") or ""
    if message.kind == "response":
        if relay.startswith("/") and not relay.startswith("//") and "\\" not in relay:
            return redirect(relay, code=303)
        return redirect(url_for("login.logout"), code=303)
    ended = end_upstream_sessions(connection, message.name_id, message.session_indexes)
    record_event(
        "logout",
        tenant=current_tenant(),
        connection_id=connection.id,
        data={"via": "saml_slo", "sessions": ended},
    )
    try:
        url = strategy.logout_response_url(message.request_id or "", relay or None)
    except StrategyUnavailable:
        url = None
    if url is None:
        return render_page("login/signed_out.html")
    return redirect(url, code=303)


def end_upstream_sessions(
    connection: Connection, name_id: str | None, session_indexes: tuple[str, ...]
) -> int:
    """End the Foyer sessions started through this upstream session (this browser's too);
    returns how many ended."""
    if not name_id:
        return 0
    query = sa.select(SamlSession).where(SamlSession.connection_id == connection.id)
    rows = [
        row
        for row in session.scalars(query)
        if same_name_id(row.name_id, name_id)
        and (not session_indexes or row.session_index in session_indexes)
    ]
    now = utcnow()
    ended = 0
    user_ids = {row.user_id for row in rows}
    for row in rows:
        if row.sso_session_id is None:
            sessions = session.scalars(
                sa.select(SsoSession).where(
                    SsoSession.user_id == row.user_id, SsoSession.ended_at.is_(None)
                )
            ).all()
        else:
            sessions = session.scalars(
                sa.select(SsoSession).where(
                    SsoSession.id == row.sso_session_id, SsoSession.ended_at.is_(None)
                )
            ).all()
        for sso in sessions:
            sso.ended_at = now
            ended += 1
        session.delete(row)
    session.commit()
    mine = current_sso()
    if mine is not None and mine.user_id in user_ids:
        end_sso_session()
    return ended


def upstream_logout_url(ended: SsoSession) -> str | None:
    """After Foyer ended ``ended``: the IdP's Single Logout URL when its user came through a
    SAML connection with ``single_logout`` on (the IdP sends the browser back to the
    signed-out page), else None."""
    row = session.scalar(
        sa.select(SamlSession)
        .where(SamlSession.sso_session_id == ended.id)
        .order_by(SamlSession.created_at.desc())
        .limit(1)
    )
    if row is None:
        return None
    connection = session.get(Connection, row.connection_id)
    user = session.get(User, row.user_id)
    if connection is None or user is None:
        return None
    strategy = SamlStrategy(connection)
    logout = {"name_id": row.name_id, "session_index": row.session_index}
    session.delete(row)
    session.commit()
    try:
        return strategy.logout_url(logout, url_for("login.logout"))
    except StrategyUnavailable:
        return None
