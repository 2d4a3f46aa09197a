"""The request stage: what the application, host and path say when a sign-in starts.

``/authorize`` calls :func:`resolve_request` once the client and redirect_uri are known
good; a visit to ``/login`` without an application does the same with no parameters (host
and path still preselect the organization). The answer is a decision and its trace; the
login transaction that follows it is :mod:`app.login`'s to open.
"""

from __future__ import annotations

import typing as t

from app.hrd import chain
from app.hrd.method import REQUEST
from app.hrd.method import HrdContext
from app.tenancy.paths import path_organization
from app.tenancy.resolve import current_domain

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.hrd.chain import Resolution
    from app.tenancy.models import Tenant


def organizations_allowed(client: Client | None) -> bool:
    """False for an application with ``organization_usage: deny``."""
    return client is None or client.organization_usage != "deny"


def request_context(
    tenant: Tenant, client: Client | None, params: t.Mapping[str, str]
) -> HrdContext:
    domain = current_domain()
    return HrdContext(
        tenant=tenant,
        client=client,
        params=params,
        host=domain.hostname,
        host_organization=domain.organization,
        path_organization=path_organization(),
        organizations_allowed=organizations_allowed(client),
    )


def resolve_request(
    tenant: Tenant, client: Client | None, params: t.Mapping[str, str]
) -> Resolution:
    """Run the request stage for this request.

    :raises app.hrd.method.HrdRefused: unknown organization or connection, a connection
        the organization does not enable, contradicting answers, or an organization for an
        application that does not use them.
    """
    return chain.run(REQUEST, request_context(tenant, client, params))
