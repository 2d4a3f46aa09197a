"""Discovery's decisions, acted on: the login transaction they open and the connection
they choose.

:mod:`app.hrd` decides and traces; this module writes its decisions into the sign-in.
:func:`begin_login` opens the transaction from the request stage's decision. Each
identifier submitted starts again from what was fixed before it (the application, host,
path, or the user's choice on the picker: ``tx.fixed_*``); :func:`choose_connection`
records the identifier stage's decisions in the transaction (``tx.hrd``). Its answer is a
connection, which is a password page or a redirect to the upstream IdP; or
:class:`OrganizationNeeded` (the picker asks); or :class:`NoConnection`.
"""

from __future__ import annotations

import typing as t

from app.connections.models import Connection
from app.hrd.identifier_stage import resolve_identifier
from app.hrd.request_stage import organizations_allowed
from app.login import flow
from app.orgs.models import Organization
from app.orgs.services import has_organizations
from app.rowcache import row_cache

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.hrd.chain import Resolution
    from app.login.flow import LoginTransaction
    from app.tenancy.models import Tenant


class NoConnection(LookupError):
    """Nothing can sign this identifier in here: no connection serves it."""


class OrganizationNeeded(LookupError):
    """The identifier did not say which organization, and one is needed: the application
    requires one, or only organizations' own connections could serve it."""


def begin_login(
    tenant: Tenant,
    resolution: Resolution,
    params: t.Mapping[str, str] | None = None,
    client: Client | None = None,
    force_login: bool = False,
) -> LoginTransaction:
    """Open the login transaction from the request stage's decision (and trace it)."""
    tx = flow.begin(
        tenant,
        params,
        client,
        organization=resolution.organization,
        force_login=force_login,
        stored=False,
    )
    flow.record_decisions(tx, resolution.decisions)
    tx.fixed_organization_id = tx.organization_id
    tx.fixed_connection_id = tx.connection_id
    tx.organization_from_request = tx.organization_id is not None
    flow.save(tx, new=True)
    return tx


def organization_required(client: Client | None, tx: LoginTransaction) -> bool:
    """The application requires an organization and the sign-in has none yet."""
    return client is not None and client.organization_usage == "require" and not tx.organization_id


def organization_prompt(client: Client | None) -> str:
    """How to ask for a required organization: ``picker`` first, or ``identifier_first``
    (email domain and identifier map, the picker only when they do not tell)."""
    prompt = (client.settings or {}).get("organization_prompt") if client is not None else None
    return "identifier_first" if prompt == "identifier_first" else "picker"


def choose_connection(
    tenant: Tenant, client: Client | None, tx: LoginTransaction, identifier: str
) -> Connection:
    """Run the identifier stage for ``identifier`` and record why in ``tx`` (not saved).

    The transaction's fixed organization and connection bound the choice.

    :raises OrganizationNeeded: when the picker must ask which organization.
    :raises NoConnection: when no connection can serve the identifier.
    :raises app.connections.strategies.StrategyUnavailable: when a store cannot be reached.
    :raises app.hooks.PluginError: when a ``home_realm_for_identifier`` plugin raises.
    """
    fixed_org = organization_of(tenant, tx.fixed_organization_id)
    fixed_connection = connection_of(tenant, tx.fixed_connection_id)
    tx.organization_id = fixed_org.id if fixed_org is not None else None
    tx.connection_id = fixed_connection.id if fixed_connection is not None else None
    resolution = resolve_identifier(
        tenant, client, tx.params, identifier, fixed_org, fixed_connection
    )
    flow.record_decisions(tx, resolution.decisions)
    tx.organization_id = resolution.organization.id if resolution.organization else None
    tx.connection_id = resolution.connection.id if resolution.connection else None
    if organization_required(client, tx):
        tx.connection_id = None
        raise OrganizationNeeded(tenant.name)
    if resolution.connection is None:
        choosable = organizations_allowed(client) and has_organizations(tenant)
        if resolution.organization is None and choosable:
            raise OrganizationNeeded(tenant.name)
        raise NoConnection(tenant.name)
    return resolution.connection


def organization_of(tenant: Tenant, organization_id: str | None) -> Organization | None:
    """An organization of the transaction, only if it still belongs to this tenant."""
    if not organization_id:
        return None
    organization = row_cache().row(Organization, organization_id)
    if organization is None or organization.tenant_id != tenant.id:
        return None
    return organization


def connection_of(tenant: Tenant, connection_id: str | None) -> Connection | None:
    """The transaction's connection, only if it still belongs to this tenant."""
    if not connection_id:
        return None
    connection = row_cache().row(Connection, connection_id)
    if connection is None or connection.tenant_id != tenant.id:
        return None
    return connection
