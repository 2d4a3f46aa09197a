"""The login transaction: one sign-in in progress, kept on the server.

Its row (:mod:`app.sessions.transactions`) is bound to the browser that uses it; the
cookie holds only that browser's key, so it stays small whatever a request carries.

``/authorize`` validates the request, then opens a transaction
(:func:`app.login.discovery.begin_login`) and redirects to the hosted pages. The pages fill
it (organization, connection, identifier); once the user is authenticated, its steps
(:mod:`app.login.steps`) run, start the SSO session and hand the transaction to the
OpenID provider (:func:`resume`), which answers the same request: the browser goes (303)
straight to the application with its code. A sign-in started on ``/login`` directly (no
application) ends on the signed-in page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import typing as t

from flask import current_app

from app.sessions import transactions
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from app.clients.models import Client
    from app.hrd.chain import Step
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

KEPT_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "ui_locales",
    "acr_values",
    "organization",
    "connection",
)
"""Authorization parameters kept in the login transaction and replayed after the login
(their sizes are capped by the authorization endpoint)."""


@dataclasses.dataclass
class LoginTransaction:
    """State of one sign-in. Only ids and strings: it is stored as JSON."""

    id: str
    tenant_id: str
    created_at: float
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    """The validated authorization request parameters (empty without an application)."""
    client_id: str | None = None
    force_login: bool = False
    """``prompt=login`` or ``max_age`` exceeded: an existing SSO session may not be reused."""
    organization_id: str | None = None
    connection_id: str | None = None
    fixed_organization_id: str | None = None
    """Chosen before any identifier (application, host, path, or the user on the picker):
    what the identifier may not change. Discovery starts from it at each identifier."""
    fixed_connection_id: str | None = None
    """Chosen by the application (``connection=``): the identifier may not change it."""
    organization_from_request: bool = False
    """The application, host or path chose the organization: the picker may not change it."""
    identifier: str | None = None
    hrd: list[dict[str, str]] = dataclasses.field(default_factory=list)
    """Why the sign-in was routed where it went: [{method, detail, organization, connection}]."""
    user_id: str | None = None
    """The authenticated user, once the strategy's step passed."""
    amr: list[str] = dataclasses.field(default_factory=list)
    steps: list[str] = dataclasses.field(default_factory=list)
    """The steps passed so far (:mod:`app.login.steps`)."""
    pending_step: str | None = None
    """The step the sign-in waits on (``mfa``, a plugin's step), if any."""
    upstream: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """A round trip to an upstream IdP in progress (:mod:`app.login.federated`): the
    connection, the ``state`` sent, what the strategy saved (nonce, PKCE verifier), or an
    account link waiting for proof. Single use: emptied when the answer comes back."""
    password_change: bool = False
    """The password typed is one the policy now refuses: the user changes it before the
    sign-in goes on (:mod:`app.login.breached_password`)."""
    from_session: bool = False
    """The SSO session authenticated the user: the sign-in ends without a new session."""
    completed: bool = False

    @property
    def locale_hint(self) -> str | None:
        return self.params.get("ui_locales")

    @property
    def login_hint(self) -> str | None:
        return self.params.get("login_hint")


def kept_params(params: t.Mapping[str, str]) -> dict[str, str]:
    """The authorization request's parameters a transaction keeps (those given)."""
    return {key: params[key] for key in KEPT_PARAMS if params.get(key)}


def begin(
    tenant: Tenant,
    params: t.Mapping[str, str] | None = None,
    client: Client | None = None,
    organization: Organization | None = None,
    force_login: bool = False,
    *,
    stored: bool = True,
) -> LoginTransaction:
    """Start a transaction and store it (unless ``stored`` is false: the caller fills it in,
    then saves it with ``new=True``); returns it (its ``id`` goes in the page URLs)."""
    transactions.prune()
    tx = LoginTransaction(
        id=transactions.new_transaction_id(),
        tenant_id=tenant.id,
        created_at=time.time(),
        params=dict(params or {}),
        client_id=client.client_id if client else None,
        force_login=force_login,
        organization_id=organization.id if organization else None,
        fixed_organization_id=organization.id if organization else None,
    )
    if stored:
        save(tx, new=True)
    return tx


def load(tx_id: str | None) -> LoginTransaction | None:
    """The transaction with this id, or None when unknown, expired, of another tenant or
    of another browser."""
    if not tx_id:
        return None
    raw = transactions.fetch(tx_id)
    if raw is None:
        return None
    try:
        tx = LoginTransaction(**raw)
    except TypeError:
        return None
    if time.time() - tx.created_at > _lifetime() or tx.tenant_id != current_tenant().id:
        discard(tx)
        return None
    return tx


def save(tx: LoginTransaction, *, new: bool = False, commit: bool = True) -> None:
    """Store the transaction's state, committed at once like a cookie on the way out, or
    with the caller's own work when it commits (``commit=False``).

    Its fields are handed over as they are (no deep copy, as ``dataclasses.asdict`` makes):
    the statement turns them into JSON at once."""
    expires_at = dt.datetime.fromtimestamp(tx.created_at + _lifetime(), dt.UTC)
    transactions.store(tx.id, tx.tenant_id, dict(vars(tx)), expires_at, new=new, commit=commit)


def discard(tx: LoginTransaction, *, commit: bool = True) -> None:
    transactions.remove(tx.id, commit=commit)


ANSWER = "foyer.login.answer"
"""``app.extensions`` key of the OpenID provider's answer to a finished sign-in
(:mod:`app.oidc.views` registers it): the login pages sit below the provider and do not
import it."""


def resume(tx: LoginTransaction) -> Response:
    """The application's answer to the finished sign-in ``tx``, in the request that finished
    it: a redirect to the application with its code, the consent page, or why not. The
    transaction ends (a consent page keeps it again); nothing is committed."""
    discard(tx, commit=False)
    answer = t.cast("Response", current_app.extensions[ANSWER](tx))
    if answer.status_code == 302:
        answer.status_code = 303  # as every step's answer: a form is never posted again (RFC 9700)
    return answer


def _lifetime() -> int:
    return int(current_app.extensions["foyer.settings"].login_transaction_lifetime)


TRACE_ENTRIES = 16
"""Entries of the trace a transaction keeps: older ones give way (the log keeps them)."""


def record_decisions(tx: LoginTransaction, steps: t.Iterable[Step]) -> None:
    """Take each discovery decision into the sign-in and its trace (``tx.hrd``, carried by
    the login events, so support can answer "why did I land here?" from the log): the
    method, its rule (detail), and the organization and connection it left (ids)."""
    for step in steps:
        tx.organization_id = step.organization.id if step.organization else None
        tx.connection_id = step.connection.id if step.connection else None
        tx.hrd.append(
            {
                "method": step.method,
                "detail": step.detail,
                "organization": tx.organization_id or "",
                "connection": tx.connection_id or "",
            }
        )
    del tx.hrd[:-TRACE_ENTRIES]
