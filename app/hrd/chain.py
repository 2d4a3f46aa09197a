"""The discovery chain: the tenant's methods, tried in its configured order, one stage at a time.

Rules the chain enforces whatever a method answers, so no method (nor plugin) can route a
user outside the realm the request allows:

- an answer must stay within the tenant, and name no switched-off connection (refused in
  the ``request`` stage as an unknown one, ignored in the ``identifier`` stage);
- in the ``request`` stage every method that answers must agree: an organization or a
  connection contradicting an earlier answer, or a connection not enabled for the
  organization, refuses the request (:class:`~app.hrd.method.HrdRefused`);
- in the ``identifier`` stage the first answer naming a connection wins; an answer that
  names another organization than the one already chosen, or a connection that organization
  does not enable, is ignored (and traced), so the application, host, path or the user's
  choice always bounds what an identifier can select;
- an application with ``organization_usage: deny`` never gets an organization;
- a connection chosen without an organization brings the organization it is dedicated to
  (enabled for it alone), so isolated users always sign in to their organization.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from flask import current_app

from app.connections.services import dedicated_organization
from app.connections.services import enables
from app.hrd.method import IDENTIFIER
from app.hrd.method import REQUEST
from app.hrd.method import HomeRealmMethod
from app.hrd.method import HrdContext
from app.hrd.method import HrdRefused
from app.orgs.models import Organization

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.hrd.realm import HomeRealm
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

DEFAULT_ORDER: tuple[str, ...] = (
    "organization_parameter",
    "connection_parameter",
    "vanity_host",
    "vanity_path",
    "plugin",
    "identifier_map",
    "email_domain",
    "user_lookup",
)
"""The builtin methods, in the order a tenant without ``hrd.order`` tries them."""

DEDICATED = "dedicated_connection"
"""Trace name of the chain's own rule: a connection brings the organization it serves alone."""

CHOSE, PASSED, IGNORED, SKIPPED, REFUSED = "chose", "passed", "ignored", "skipped", "refused"


@dataclasses.dataclass
class Step:
    """What one method did: ``chose`` (its answer was taken), ``passed`` (no answer),
    ``ignored`` (an answer the rules set aside), ``skipped`` (not asked) or ``refused``."""

    method: str
    outcome: str
    detail: str = ""
    organization: Organization | None = None
    connection: Connection | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            "method": self.method,
            "outcome": self.outcome,
            "detail": self.detail,
            "organization": self.organization.name if self.organization else "",
            "connection": self.connection.name if self.connection else "",
        }


@dataclasses.dataclass
class Resolution:
    """Where a stage left the sign-in, and every step that led there."""

    organization: Organization | None
    connection: Connection | None
    steps: list[Step]

    @property
    def decisions(self) -> list[Step]:
        """The steps whose answer was taken: what the sign-in's trace records."""
        return [step for step in self.steps if step.outcome == CHOSE]


def registered_methods() -> dict[str, HomeRealmMethod]:
    """Every method plugins register, by name (rebuilt only when the plugin set changes)."""
    pm = current_app.extensions["foyer.pm"]
    key = frozenset(id(plugin) for plugin in pm.get_plugins())
    cached = current_app.extensions.get("foyer.hrd.methods")
    if cached is not None and cached[0] == key:
        return t.cast(dict[str, HomeRealmMethod], cached[1])
    methods: dict[str, HomeRealmMethod] = {}
    for batch in pm.hook.register_home_realm_methods():
        for method in batch:
            if not isinstance(method, HomeRealmMethod):
                raise RuntimeError(f"{method!r} is not a home realm discovery method")
            if method.name in methods and methods[method.name] is not method:
                raise RuntimeError(f"two plugins register the HRD method {method.name!r}")
            methods[method.name] = method
    current_app.extensions["foyer.hrd.methods"] = (key, methods)
    return methods


def method_order(tenant: Tenant) -> list[str]:
    """The tenant's ``hrd.order``, or :data:`DEFAULT_ORDER`."""
    configured = ((tenant.settings or {}).get("hrd") or {}).get("order")
    return list(configured) if configured else list(DEFAULT_ORDER)


def run(stage: str, context: HrdContext) -> Resolution:
    """Try the tenant's methods of ``stage`` in order, updating ``context`` as they answer.

    :raises HrdRefused: in the request stage, when the request names a realm that cannot
        serve it; ``.steps`` holds the steps up to the refusal.
    """
    methods = registered_methods()
    steps: list[Step] = []
    for name in method_order(context.tenant):
        method = methods.get(name)
        if method is None:
            steps.append(Step(name, SKIPPED, "no method of this name is installed"))
            continue
        if stage not in method.stages:
            continue
        if context.public and not method.public:
            steps.append(Step(name, SKIPPED, "not asked by the public lookup"))
            continue
        if stage == IDENTIFIER and context.connection is not None:
            steps.append(Step(name, SKIPPED, "the connection is already chosen"))
            continue
        try:
            answer = method.resolve(context)
            if answer is None:
                steps.append(Step(name, PASSED))
                continue
            steps.append(_merge(stage, name, context, answer))
        except HrdRefused as refused:
            refused.method = refused.method or name
            steps.append(Step(name, REFUSED, refused.description))
            refused.steps = steps
            raise
    _dedicated_organization(stage, context, steps)
    return Resolution(context.organization, context.connection, steps)


def _merge(stage: str, name: str, context: HrdContext, answer: HomeRealm) -> Step:
    """Take ``answer`` into ``context`` if the rules allow it; the step says what happened."""
    organization, connection = answer.organization, answer.connection
    detail = answer.detail
    if connection is not None and connection.tenant_id != context.tenant.id:
        return Step(name, IGNORED, "names a connection of another tenant")
    if connection is not None and not connection.enabled:
        if stage == REQUEST:  # as an unknown name: a switched-off connection says nothing
            raise HrdRefused("unknown_connection", "Unknown connection.")
        return Step(name, IGNORED, f"connection {connection.name} is switched off")
    if organization is not None and organization.tenant_id != context.tenant.id:
        return Step(name, IGNORED, "names an organization of another tenant")
    if organization is not None and not context.organizations_allowed:
        if stage == REQUEST:
            raise HrdRefused(
                "organization_not_allowed", "This application does not sign in to organizations."
            )
        detail = _join(
            detail,
            f"organization {organization.name} left out: the application "
            "does not use organizations",
        )
        organization = None
        if connection is None:
            return Step(name, IGNORED, detail)
    chosen = context.organization
    if organization is not None and chosen is not None and organization.id != chosen.id:
        if stage == REQUEST:
            raise HrdRefused(
                "organization_conflict",
                f"The request names two organizations: '{chosen.name}' and '{organization.name}'.",
            )
        return Step(
            name,
            IGNORED,
            _join(detail, f"names organization {organization.name}, but {chosen.name} is chosen"),
            organization,
        )
    if connection is not None and context.connection is not None:
        if connection.id != context.connection.id:
            raise HrdRefused(
                "connection_conflict",
                f"The request names two connections: '{context.connection.name}' and "
                f"'{connection.name}'.",
            )
    organization = organization or chosen
    connection = connection or context.connection
    if connection and organization and not enables(organization, connection):
        if stage == REQUEST:
            raise HrdRefused(
                "connection_not_enabled",
                f"Connection '{connection.name}' is not enabled for organization "
                f"'{organization.name}'.",
            )
        return Step(
            name,
            IGNORED,
            _join(detail, f"connection {connection.name} is not enabled for {organization.name}"),
            organization,
            connection,
        )
    context.organization, context.connection = organization, connection
    return Step(name, CHOSE, detail, organization, connection)


def _dedicated_organization(stage: str, context: HrdContext, steps: list[Step]) -> None:
    """A connection chosen without an organization brings the one it is dedicated to."""
    connection = context.connection
    if connection is None or context.organization is not None:
        return
    if not context.organizations_allowed:
        return
    organization = dedicated_organization(connection)
    if organization is not None:
        context.organization = organization
        steps.append(
            Step(
                DEDICATED,
                CHOSE,
                f"connection {connection.name} serves {organization.name} alone",
                organization,
                connection,
            )
        )


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
