"""The routes of SAML connections, on every host and ``/o/<name>`` path of the tenant:

``GET  /saml/<connection>/metadata``  the service provider's metadata for the customer's IdP
``GET  /saml/<connection>/post``      the page that posts an AuthnRequest (POST binding)
``POST /saml/<connection>/acs``       the Assertion Consumer Service
``GET|POST /saml/<connection>/slo``   Single Logout, both ways
``GET  /saml/<connection>/continue``  an IdP-initiated sign-in, its response checked

The IdP posts to the ACS from its own site, so the ``SameSite=Lax`` cookie that binds the
sign-in to the browser stays home: the ACS then answers with a page of Foyer's that posts
the same form again, from Foyer's own site, with the cookie. Then the strategy checks the
response (:meth:`app.strategies.saml.SamlStrategy.finish_login`); a refusal shows the
branded error page and logs ``login_failed``, with nothing created.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import sqlalchemy as sa
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import request
from flask import session as cookie
from flask import url_for

from app.accounts.models import Identity
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
from app.connections.strategies import state_transaction
from app.db import session
from app.db import utcnow
from app.errors import error_page
from app.events.record import record_event
from app.login import federated
from app.login import flow
from app.login.context import sign_in_for
from app.sessions.models import SsoSession
from app.sessions.services import current_sso
from app.sessions.services import end_sso_session
from app.strategies.saml import SamlStrategy
from app.strategies.saml import name_id_xml
from app.strategies.saml import same_name_id
from app.strategies.saml_models import SamlSession
from app.strategies.saml_settings import endpoint_url
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

    from app.login.flow import LoginTransaction

bp = Blueprint("saml", __name__)

FOYER_STATE = re.compile(r"[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{16,64}")
"""A ``RelayState`` Foyer sent (:func:`app.connections.strategies.new_state`); any other
value comes with an IdP-initiated response and is never used as an address."""
LOGOUT_RETURN = "saml_logout_return"
"""Cookie entry: where the browser goes once the IdP answered Foyer's LogoutRequest."""
RETURN_TO_APPLICATION = "application"
"""The RelayState of a LogoutRequest whose answer goes on to :data:`LOGOUT_RETURN`."""
IDP_INITIATED = "saml_idp_initiated"
"""Marks a sign-in opened for an IdP-initiated response (in ``tx.upstream``)."""
REPOST_FIELD = "foyer_repost"
"""Marks the second post of a response, from Foyer's own page (with the cookie)."""


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
    sign_in = sign_in_for(request.args.get("tx"))
    tx = sign_in.transaction
    found = saml_connection(name)
    if found is None or tx is None or tx.completed:
        return error_page("login_expired")
    pending = tx.upstream
    post = (pending.get("saved") or {}).get("post")
    if pending.get("connection") != found[0].id or not post or not pending.get("state"):
        return error_page("login_expired")
    fields = {"SAMLRequest": post["SAMLRequest"], "RelayState": pending["state"]}
    return render_page("login/saml_post.html", action=post["url"], fields=fields, to_idp=True)


# --- The Assertion Consumer Service ---------------------------------------------------------


@bp.route("/saml/<name>/acs", methods=["POST"])
def acs(name: str) -> BaseResponse | tuple[str, int]:
    """The IdP's answer: to Foyer's AuthnRequest (its ``RelayState`` is the sign-in's
    ``state``, :func:`app.login.federated.receive` takes it from there), or IdP-initiated
    (accepted only when the connection enables it, into its configured application)."""
    found = saml_connection(name)
    if found is None:
        return error_page("not_found")
    connection, strategy = found
    if not connection.enabled:  # switched off: no answer of its IdP signs anyone in
        sign_in_for(None)
        return error_page("no_connection", connection=connection.name, reason=federated.DISABLED)
    form = request.form
    relay = (form.get("RelayState") or "")[:200]
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    if cookie not in request.cookies and not form.get(REPOST_FIELD):
        fields = {
            "SAMLResponse": form.get("SAMLResponse", ""),
            "RelayState": relay,
            REPOST_FIELD: "1",
        }
        sign_in_for(None)
        return render_page("login/saml_post.html", action=request.url, fields=fields, to_idp=False)
    params = {key: form[key] for key in ("SAMLResponse", "RelayState") if key in form}
    if FOYER_STATE.fullmatch(relay) and state_transaction(relay):
        response = federated.receive(relay, params)
        _remember_upstream_session(connection, state_transaction(relay), response)
        return response
    return idp_initiated(connection, strategy, params)


def idp_initiated(
    connection: Connection, strategy: SamlStrategy, params: dict[str, str]
) -> BaseResponse | tuple[str, int]:
    """A response no sign-in of Foyer asked for (no ``InResponseTo`` allowed): refused
    unless the connection's ``idp_initiated`` is on, and then only into its application."""
    sign_in = sign_in_for(None)
    answer = UpstreamAnswer(
        transaction_id="",
        params=params,
        saved={},
        callback_url=endpoint_url(request_issuer(), connection, "acs"),
    )
    try:
        profile = strategy.finish_login(answer)
    except UpstreamError as error:
        return federated.upstream_failed(sign_in, connection, error)
    tx = idp_initiated_transaction(strategy)
    if tx is None:
        error = UpstreamError("upstream_misconfigured", "idp_initiated names no application")
        return federated.upstream_failed(sign_in, connection, error)
    tx.upstream = {IDP_INITIATED: connection.id, "profile": federated.profile_data(profile)}
    flow.save(tx)
    # on to a GET: a browser that never came to Foyer has no cookie yet, and the answer to
    # a cross-site POST never sets one; the sign-in binds to the browser that opens it
    return redirect(url_for(".idp_initiated_continue", name=connection.name, tx=tx.id), 303)


@bp.route("/saml/<name>/continue")
def idp_initiated_continue(name: str) -> BaseResponse | tuple[str, int]:
    """An IdP-initiated sign-in, its response checked: the user, then the next steps."""
    sign_in = sign_in_for(request.args.get("tx"))
    tx = sign_in.transaction
    found = saml_connection(name)
    if found is None or tx is None or tx.completed:
        return error_page("login_expired")
    connection = found[0]
    pending = tx.upstream
    if pending.get(IDP_INITIATED) != connection.id or not pending.get("profile"):
        return error_page("login_expired")
    if not connection.enabled:
        return error_page("no_connection", connection=connection.name, reason=federated.DISABLED)
    profile = UpstreamProfile(**pending["profile"])
    tx.upstream = {}  # single use
    flow.save(tx)
    response = federated.upstream_signed_in(sign_in, connection, profile)
    _remember_upstream_session(connection, tx.id, response)
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


def _remember_upstream_session(
    connection: Connection, tx_id: str, response: BaseResponse | tuple[str, int]
) -> None:
    """After a successful answer: keep the NameID and SessionIndex the IdP sent (on the
    user's identity) for Single Logout, with the Foyer session the sign-in started (None
    while a step such as two-step verification still waits)."""
    status = response[1] if isinstance(response, tuple) else response.status_code
    if status not in (302, 303):
        return
    tx = flow.load(tx_id)
    sso = current_sso()
    user_id = tx.user_id if tx is not None and tx.user_id else (sso.user_id if sso else None)
    if user_id is None:
        return
    identity = session.scalar(
        sa.select(Identity).where(
            Identity.user_id == user_id, Identity.connection_id == connection.id
        )
    )
    claims = identity.profile if identity is not None else {}
    name_id = name_id_xml(claims.get("name_id"), claims.get("name_id_format"))
    if name_id is None:
        return
    settings = current_app.extensions["foyer.settings"]
    session.execute(sa.delete(SamlSession).where(SamlSession.expires_at <= utcnow()))
    session.add(
        SamlSession(
            connection_id=connection.id,
            user_id=user_id,
            sso_session_id=sso.id if sso is not None and sso.user_id == user_id else None,
            name_id=name_id,
            session_index=claims.get("session_index") or None,
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
    sign_in_for(None)
    binding = "redirect" if request.method == "GET" else "post"
    params = request.args if binding == "redirect" else request.form
    try:
        message = strategy.read_logout_message(params, binding)
    except StrategyUnavailable:
        return error_page("upstream_unavailable", connection=name)
    except UpstreamError as error:
        record_event(
            "error_shown",
            tenant=current_tenant(),
            connection_id=connection.id,
            data={"code": "saml_logout_refused", "detail": error.detail[:300]},
        )
        return error_page("upstream_failed", connection=name, reason=error.code)
    relay = params.get("RelayState") or ""
    if message.kind == "response":
        back = cookie.pop(LOGOUT_RETURN, None)
        if relay == RETURN_TO_APPLICATION and isinstance(back, str) and back:
            return redirect(back, code=303)
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


def upstream_logout_url(ended: SsoSession, return_to: str | None = None) -> str | None:
    """After Foyer ended ``ended``: the IdP's Single Logout URL when its user came through a
    SAML connection with ``single_logout`` on, else None. The IdP sends the browser back to
    ``return_to`` (an address Foyer already checked, such as the application's registered
    ``post_logout_redirect_uri``; kept in the cookie, as RelayState is short), or to the
    signed-out page."""
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
    relay = url_for("login.logout")
    if return_to:
        cookie[LOGOUT_RETURN] = return_to
        relay = RETURN_TO_APPLICATION
    try:
        return strategy.logout_url(logout, relay)
    except StrategyUnavailable:
        return None
