"""The request stage: what the application, host and path say when a sign-in starts.

``/authorize`` calls :func:`resolve_request` once the client and redirect_uri are known
good, then :func:`begin_login`; a visit to ``/login`` without an application does the same
with no parameters (host and path still preselect the organization).
"""

from __future__ import annotations

import typing as t

from app.hrd import chain
from app.hrd import trace
from app.hrd.method import REQUEST
from app.hrd.method import HrdContext
from app.login import flow
from app.tenancy.paths import path_organization
from app.tenancy.resolve import current_domain

if t.TYPE_CHECKING:
    from app.hrd.chain import Resolution
    from app.login.flow import LoginTransaction
    from app.oidc.models import Client
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


def begin_login(
    tenant: Tenant,
    resolution: Resolution,
    params: t.Mapping[str, str] | None = None,
    client: Client | None = None,
    force_login: bool = False,
) -> LoginTransaction:
    """Start the login transaction from the request stage's decisions (and trace them)."""
    tx = flow.begin(
        tenant, params, client, organization=resolution.organization, force_login=force_login
    )
    trace.record(tx, resolution.decisions)
    tx.fixed_organization_id = tx.organization_id
    tx.fixed_connection_id = tx.connection_id
    tx.organization_from_request = tx.organization_id is not None
    flow.save(tx)
    return tx
