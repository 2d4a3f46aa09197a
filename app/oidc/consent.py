"""The consent step: the last step of a sign-in, before the code.

``/authorize`` (a live session) and the end of the hosted login (:func:`app.login.flow.resume`)
call :func:`consent_step` once the request is valid: it returns None when no consent is
needed, else sends the browser to ``/consent`` (or, with ``prompt=none``, back to the client
with ``consent_required``). Allowing answers with the code at once; denying sends
``access_denied`` to the client's registered redirect_uri. The consents given are stored
by :mod:`app.accounts.consent`.
"""

from __future__ import annotations

import re
import time
import typing as t

from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from app.accounts import consent
from app.accounts.forms import ConsentForm
from app.branding.pages import render_page
from app.db import session
from app.errors import error_page
from app.events.record import record_event
from app.login import flow
from app.login.context import current_sign_in
from app.login.context import load_sign_in
from app.oidc.grants import OAuthClient
from app.oidc.server import oauth_server
from app.sessions.services import current_sso

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.login.flow import LoginTransaction
    from app.sessions.models import SsoSession
    from app.tenancy.models import Tenant

bp = Blueprint("consent", __name__)
bp.before_request(load_sign_in)


def consent_step(
    tenant: Tenant,
    client: Client,
    sso: SsoSession,
    params: t.Mapping[str, str],
    tx: LoginTransaction | None = None,
) -> Response | None:
    """None when ``client`` may have a code now; else the response asking the user."""
    prompt = (params.get("prompt") or (tx.params.get("prompt") if tx else "") or "").split()
    started = tx.created_at if tx is not None else time.time()
    asked_since = started if "consent" in prompt else None
    if not consent.needs_consent(sso.user, client, params.get("scope"), asked_since):
        return None
    if "none" in prompt:
        error = ConsentRequiredError(
            redirect_uri=params.get("redirect_uri"), state=params.get("state")
        )
        return oauth_server().authorization_error(error)
    if tx is None:
        tx = flow.begin(tenant, flow.kept_params(params), client)
        tx.organization_id = sso.organization_id
    tx.user_id = sso.user_id
    tx.amr = list(sso.amr or [])
    tx.completed = True
    flow.save(tx)
    return redirect(url_for("consent.consent_page", tx=tx.id), code=303)


@bp.route("/consent", methods=["GET", "POST"])
def consent_page() -> Response | tuple[str, int]:
    """The scopes an application asks for; Allow continues the sign-in, Deny refuses it."""
    sign_in = current_sign_in()
    tenant, tx, client = sign_in.tenant, sign_in.transaction, sign_in.client
    sso = current_sso()
    if (
        tx is None
        or not tx.completed
        or not tx.client_id
        or sso is None
        or sso.user_id != tx.user_id
    ):
        return error_page("login_expired")
    if client is None:
        return error_page("unknown_client")
    scope = tx.params.get("scope")
    form = ConsentForm()
    if request.method == "POST" and form.validate():
        decision = request.form.get("decision")
        if decision == "allow":
            consent.remember(sso.user, client, scope)
            session.commit()
            record_event(
                "consent_granted",
                tenant=tenant,
                user_id=sso.user_id,
                client_id=client.client_id,
                data={"scope": scope or ""},
            )
            answer = flow.resume(tx)
            session.commit()
            return answer
        if decision == "deny":
            return _deny(tenant, client, tx)
    return render_page(
        "account/consent.html",
        form=form,
        scopes=consent.describe(scope),
        user=sso.user,
        consent_client=client,
    )


def _deny(tenant: Tenant, client: Client, tx: LoginTransaction) -> Response:
    """``access_denied`` to the registered redirect_uri (checked again), else an error page."""
    flow.discard(tx)
    record_event(
        "consent_denied",
        tenant=tenant,
        user_id=tx.user_id,
        client_id=client.client_id,
        data={"scope": tx.params.get("scope", "")},
    )
    redirect_uri = tx.params.get("redirect_uri", "")
    if not OAuthClient(client).check_redirect_uri(redirect_uri):
        return error_page("access_denied")
    error = AccessDeniedError(redirect_uri=redirect_uri, state=tx.params.get("state"))
    response = oauth_server().authorization_error(error)
    response.status_code = 303
    return response


REFUSAL_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""A login rule's code (``not_a_member``): all a link may put in ``error_description``."""


@bp.route("/authorize/cancel")
def cancel() -> Response | tuple[str, int]:
    """ "Back to the application" from a refused sign-in: the application gets
    ``access_denied`` (and the refusal's code as ``error_description``) at its registered
    redirect_uri, so the user is never stuck on Foyer's page."""
    sign_in = current_sign_in()
    tenant, tx, client = sign_in.tenant, sign_in.transaction, sign_in.client
    if tx is None or tx.completed or not tx.client_id or client is None:
        return error_page("login_expired")
    flow.discard(tx)
    redirect_uri = tx.params.get("redirect_uri", "")
    if not OAuthClient(client).check_redirect_uri(redirect_uri):
        return error_page("access_denied")
    refused = request.args.get("refused", "")
    refused = refused if REFUSAL_CODE.fullmatch(refused) else ""
    record_event(
        "login_cancelled", tenant=tenant, client_id=client.client_id, data={"refused": refused}
    )
    error = AccessDeniedError(
        description=refused or None,
        redirect_uri=redirect_uri,
        state=tx.params.get("state"),
    )
    response = oauth_server().authorization_error(error)
    response.status_code = 303
    return response
