"""Sending a sign-in to an upstream IdP: a connection whose strategy is ``kind = "redirect"``.

Home realm discovery gets here three ways: the application's ``connection`` parameter, an
identifier whose email domain (or identifier map entry) names such a connection, or a
button on the organization's login page (``POST /login/connection``). The choice is traced
and logged (``login_redirected``) before the browser leaves. Finishing the upstream sign-in
is :mod:`app.login.federated` (Foyer's callback URL, for the builtin ``oidc`` and
``saml`` strategies) or a plugin strategy's own callback, which hands the user to
:func:`app.login.steps.upstream_authenticated`.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from app.connections.services import redirect_connections
from app.connections.strategies import RedirectStrategy
from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamLogin
from app.connections.strategies import strategy_for
from app.errors import error_page
from app.errors import unavailable_page
from app.events.record import record_event
from app.hrd.chain import CHOSE
from app.hrd.chain import Step
from app.i18n import locale_tag
from app.login import discovery
from app.login import federated
from app.login import flow
from app.login import last_organization
from app.login.context import current_sign_in
from app.login.context import organization_for

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.login.context import SignIn


def connection_choice() -> Response:
    """A button of the organization's login page: sign in with that IdP."""
    sign_in = current_sign_in()
    tx = sign_in.transaction
    if tx is None or tx.completed:
        return error_page("login_expired")
    name = (request.form.get("connection") or "")[:100]
    organization = discovery.organization_of(sign_in.tenant, tx.fixed_organization_id)
    offered = {c.name: c for c in redirect_connections(organization)}
    connection = offered.get(name)
    fixed = tx.fixed_connection_id
    if connection is None or (fixed is not None and fixed != connection.id):
        return error_page("invalid_request", reason="connection_not_offered")
    flow.record_decisions(
        tx, [Step("user_choice", CHOSE, f"button {connection.name}", organization, connection)]
    )
    return start(sign_in, connection)


def start(sign_in: SignIn, connection: Connection) -> Response:
    """Send the browser to the connection's upstream IdP (303), logging why."""
    strategy = strategy_for(connection)
    if not isinstance(strategy, RedirectStrategy):
        return error_page("no_connection", connection=connection.name)
    tx = sign_in.transaction
    assert tx is not None
    tenant, client = sign_in.tenant, sign_in.client
    organization = organization_for(tenant, tx)
    tx.connection_id = connection.id
    login = UpstreamLogin(
        transaction_id=tx.id,
        login_hint=tx.identifier or tx.login_hint,
        organization=organization,
        locale=locale_tag(),
        callback_url=url_for("login.upstream_callback", _external=True),
        force_login=tx.force_login or "login" in tx.params.get("prompt", "").split(),
        max_age=_max_age(tx.params.get("max_age")),
    )
    try:
        url = strategy.start_login(login)
    except StrategyUnavailable as error:
        return unavailable_page(error, connection=connection.name)
    except UpstreamError as exc:
        return federated.upstream_failed(sign_in, connection, exc)
    if urlsplit(url).scheme not in ("https", "http"):
        return error_page("no_connection", connection=connection.name, reason="bad_upstream_url")
    tx.upstream = {
        "connection": connection.id,
        "state": str(login.saved.get("state", "")),
        "saved": dict(login.saved),
        "callback_url": login.callback_url,
    }
    flow.save(tx)
    record_event(
        "login_redirected",
        tenant=tenant,
        organization=organization,
        client_id=client.client_id if client else None,
        connection_id=connection.id,
        data={"hrd": tx.hrd},
    )
    response = redirect(url, code=303)
    if organization is not None:
        last_organization.remember(response, organization)
    return response


def _max_age(value: str | None) -> int | None:
    """The application's ``max_age`` (validated by ``/authorize``), as a number."""
    try:
        return int(value) if value else None
    except ValueError:
        return None
