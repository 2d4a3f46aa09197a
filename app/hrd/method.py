"""What a home realm discovery method is, what it sees, and how it refuses a request.

A method is any object with a ``name``, the ``stages`` it runs in, whether it is ``public``
and a ``resolve(context)`` that returns a :class:`~app.hrd.realm.HomeRealm` or None.
Plugins register methods with the ``register_home_realm_methods`` hook; a tenant names the
ones it uses, in order, in ``settings["hrd"]["order"]`` (:mod:`app.hrd.chain`).
"""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.hrd.realm import HomeRealm
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

REQUEST = "request"
"""Stage run when a sign-in starts: what the application, host or path already say."""
IDENTIFIER = "identifier"
"""Stage run when the user has typed an identifier (an email address or a username)."""


@dataclasses.dataclass
class HrdContext:
    """Everything a method may look at. The chain fills ``organization`` and ``connection``
    as methods answer, so a later method sees what earlier ones decided."""

    tenant: Tenant
    client: Client | None = None
    """The application that started the sign-in, or None (a visit to ``/login``)."""
    params: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The authorization request's parameters (``organization``, ``connection``...)."""
    host: str = ""
    """The host name the request came to (lower case, without port)."""
    host_organization: Organization | None = None
    """The organization of the vanity host the request came to, if any."""
    path_organization: Organization | None = None
    """The organization of the ``/o/<name>/`` path the request came to, if any."""
    identifier: str | None = None
    """What the user typed (identifier stage only), trimmed."""
    organization: Organization | None = None
    """The organization decided so far."""
    connection: Connection | None = None
    """The connection decided so far."""
    organizations_allowed: bool = True
    """False for applications with ``organization_usage: deny``: no method may choose one."""
    public: bool = False
    """The public lookup endpoint asks: only methods whose answer never depends on
    whether an account exists may run."""


class HrdRefused(Exception):
    """The request names a realm that cannot serve it (unknown organization, a connection
    not enabled for it...). ``description`` is for the application (OAuth
    ``error_description``), in English; ``code`` is stable."""

    def __init__(self, code: str, description: str, method: str = "") -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.method = method
        self.steps: list[t.Any] = []
        """The chain's steps up to the refusal (:class:`app.hrd.chain.Step`)."""


@t.runtime_checkable
class HomeRealmMethod(t.Protocol):
    """A way of discovering the home realm, tried in the tenant's configured order."""

    @property
    def name(self) -> str:
        """Stable name: tenants list it in ``hrd.order``, traces and events record it."""
        ...

    @property
    def stages(self) -> tuple[str, ...]:
        """``request`` and/or ``identifier``: when the method runs."""
        ...

    @property
    def public(self) -> bool:
        """True when the answer never depends on whether an account exists, so the public
        lookup endpoint may ask it."""
        ...

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        """Answer with a realm (organization, connection or both), or None to pass.

        :raises HrdRefused: when what the request names cannot serve it.
        """
        ...
