"""Why would a sign-in go where it goes? The discovery chain replayed for support staff.

:func:`explain` runs the tenant's real methods, in its order, on what a sign-in would
bring (host, ``/o/<name>/`` path, authorization parameters, application, identifier) and
keeps every step, including the methods that passed or were skipped, and what the user
would see next. ``foyer hrd explain`` prints it; the debug page (``/hrd/explain``, off
unless ``FOYER_HRD_DEBUG_TOKEN`` is set) shows it. Both may look at accounts (the
``user_lookup`` method): they are for staff, never public.
"""

from __future__ import annotations

import dataclasses
import typing as t

import sqlalchemy as sa

from app.clients.models import Client
from app.connections.strategies import kind_of
from app.db import session
from app.hrd import chain
from app.hrd.method import IDENTIFIER
from app.hrd.method import REQUEST
from app.hrd.method import HrdContext
from app.hrd.method import HrdRefused
from app.hrd.request_stage import organizations_allowed
from app.orgs.services import find_organization_by_name
from app.orgs.services import has_organizations
from app.tenancy.resolve import find_domain
from app.tenancy.resolve import hostname_of

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.hrd.chain import Step
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


class ExplainInvalid(ValueError):
    """The question itself is wrong (a host of another tenant, an unknown client...)."""


@dataclasses.dataclass
class Explanation:
    """Every step of both stages, where the sign-in ends up, and what the user sees next."""

    tenant: Tenant
    host: str
    request_steps: list[Step]
    identifier_steps: list[Step]
    organization: Organization | None
    connection: Connection | None
    outcome: str
    """One line: the page or redirect the user gets, or the refusal."""

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "tenant": self.tenant.name,
            "host": self.host,
            "request": [step.as_dict() for step in self.request_steps],
            "identifier": [step.as_dict() for step in self.identifier_steps],
            "organization": self.organization.name if self.organization else None,
            "connection": self.connection.name if self.connection else None,
            "outcome": self.outcome,
        }

    def render(self) -> str:
        """Plain text for the command line."""
        lines = [f"tenant {self.tenant.name}, host {self.host}"]
        for title, steps in (
            ("request stage", self.request_steps),
            ("identifier stage", self.identifier_steps),
        ):
            if not steps:
                continue
            lines.append(f"{title}:")
            for step in steps:
                realm = ", ".join(
                    f"{kind} {name}"
                    for kind, name in (
                        ("organization", step.organization.name if step.organization else ""),
                        ("connection", step.connection.name if step.connection else ""),
                    )
                    if name
                )
                line = f"  {step.method:<24} {step.outcome:<8}"
                lines.append(
                    " ".join(
                        p for p in (line, realm, f"({step.detail})" if step.detail else "") if p
                    ).rstrip()
                )
        lines.append(f"organization: {self.organization.name if self.organization else '-'}")
        lines.append(f"connection:   {self.connection.name if self.connection else '-'}")
        lines.append(f"outcome:      {self.outcome}")
        return "\n".join(lines)


def explain(
    tenant: Tenant,
    *,
    host: str | None = None,
    path_organization: str | None = None,
    params: t.Mapping[str, str] | None = None,
    client_id: str | None = None,
    identifier: str | None = None,
) -> Explanation:
    """Replay discovery for these inputs (nothing is stored, nothing is sent).

    :raises ExplainInvalid: for a host not of the tenant, an unknown path organization or
        an unknown client.
    """
    params = dict(params or {})
    host_name = (
        hostname_of(host)
        if host
        else (tenant.primary_domain.hostname if tenant.primary_domain else "")
    )
    domain = find_domain(host_name) if host_name else None
    if host and (domain is None or domain.tenant_id != tenant.id):
        raise ExplainInvalid(f"{host_name} is not a host of tenant {tenant.name}")
    path_org = None
    if path_organization:
        path_org = find_organization_by_name(tenant, path_organization)
        if path_org is None:
            raise ExplainInvalid(f"/o/{path_organization}/ names no organization: a 404 page")
    client_id = client_id or params.get("client_id")
    client = None
    if client_id:
        client = session.scalar(
            sa.select(Client).where(Client.tenant_id == tenant.id, Client.client_id == client_id)
        )
        if client is None:
            raise ExplainInvalid(f"tenant {tenant.name} has no client {client_id!r}")
    host_org = domain.organization if domain is not None else None
    if path_org is not None and host_org is not None and path_org.id != host_org.id:
        raise ExplainInvalid("the path's organization contradicts the host's: a 404 page")
    context = HrdContext(
        tenant=tenant,
        client=client,
        params=params,
        host=host_name,
        host_organization=host_org,
        path_organization=path_org,
        organizations_allowed=organizations_allowed(client),
    )
    explanation = Explanation(tenant, host_name, [], [], None, None, "")
    try:
        explanation.request_steps = chain.run(REQUEST, context).steps
    except HrdRefused as refused:
        explanation.request_steps = refused.steps
        where = "the application gets error=invalid_request" if client else "an error page"
        explanation.outcome = f"refused: {refused.description} ({where})"
        return explanation
    if identifier:
        context.identifier = identifier.strip()
        explanation.identifier_steps = chain.run(IDENTIFIER, context).steps
    explanation.organization, explanation.connection = context.organization, context.connection
    explanation.outcome = _outcome(tenant, client, context, bool(identifier))
    return explanation


def _outcome(tenant: Tenant, client: Client | None, context: HrdContext, typed: bool) -> str:
    """What the login pages do next, in their order of checks (app.login.views)."""
    prompt = (client.settings or {}).get("organization_prompt") if client is not None else None
    needs_organization = (
        client is not None
        and client.organization_usage == "require"
        and context.organization is None
    )
    connection = context.connection
    upstream = connection is not None and kind_of(connection) == "redirect"
    picker = "the organization picker"
    if not typed:
        if upstream and connection is not None:
            return f"redirect to the upstream identity provider of connection {connection.name}"
        if needs_organization and prompt != "identifier_first":
            return f"{picker} (the application requires an organization)"
        return "the identifier page"
    if needs_organization:
        return f"{picker} (the application requires an organization)"
    if connection is None:
        if (
            context.organization is None
            and context.organizations_allowed
            and has_organizations(tenant)
        ):
            return f"{picker} (nothing told the organization)"
        if context.organization is not None and any(
            kind_of(c) == "redirect" for c in context.organization.connections
        ):
            return "the identifier page again, asking to use an identity provider button"
        return "the 'sign-in is not set up here' error page"
    if upstream:
        return f"redirect to the upstream identity provider of connection {connection.name}"
    return f"the password page of connection {connection.name}"
