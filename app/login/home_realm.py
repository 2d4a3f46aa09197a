"""What a home realm discovery answer is, and asking plugins for one.

:class:`HomeRealm` is what every discovery method returns (:mod:`app.hrd`).
:func:`realm_from_plugins` runs the ``home_realm_for_identifier`` hook and keeps only an
answer within the tenant; the discovery chain then checks it against what is already
decided (a connection must be enabled for the organization, an organization chosen by the
application, host or path cannot be changed), so a plugin cannot route a user into another
tenant or organization.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from app.plugins import call_hook

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.oidc.models import Client
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HomeRealm:
    """Where a sign-in belongs: a connection, an organization, or both.

    With only an organization, the organization's connections then decide (its email
    domains, the account lookup); with only a connection, an organization it is dedicated
    to (enabled for it alone) is chosen with it.
    """

    connection: Connection | None = None
    organization: Organization | None = None
    detail: str = ""
    """Why, in a few words, for the sign-in's discovery trace (never shown to the user)."""


def realm_from_plugins(
    identifier: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client | None,
) -> HomeRealm | None:
    """The first plugin answer, if it stays within the tenant; else None.

    :raises app.plugins.PluginError: when a plugin raises (the plugin-failure page).
    """
    answers = call_hook(
        "home_realm_for_identifier",
        tenant=tenant,
        organization=organization,
        identifier=identifier.strip(),
        client=client,
    )
    if not answers:
        return None
    realm = answers[0]
    if not isinstance(realm, HomeRealm) or not (realm.connection or realm.organization):
        log.warning("ignored a home realm answer that is not a HomeRealm naming a realm")
        return None
    for part in (realm.connection, realm.organization):
        if part is not None and part.tenant_id != tenant.id:
            log.warning("ignored a home realm answer outside tenant %s", tenant.name)
            return None
    return realm
