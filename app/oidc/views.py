"""The provider's endpoints: discovery, JWKS, authorize, token, userinfo, revoke,
introspect, logout.

Every endpoint serves the tenant of the request's host (unknown hosts get a 404). The
authorization endpoint checks the client and its redirect_uri before anything else and never
redirects to an address the client has not registered; later errors go back to the client
with ``error``, ``state`` and ``iss``. The blueprint is CSRF-exempt (relying parties drive it).
"""

from __future__ import annotations

import base64
import binascii
import time
import typing as t

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oidc.core.errors import InteractionRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import request
from flask import url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.db import session
from app.db import utcnow
from app.errors import error_page
from app.events.record import commit_with_event
from app.events.record import record_event
from app.hooks import PluginError
from app.hrd.method import HrdRefused
from app.hrd.request_stage import resolve_request
from app.hrd.sso import SessionAnswer
from app.hrd.sso import session_answer
from app.i18n import page_languages
from app.login import flow
from app.login.discovery import begin_login
from app.login.steps import continue_session_sign_in
from app.login.steps import session_rules
from app.login.upstream_logout import after_logout as upstream_logout_url
from app.oidc import keys
from app.oidc import logout
from app.oidc import well_known
from app.oidc.backchannel import init_backchannel
from app.oidc.claims import extra_claims
from app.oidc.consent import consent_step
from app.oidc.discovery import CACHE_MAX_AGE
from app.oidc.discovery import init_discovery
from app.oidc.discovery import metadata_json
from app.oidc.grants import oversized_parameter
from app.oidc.server import init_server
from app.oidc.server import oauth_server
from app.oidc.state import protocol_state
from app.oidc.state import reset_protocol_state
from app.orgs.models import Organization
from app.security.headers import allow_any_origin
from app.security.limits import counted
from app.sessions.services import current_sso
from app.sessions.services import sessions_ended as session_end_signal
from app.tenancy.resolve import current_domain
from app.tenancy.resolve import current_tenant
from app.tenancy.resolve import request_issuer

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.login.flow import LoginTransaction
    from app.oidc.grants import OAuthClient
    from app.sessions.models import SsoSession
    from app.tenancy.models import Tenant

bp = Blueprint("oidc", __name__)

CORS_ENDPOINTS = frozenset(
    {"oidc.discovery", "oidc.jwks", "oidc.token", "oidc.userinfo", "oidc.revoke"}
)
"""Endpoints browsers may call from another origin (never authorize or logout)."""
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CACHEABLE = {"Cache-Control": f"public, max-age={CACHE_MAX_AGE}"}


bp.before_request(reset_protocol_state)


@bp.after_request
def _cors(response: Response) -> Response:
    if request.endpoint in CORS_ENDPOINTS:
        return allow_any_origin(response, "GET, POST", "Authorization, Content-Type")
    return response


@bp.errorhandler(TooManyRequests)
def _rate_limited(exc: TooManyRequests) -> Response | tuple[Response, int, dict[str, str]]:
    if request.endpoint not in ("oidc.token", "oidc.revoke", "oidc.introspect"):
        return error_page("rate_limited", 429, headers={"Retry-After": "60"})
    record_event("rate_limited", tenant=current_tenant(), data={"endpoint": request.endpoint})
    body = {"error": "slow_down", "error_description": "Too many requests; retry later."}
    return jsonify(body), 429, {"Retry-After": "60", **NO_STORE}


def _json(
    body: bytes | dict[str, t.Any], status: int = 200, headers: t.Mapping[str, str] | None = None
) -> Response:
    response = jsonify(body) if isinstance(body, dict) else Response(body)
    response.status_code = status
    response.mimetype = "application/json"
    response.headers.update(headers or {})
    return response


def _malformed_client_credentials() -> Response | None:
    """A 401 for an Authorization header authlib would raise on: a scheme without
    credentials (``Basic `` or ``Bearer ``), or Basic credentials that do not decode (or
    hold NUL, which no database query may carry)."""
    header = request.headers.get("Authorization", "")
    parts = header.split(None, 1)
    try:
        if " " in header and len(parts) < 2:
            raise ValueError("a scheme without credentials")
        if not parts or parts[0].lower() != "basic":
            return None
        if not parts[1].isascii():
            raise ValueError("credentials that are not base64")
        if "\x00" in base64.b64decode(parts[1], validate=False).decode("utf-8"):
            raise ValueError("credentials holding NUL")
    except (ValueError, binascii.Error):
        body = {"error": "invalid_client", "error_description": "Malformed Basic credentials."}
        return _json(body, 401, {**NO_STORE, "WWW-Authenticate": 'Basic error="invalid_client"'})
    return None


def _server_error() -> Response:
    session.rollback()
    body = {"error": "server_error", "error_description": "A claims rule failed."}
    return _json(body, 500, NO_STORE)


# --- Discovery ----------------------------------------------------------------------------


@bp.route("/.well-known/openid-configuration")
def discovery() -> Response:
    document = metadata_json(request_issuer())
    seconds = current_app.extensions["foyer.settings"].cache_seconds
    _may_repeat(time.monotonic() + seconds)
    return _json(document, headers=CACHEABLE)


@bp.route("/.well-known/jwks.json")
def jwks() -> Response:
    tenant = current_tenant()
    keys.ensure_keys(tenant.id)  # a new tenant publishes keys before it signs anything
    ring = keys.keyring(tenant.id)
    _may_repeat(keys.trusted_until(tenant.id))
    response = _json(ring.jwks_json, headers=CACHEABLE)
    response.mimetype = "application/jwk-set+json"
    return response


def _may_repeat(until: float) -> None:
    """Let :mod:`app.oidc.well_known` repeat this answer until ``until`` (monotonic)."""
    domain = current_domain()
    organization = domain.organization
    well_known.keep(until, domain.tenant.name, organization.name if organization else None)


# --- Authorization ------------------------------------------------------------------------


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """Check client and redirect_uri (error page), then the request (errors to the client).

    Then, in floor order: discovery decides (:mod:`app.hrd`: the request stage, and whether
    the SSO session may answer, for which organization); for a session's answer the login
    rules run (:mod:`app.login.steps`), then consent and the code; otherwise a login
    transaction opens and the hosted login pages take over.
    """
    tenant = current_tenant()
    params = request.values
    page_languages().candidates = [params.get("ui_locales")]
    server = oauth_server()
    client = server.query_client(params.get("client_id"))
    if client is None:
        return error_page("unknown_client", client_id=_clip(params.get("client_id")))
    redirect_uri = params.get("redirect_uri")
    if (
        not redirect_uri
        or len(params.getlist("redirect_uri")) != 1
        or not client.check_redirect_uri(redirect_uri)
    ):
        return error_page("invalid_redirect_uri", client_id=client.client_id)
    too_long = oversized_parameter(params)
    if too_long is not None:  # before anything reads or stores them
        error = InvalidRequestError(
            f"'{too_long}' is too long.", redirect_uri=redirect_uri, state=params.get("state")
        )
        return _authorization_error(tenant, client, error)
    # keys this sign-in will need, made now rather than while the token request writes
    keys.ensure_keys(tenant.id, {keys.DEFAULT_ALG, client.id_token_signed_response_alg})
    try:  # home realm discovery from the parameters, host and path (app.hrd)
        realm = resolve_request(tenant, client.model, params)
    except HrdRefused as refused:
        return _authorization_error(
            tenant,
            client,
            InvalidRequestError(
                refused.description, redirect_uri=redirect_uri, state=params.get("state")
            ),
        )
    sso = current_sso()
    answer = SessionAnswer(False)
    if sso is not None and _session_satisfies(tenant, client, sso, params):
        answer = session_answer(client.model, sso, realm)  # which organization (app.hrd)
    rule = None
    if sso is not None and answer.serves:  # the login rules, as for a fresh sign-in
        rule = session_rules(
            tenant, client.model, sso, answer.organization_id, params.get("acr_values")
        )
        if rule is not None and rule.denies and answer.enters:
            answer, rule = SessionAnswer(False), None  # refused there: sign in there afresh
    user = sso.user if sso is not None and answer.serves else None
    prompt = (params.get("prompt") or "").split()
    try:
        grant = server.validate_authorization(user)
        if user is None and "none" in prompt:
            raise LoginRequiredError(redirect_uri=redirect_uri)
        if rule is not None and not rule.denies and "none" in prompt:
            raise InteractionRequiredError(redirect_uri=redirect_uri)  # a step a rule requires
    except OAuth2Error as error:
        return _authorization_error(tenant, client, error)
    if user is not None and sso is not None and grant.prompt != "login":
        if rule is not None:  # the rule's denial, or the step it requires, then the code
            return continue_session_sign_in(
                tenant, client.model, sso, answer.organization_id, params, realm, rule
            )
        asked = consent_step(tenant, client.model, sso, params)  # a third-party client asks
        if asked is not None:
            return asked
        response = server.issue_code(grant, user, sso, answer.organization_id)
        session.commit()
        return response
    tx = begin_login(
        tenant,
        realm,
        flow.kept_params(params),
        client.model,
        force_login=sso is not None,  # a session exists but may not be reused for this request
    )
    return redirect(url_for("login.identifier", tx=tx.id))


@bp.route("/authorize/resume")
def authorize_resume() -> Response:
    """A finished sign-in's code, for a browser sent here: by a node of an earlier version
    during a rolling upgrade (the hosted login now answers in the request that finishes the
    sign-in, :func:`app.login.flow.resume`).

    The transaction is single use: its end is committed with the code, or with whatever
    else answers (one commit for the request)."""
    tx = flow.load(request.args.get("tx"))
    if tx is None or not tx.completed or not tx.client_id:
        return error_page("login_expired")
    response = flow.resume(tx)
    session.commit()
    return response


def _resume(tx: LoginTransaction) -> Response:
    """The code for a finished sign-in's request, or why not (nothing committed): the
    provider's answer to :func:`app.login.flow.resume`."""
    tenant = current_tenant()
    page_languages().candidates = [tx.params.get("ui_locales")]
    sso = current_sso()
    if sso is None or sso.user_id != tx.user_id:
        return error_page("login_expired")
    if tx.force_login and sso.auth_time.timestamp() < tx.created_at - 1:
        return error_page("login_expired")  # a re-authentication was asked for, none happened
    params = {k: v for k, v in tx.params.items() if k not in ("prompt", "max_age")}
    server = oauth_server()
    client = server.query_client(params.get("client_id"))
    if client is None or client.client_id != tx.client_id:
        return error_page("unknown_client", client_id=_clip(tx.client_id))
    if not client.check_redirect_uri(params.get("redirect_uri", "")):
        return error_page("invalid_redirect_uri", client_id=client.client_id)
    try:
        grant = server.validate_authorization(sso.user, params)
    except OAuth2Error as error:
        return _authorization_error(tenant, client, error)
    asked = consent_step(tenant, client.model, sso, params, tx)  # a third-party client asks
    if asked is not None:
        return asked
    organization_id = _code_organization(client.model, tx.organization_id, sso)
    return server.issue_code(grant, sso.user, sso, organization_id)


def _code_organization(client: Client, organization_id: str | None, sso: SsoSession) -> str | None:
    """The organization of a code issued after the hosted login: the sign-in's, else the
    session's; never one for an application that does not use organizations."""
    if client.organization_usage == "deny":
        return None
    return organization_id or sso.organization_id


def _session_satisfies(
    tenant: Tenant, client: OAuthClient, sso: SsoSession, params: t.Mapping[str, str]
) -> bool:
    """May this SSO session answer the request without a login page (prompt and max_age;
    its organization is decided by app.hrd.sso)?"""
    if "login" in (params.get("prompt") or "").split():
        return False
    max_age = params.get("max_age") or ""
    if max_age.isdigit() and len(max_age) <= 10:  # longer values are refused as invalid
        elapsed = (utcnow() - sso.auth_time).total_seconds()
        if int(max_age) == 0 or elapsed > int(max_age):
            return False
    return True


def _authorization_error(tenant: Tenant, client: OAuthClient, error: OAuth2Error) -> Response:
    record_event(
        "authorize_rejected",
        tenant=tenant,
        client_id=client.client_id,
        data={"error": error.error, "description": _clip(error.description)},
    )
    if not error.redirect_uri:
        return error_page("invalid_request", error=error.error)
    return oauth_server().authorization_error(error)


def _clip(value: str | None, length: int = 200) -> str | None:
    return value[:length] if value else value


# --- Token endpoint -----------------------------------------------------------------------


@bp.route("/oauth/token", methods=["POST"])
def token() -> Response:
    tenant = current_tenant()
    malformed = _malformed_client_credentials()
    if malformed is not None:
        return malformed
    server = oauth_server()
    keys.ensure_keys(tenant.id, _algorithms_for(_presented_client_id()))
    grant_type = request.form.get("grant_type")
    try:
        response = t.cast(Response, server.create_token_response())
    except PluginError:
        return _server_error()
    issued = protocol_state().issued
    if response.status_code == 200:
        if grant_type != "client_credentials":  # machine tokens write nothing
            commit_with_event(
                "token_issued",
                tenant=tenant,
                user_id=issued and issued.user_id,
                client_id=issued and issued.client_id,
                data={"grant_type": grant_type, "grant_id": issued and issued.grant_id},
            )
        return response
    session.rollback()
    error = (response.get_json(silent=True) or {}).get("error")
    if error != "invalid_client":  # already recorded as client_auth_failed
        record_event(
            "token_exchange_failed",
            tenant=tenant,
            client_id=_clip(_presented_client_id(), 64),
            data={"grant_type": _clip(grant_type, 64), "error": error},
        )
    return response


def _presented_client_id() -> str | None:
    client_id, _secret = extract_basic_authorization(request.headers)
    return client_id or request.form.get("client_id")


def _algorithms_for(client_id: str | None) -> set[str]:
    algs = {keys.DEFAULT_ALG}
    client = oauth_server().query_client(client_id)
    if client is not None:
        algs.add(client.id_token_signed_response_alg)
    return algs


# --- Userinfo -----------------------------------------------------------------------------


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    tenant = current_tenant()
    server = oauth_server()
    try:
        token = server.userinfo_token()
    except OAuth2Error as error:
        return server.error_response(error)
    grant = token.grant
    assert grant is not None  # an active family: checked by the validator
    user = token.user
    client = server.query_client(grant.client_id)
    if user is None or user.blocked or client is None:
        return server.error_response(InvalidTokenError())
    organization = (
        session.get(Organization, grant.organization_id) if grant.organization_id else None
    )
    try:
        claims = extra_claims(
            "userinfo",
            user=user,
            tenant=tenant,
            organization=organization,
            client=client.model,
            scopes=token.get_scope().split(),
        )
    except PluginError:
        return _server_error()
    claims["sub"] = user.id
    return _json(claims, headers=NO_STORE)


# --- Revocation ---------------------------------------------------------------------------


@bp.route("/oauth/revoke", methods=["POST"])
def revoke() -> Response:
    tenant = current_tenant()
    malformed = _malformed_client_credentials()
    if malformed is not None:
        return malformed
    response = t.cast(Response, oauth_server().create_endpoint_response("revocation"))
    if response.status_code != 200:
        session.rollback()
        return response
    revoked = protocol_state().revoked
    if revoked is not None:
        session.commit()
        record_event(
            "token_revoked",
            tenant=tenant,
            user_id=revoked.user_id,
            client_id=revoked.client_id,
            data={"grant_id": revoked.grant_id, "token_type": revoked.kind},
        )
    return response


# --- Introspection ------------------------------------------------------------------------


@bp.route("/oauth/introspect", methods=["POST"])
def introspect() -> Response:
    """RFC 7662 for resource servers that want revocation-aware answers (JWT checks cannot
    see a revoked family)."""
    current_tenant()
    malformed = _malformed_client_credentials()
    if malformed is not None:
        return malformed
    response = t.cast(Response, oauth_server().create_endpoint_response("introspection"))
    session.rollback()  # read only
    return response


# --- RP-initiated logout ------------------------------------------------------------------


@bp.route("/oidc/logout", methods=["GET", "POST"])
def end_session() -> Response:
    """Sign out and return to the application only with a valid ``id_token_hint`` and a
    registered ``post_logout_redirect_uri``; otherwise the hosted sign-out page asks first."""
    current_tenant()
    server = oauth_server()
    try:
        logout = server.validate_endpoint_request("end_session")
    except OAuth2Error:
        return _confirm_logout()
    claims = logout.id_token_claims
    if claims is None or logout.redirect_uri is None or logout.client is None:
        return _confirm_logout()
    sso = current_sso()
    if sso is not None and claims.get("sub") != sso.user_id:
        return _confirm_logout()  # the hint names someone else: do not sign this browser out
    response = t.cast(Response, server.create_endpoint_response("end_session", logout))
    if sso is not None:  # the upstream IdP signs out too when its connection says so
        upstream = upstream_logout_url(sso, response.headers.get("Location"))
        if upstream is not None:
            return redirect(upstream, code=303)
    if request.method == "POST":
        response.status_code = 303
    return response


def _confirm_logout() -> Response:
    return redirect(url_for("login.logout"), code=303)


# --- Set-up -------------------------------------------------------------------------------


def _setup(state: BlueprintSetupState) -> None:
    """Per app: the authorization server, caches, rate limits on credential checks, and
    what the end of a session ends for the applications."""
    app = t.cast(Flask, state.app)
    app.extensions[flow.ANSWER] = _resume
    init_server(app)
    keys.init_keys(app)
    init_discovery(app)
    init_backchannel(app)
    session_end_signal.connect(logout.sessions_ended, app)
    for endpoint in ("oidc.token", "oidc.revoke", "oidc.introspect"):
        app.view_functions[endpoint] = counted("rate_limit_token", endpoint)(
            app.view_functions[endpoint]
        )


bp.record_once(_setup)
