"""What serves a connection: the strategy interface, the registry of strategies (built once
from ``register_connection_strategies``) and the kind of a connection.

The builtin strategies live in :mod:`app.strategies`; plugins register theirs the same way.
"""

from __future__ import annotations

import dataclasses
import secrets
import typing as t

from flask import Flask
from flask import current_app

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.orgs.models import Organization


class StrategyUnavailable(Exception):
    """The identity store behind a connection cannot be reached; the user should retry."""


@dataclasses.dataclass
class AuthResult:
    """Outcome of a credential check. ``user`` is None when the credentials are wrong."""

    user: User | None
    amr: list[str] = dataclasses.field(default_factory=lambda: ["pwd"])


@t.runtime_checkable
class ConnectionStrategy(t.Protocol):
    """What a connection strategy provides. ``name`` is the ``strategy`` of a connection.

    ``kind`` is ``"password"`` for strategies that take an identifier and a password on
    Foyer's page, or ``"redirect"`` for those that send the browser to an upstream IdP.
    """

    name: t.ClassVar[str]
    kind: t.ClassVar[str]

    def __init__(self, connection: Connection) -> None: ...

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        """Check credentials; return AuthResult(None) when they are wrong (never raise)."""
        ...

    def find_user(self, identifier: str) -> User | None:
        """Find a user of this connection by email or username."""
        ...

    def set_password(self, user: User, password: str) -> None:
        """Store a new password for the user."""
        ...


class UpstreamError(Exception):
    """An upstream sign-in could not be finished. ``code`` is stable and shown to no one
    verbatim: ``access_denied`` (the user or the IdP refused), ``upstream_unavailable``
    (down, slow, unreachable), ``upstream_misconfigured`` (discovery, keys or metadata do
    not fit the connection's options) or ``invalid_response`` (an answer that fails a check:
    signature, issuer, audience, nonce, replay...). ``detail`` is for the log and event,
    never for the page."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class UpstreamLogin:
    """What a redirecting strategy is told when home realm discovery sends a sign-in to it."""

    transaction_id: str
    """The login transaction; bind the upstream answer (``state``) to it."""
    login_hint: str | None
    """The identifier the user typed (or the application's ``login_hint``), if any."""
    organization: Organization | None
    """The organization signing in, if any."""
    locale: str | None
    """The language of the page the user came from."""
    callback_url: str = ""
    """Where the upstream answer must come back (the tenant's, or the vanity issuer's,
    callback URL for this strategy)."""
    force_login: bool = False
    """The application asked for ``prompt=login``: ask the upstream to authenticate again."""
    max_age: int | None = None
    """The application's ``max_age``, passed upstream where the protocol can."""
    saved: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """Filled by :meth:`RedirectStrategy.start_login` with what it must find again at the
    callback (nonce, PKCE verifier, request id); kept server-side in the transaction."""


@dataclasses.dataclass(frozen=True)
class UpstreamAnswer:
    """What came back to the callback URL, handed to :meth:`RedirectStrategy.finish_login`."""

    transaction_id: str
    params: t.Mapping[str, str]
    """The query (GET) or form (POST) parameters of the callback request."""
    saved: t.Mapping[str, t.Any]
    """What :meth:`RedirectStrategy.start_login` put in :attr:`UpstreamLogin.saved`."""
    callback_url: str


@dataclasses.dataclass
class UpstreamProfile:
    """The person an upstream IdP signed in, mapped to Foyer's fields by the connection's
    mapping. ``subject`` is the stable key (upstream ``sub`` or SAML NameID): a user is
    found again by it, never by email."""

    subject: str
    email: str | None = None
    email_verified: bool = False
    """True only when the upstream says so (``email_verified``, a verified-email API, or the
    connection's option that its IdP only asserts verified addresses)."""
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    locale: str | None = None
    groups: list[str] = dataclasses.field(default_factory=list)
    app_metadata: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """Fields the mapping sends into the user's ``app_metadata``."""
    amr: list[str] = dataclasses.field(default_factory=lambda: ["fed"])
    claims: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """Every claim or attribute received, as received (kept on the Identity row)."""
    logout: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """What upstream logout will need later (ID token hint, SAML NameID and SessionIndex)."""


@t.runtime_checkable
class RedirectStrategy(t.Protocol):
    """What a strategy of ``kind = "redirect"`` adds: where to send the browser.

    Home realm discovery calls :meth:`start_login` when an identifier, the application's
    ``connection`` parameter or a button on the organization's login page chooses the
    connection; the browser is then redirected (303) to the URL returned. The strategy's
    callback (a route of its plugin) returns
    :func:`app.login.steps.upstream_authenticated` with the user the IdP signed in, and the
    sign-in's next steps follow.
    """

    def start_login(self, login: UpstreamLogin) -> str:
        """The upstream IdP's URL for this sign-in (an absolute ``https://`` URL).

        :raises StrategyUnavailable: when the upstream's discovery or metadata cannot be had.
        """
        ...


@t.runtime_checkable
class CallbackStrategy(RedirectStrategy, t.Protocol):
    """A redirecting strategy whose upstream answers at Foyer's own callback URL (the
    builtin ``oidc`` and ``saml``): Foyer's login room receives the answer, asks the strategy
    to check it, then finds or creates the user and links the identity.
    A plugin's strategy may instead finish in its own route with
    :func:`app.login.steps.upstream_authenticated`.
    """

    def finish_login(self, answer: UpstreamAnswer) -> UpstreamProfile:
        """Check the upstream's answer (every check the protocol asks for) and return whom
        it signed in.

        :raises UpstreamError: for any answer that cannot be accepted.
        """
        ...


def new_state(transaction_id: str) -> str:
    """A ``state`` (OIDC) or ``RelayState`` (SAML) for a sign-in sent upstream:
    ``<transaction id>.<random>``. The login room finds the sign-in by the first part and
    accepts the answer only in the browser the sign-in belongs to, and only if the whole
    value is the one the strategy saved in ``saved["state"]``."""
    return f"{transaction_id}.{secrets.token_urlsafe(24)}"


def state_transaction(state: str) -> str:
    """The transaction id a :func:`new_state` value names ("" when it names none)."""
    tx_id, dot, _rest = state.partition(".")
    return tx_id if dot else ""


def build_registry(app: Flask) -> dict[str, type[ConnectionStrategy]]:
    registry: dict[str, type[ConnectionStrategy]] = {}
    pm = app.extensions["foyer.pm"]
    for batch in pm.hook.register_connection_strategies():
        for cls in batch:
            if cls.name in registry and registry[cls.name] is not cls:
                raise RuntimeError(f"two plugins register connection strategy {cls.name!r}")
            registry[cls.name] = cls
    return registry


def strategy_for(connection: Connection) -> ConnectionStrategy:
    """Instantiate the strategy serving a connection; LookupError when none is registered."""
    registry = current_app.extensions["foyer.strategies"]
    try:
        cls = registry[connection.strategy]
    except KeyError:
        raise LookupError(f"no connection strategy named {connection.strategy!r}") from None
    return t.cast(ConnectionStrategy, cls(connection))


def kind_of(connection: Connection) -> str | None:
    """``password`` or ``redirect``; None when the connection's strategy is not installed."""
    try:
        return strategy_for(connection).kind
    except LookupError:
        return None


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """One line of ``foyer connections test``: something to give the customer's IdP
    (``info``), or a check of the upstream and its result (``ok``, ``warning``, ``error``)."""

    label: str
    value: str
    status: str = "info"


@t.runtime_checkable
class DiagnosableStrategy(t.Protocol):
    """A strategy that can say what to give its upstream and check it
    (``foyer connections test``); each strategy contributes its own checks."""

    def diagnose(self) -> list[Diagnosis]:
        """The URLs and values to give the upstream, then each check of its metadata or
        discovery, keys and clock; never raises for an upstream's fault (an ``error`` line)."""
        ...
