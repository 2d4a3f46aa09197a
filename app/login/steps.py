"""The steps of a sign-in after identification, in order, each resumed after the last.

1. ``authenticate``: the connection's strategy. The password page
   (:mod:`app.login.views`), or a round trip to an upstream IdP whose callback calls
   :func:`upstream_authenticated`. Both end in :func:`authenticated`.
2. ``mfa``: two-step verification (:mod:`app.login.two_step`), asked after a password
   checked on Foyer's page when the user has an authenticator, and whenever the tenant, the
   organization or the application requires it (:mod:`app.login.assurance`) or a rule does;
   a user with no authenticator then sets one up first.
3. ``rules``: the ``check_login`` hook (:func:`check_rules`, the one place it runs, for
   fresh and SSO sign-ins alike). A rule allows, denies, or requires a step (``mfa`` or a
   plugin's own page, which calls :func:`step_done`); the rules run again after it.
4. The SSO session starts (:func:`finish`) and the browser goes to ``/authorize/resume``,
   where the consent step (:mod:`app.oidc.consent`) runs before the code is issued.

The transaction (:mod:`app.login.flow`) remembers the steps passed (``tx.steps``) and the
one the sign-in waits on (``tx.pending_step``). An SSO session answering ``/authorize``
skips the first step: :func:`session_rules` runs the rules for its user, and
:func:`continue_session_sign_in` denies it or takes it through the step a rule requires.
"""

from __future__ import annotations

import typing as t

from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.accounts import mfa
from app.accounts.models import User
from app.connections.models import Connection
from app.connections.strategies import kind_of
from app.db import session
from app.db import utcnow
from app.errors import ErrorAction
from app.errors import error_page
from app.events.record import commit_with_event
from app.events.record import record_event
from app.hooks import call_hook
from app.login import flow
from app.login import last_organization
from app.login.assurance import two_step_required
from app.login.context import current_sign_in
from app.login.context import open_sign_in
from app.login.rules import MFA
from app.login.rules import LoginContext
from app.login.rules import LoginDecision
from app.orgs.models import Organization
from app.rowcache import row_cache
from app.sessions.services import current_sso
from app.sessions.services import start_sso_session
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.hrd.chain import Resolution
    from app.login.context import SignIn
    from app.sessions.models import SsoSession
    from app.tenancy.models import Tenant

AUTHENTICATE = "authenticate"
"""The strategy's step, the first in ``tx.steps``."""

# --- Authentication -----------------------------------------------------------------------


def authenticated(
    sign_in: SignIn, user: User, connection: Connection, amr: list[str]
) -> Response | tuple[str, int]:
    """The strategy's step is done: ``user`` proved who they are through ``connection``.

    Two-step verification follows when Foyer checked a password on its own page and the
    user has an authenticator; then the rules.
    """
    tx = sign_in.transaction
    assert tx is not None
    tx.user_id = user.id
    tx.connection_id = connection.id
    tx.amr = list(amr)
    tx.steps = [AUTHENTICATE]
    tx.pending_step = None
    asks = kind_of(connection) == "password" and MFA not in tx.amr
    if asks and mfa.has_totp(user):
        return wait_for(sign_in, MFA, url_for("login.mfa_challenge", tx=tx.id))
    return proceed(sign_in)


def upstream_authenticated(
    transaction_id: str, user: User, amr: list[str]
) -> Response | tuple[str, int]:
    """For a redirecting strategy's callback: the upstream IdP signed ``user`` in for the
    sign-in ``transaction_id`` (the ``transaction_id`` its ``start_login`` was given).

    Returns the response to send (the next step, the code, or an error page).
    """
    sign_in = open_sign_in(current_tenant(), flow.load(transaction_id))
    tx, connection = sign_in.transaction, sign_in.connection
    if tx is None or tx.completed or connection is None:
        return error_page("login_expired")
    if user.tenant_id != sign_in.tenant.id or user.connection_id != connection.id:
        return error_page("access_denied", reason="user_of_another_connection")
    if user.blocked:
        record_event(
            "login_blocked",
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            user_id=user.id,
            client_id=sign_in.client.client_id if sign_in.client else None,
            connection_id=connection.id,
            data={"identifier": tx.identifier, "hrd": tx.hrd},
        )
        return error_page("access_denied")
    return authenticated(sign_in, user, connection, amr)


# --- Waiting for a step, and resuming -----------------------------------------------------


def wait_for(sign_in: SignIn, step: str, url: str) -> Response:
    """Park the sign-in on ``step`` and send the browser to the step's page."""
    tx = sign_in.transaction
    assert tx is not None
    tx.pending_step = step
    flow.save(tx)
    return redirect(url, code=303)


def waiting_for(sign_in: SignIn, step: str) -> bool:
    """The sign-in is parked on ``step`` (its user known, nothing finished yet)."""
    tx = sign_in.transaction
    return (
        tx is not None
        and not tx.completed
        and tx.pending_step == step
        and sign_in.user is not None
        and sign_in.connection is not None
    )


def passed(sign_in: SignIn, step: str, amr: t.Sequence[str] = ()) -> Response | tuple[str, int]:
    """``step`` is done (adding ``amr``, if any): the rules run again."""
    tx = sign_in.transaction
    assert tx is not None
    tx.steps = [*tx.steps, step]
    tx.amr = [*tx.amr, *(method for method in amr if method not in tx.amr)]
    tx.pending_step = None
    return proceed(sign_in)


def step_done(step: str) -> Response | tuple[str, int]:
    """For a plugin's step page: the current sign-in (``?tx=``) passed ``step``.

    Returns the response that takes the sign-in on (the next step, the code, or an error
    page): return it from the view. A sign-in not waiting for ``step`` gets the
    "sign-in expired" page.
    """
    sign_in = current_sign_in()
    if not waiting_for(sign_in, step):
        return error_page("login_expired")
    return passed(sign_in, step)


# --- The rules ----------------------------------------------------------------------------


def check_rules(context: LoginContext) -> LoginDecision | None:
    """Run the ``check_login`` hook: None to allow, else the first rule's decision.

    :raises app.hooks.PluginError: when a rule raises (the plugin-failure page).
    """
    answers = call_hook(
        "check_login", tenant=context.tenant, organization=context.organization, context=context
    )
    return t.cast("LoginDecision | None", answers[0]) if answers else None


def proceed(sign_in: SignIn) -> Response | tuple[str, int]:
    """Two-step verification where it is required, then the rules step: finish, deny, or
    take the sign-in through the step a rule requires."""
    tx, user, connection = sign_in.transaction, sign_in.user, sign_in.connection
    assert tx is not None and user is not None and connection is not None
    if MFA not in tx.amr and two_step_required(
        sign_in.tenant, sign_in.organization, sign_in.client, tx.params.get("acr_values")
    ):
        return require(sign_in, LoginDecision.require(MFA))
    decision = check_rules(
        LoginContext(
            user=user,
            tenant=sign_in.tenant,
            organization=sign_in.organization,
            connection=connection,
            client=sign_in.client,
            ip=request.remote_addr,
            amr=list(tx.amr),
            steps=tuple(tx.steps),
        )
    )
    if decision is None:
        return finish(sign_in)
    return require(sign_in, decision)


def require(sign_in: SignIn, decision: LoginDecision) -> Response | tuple[str, int]:
    """Deny, or send the sign-in to the step ``decision`` requires (a step cannot be asked
    twice: a denial). Two-step verification asks for the code, or takes a user without an
    authenticator through setting one up."""
    tx, user = sign_in.transaction, sign_in.user
    assert tx is not None and user is not None
    step = decision.step
    if step is None or step in tx.steps:
        return deny(sign_in, decision)
    if step == MFA:
        if MFA in tx.amr:
            return deny(sign_in, decision)
        if mfa.has_totp(user):
            return wait_for(sign_in, MFA, url_for("login.mfa_challenge", tx=tx.id))
        if tx.from_session:  # setting up a second factor takes a fresh first one (S-08)
            return authenticate_again(sign_in)
        return wait_for(sign_in, MFA, url_for("login.mfa_enroll", tx=tx.id))
    if not decision.page:
        return deny(sign_in, decision)
    return wait_for(sign_in, step, step_url(decision.page, tx.id))


def authenticate_again(sign_in: SignIn) -> Response:
    """Turn a sign-in the SSO session answered into a fresh one: back to the first page."""
    tx = sign_in.transaction
    assert tx is not None
    tx.from_session = False
    tx.force_login = True
    tx.user_id = None
    tx.amr, tx.steps, tx.pending_step = [], [], None
    flow.save(tx)
    return redirect(url_for("login.identifier", tx=tx.id), code=303)


def step_url(page: str, tx_id: str) -> str:
    """A plugin step's page (an endpoint, or a path of this site) with the sign-in's id."""
    if page.startswith("/") and not page.startswith("//"):
        separator = "&" if "?" in page else "?"
        return f"{request.script_root}{page}{separator}tx={tx_id}"
    return url_for(page, tx=tx_id)


def deny(sign_in: SignIn, decision: LoginDecision) -> Response:
    """Refuse the sign-in with the rule's reason; nothing is started."""
    tx, user = sign_in.transaction, sign_in.user
    assert tx is not None and user is not None
    record_event(
        "login_denied",
        tenant=sign_in.tenant,
        organization=sign_in.organization,
        user_id=user.id,
        client_id=sign_in.client.client_id if sign_in.client else None,
        connection_id=tx.connection_id,
        data={"code": decision.code, "hrd": tx.hrd},
    )
    # nothing is started; the sign-in stays open for another account (or to go back)
    tx.user_id, tx.amr, tx.steps, tx.pending_step = None, [], [], None
    tx.from_session = False
    flow.save(tx)
    actions = [
        ErrorAction(
            "sign-in-again",
            _("Sign in with another account"),
            url_for("login.identifier", tx=tx.id),
        ),
    ]
    if tx.client_id:
        actions.append(
            ErrorAction(
                "back-to-application",
                _("Back to the application"),
                url_for("consent.cancel", tx=tx.id, refused=decision.code),
            )
        )
    return error_page(
        "access_denied", detail=decision.reason or None, actions=actions, rule=decision.code
    )


def finish(sign_in: SignIn) -> Response:
    """Every step passed: the SSO session, the event, then the code (or the signed-in page)."""
    tx, user = sign_in.transaction, sign_in.user
    assert tx is not None and user is not None
    organization = sign_in.organization
    if tx.from_session:
        sso = current_sso()
        if sso is not None and list(sso.amr or []) != tx.amr:  # a rule asked for more
            sso.amr = list(tx.amr)
    else:
        user.last_login_at = utcnow()
        start_sso_session(user, tx.amr, organization, commit=False)
    tx.completed = True
    if not tx.client_id:
        flow.discard(tx, commit=False)
        response = redirect(url_for("login.signed_in"), code=303)
    else:
        response = flow.resume(tx)  # the code, in this request: no hop through the browser
    # one commit for the step: the session, the finished transaction, the code and the event
    if tx.from_session:
        session.commit()
    else:
        commit_with_event(
            "login_succeeded",
            tenant=sign_in.tenant,
            organization=organization,
            user_id=user.id,
            client_id=sign_in.client.client_id if sign_in.client else None,
            connection_id=tx.connection_id,
            data={"hrd": tx.hrd, "amr": tx.amr},
        )
    if organization is not None:  # offered first by the organization picker next time
        last_organization.remember(response, organization)
    return response


# --- A sign-in the SSO session answers ----------------------------------------------------


def session_rules(
    tenant: Tenant,
    client: Client,
    sso: SsoSession,
    organization_id: str | None,
    acr_values: str | None,
) -> LoginDecision | None:
    """Two-step verification where it is required and the session had none, then the rules
    step, for the session's user signing in to ``organization_id`` (None to allow). The
    organization and connection come from the worker's row cache."""
    user = sso.user
    organization = row_cache().row(Organization, organization_id) if organization_id else None
    if MFA not in (sso.amr or []) and two_step_required(tenant, organization, client, acr_values):
        return LoginDecision.require(MFA)
    connection = row_cache().row(Connection, user.connection_id)
    assert connection is not None
    return check_rules(
        LoginContext(
            user=user,
            tenant=tenant,
            organization=organization,
            connection=connection,
            client=client,
            ip=request.remote_addr,
            amr=list(sso.amr or []),
        )
    )


def continue_session_sign_in(
    tenant: Tenant,
    client: Client,
    sso: SsoSession,
    organization_id: str | None,
    params: t.Mapping[str, str],
    realm: Resolution,
    decision: LoginDecision,
) -> Response | tuple[str, int]:
    """A rule did not let the session's answer through: deny, or open a sign-in that the
    session authenticated and take it through the step the rule requires."""
    tx = flow.begin(tenant, flow.kept_params(params), client)
    flow.record_decisions(tx, realm.decisions)
    tx.organization_id = tx.fixed_organization_id = organization_id
    tx.organization_from_request = organization_id is not None
    tx.connection_id = sso.user.connection_id
    tx.user_id = sso.user_id
    tx.amr = list(sso.amr or [])
    tx.steps = [AUTHENTICATE]
    tx.from_session = True
    return require(open_sign_in(tenant, tx, client), decision)
