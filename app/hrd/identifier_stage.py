"""The identifier stage: where what the user typed leads, within what is already fixed.

The login pages call :func:`resolve_identifier` for each identifier submitted, starting
again from what was fixed before it (the application, host, path or the user's choice on
the picker). The answer is a decision and its trace; :mod:`app.login` records it in the
sign-in.
"""

from __future__ import annotations

import typing as t

from app.hrd import chain
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.request_stage import organizations_allowed

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.hrd.chain import Resolution
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


def resolve_identifier(
    tenant: Tenant,
    client: Client | None,
    params: t.Mapping[str, str],
    identifier: str,
    organization: Organization | None,
    connection: Connection | None,
) -> Resolution:
    """Run the tenant's identifier methods for ``identifier``.

    :param organization: The organization fixed before the identifier, if any.
    :param connection: The connection fixed before the identifier (``connection=``), if any.
    :raises app.connections.strategies.StrategyUnavailable: when a store cannot be reached.
    :raises app.hooks.PluginError: when a ``home_realm_for_identifier`` plugin raises.
    """
    context = HrdContext(
        tenant=tenant,
        client=client,
        params=params,
        identifier=identifier.strip(),
        organization=organization,
        connection=connection,
        organizations_allowed=organizations_allowed(client),
    )
    return chain.run(IDENTIFIER, context)
