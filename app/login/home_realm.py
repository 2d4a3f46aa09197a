"""What a home realm discovery answer is, and asking plugins for one.

:func:`realm_from_plugins` runs the ``home_realm_for_identifier`` hook and checks the answer
(the connection must belong to the tenant and, when an organization is already chosen, be
enabled for it), so a plugin cannot route a user into another tenant or organization.
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
    """Where an identifier belongs: a connection, and maybe the organization it signs in to."""

    connection: Connection
    organization: Organization | None = None
    """Set to choose the organization too; must be None or the one already chosen."""
    detail: str = ""
    """Why, in a few words, for the sign-in's discovery trace (never shown to the user)."""


def realm_from_plugins(
    identifier: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client | None,
) -> HomeRealm | None:
    """The first plugin answer that is valid for this tenant and organization, or None.

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
    if not isinstance(realm, HomeRealm) or realm.connection.tenant_id != tenant.id:
        log.warning("ignored a home realm answer outside tenant %s", tenant.name)
        return None
    chosen = realm.organization or organization
    if organization is not None and chosen is not organization and chosen.id != organization.id:
        log.warning("ignored a home realm answer that changes the organization")
        return None
    if chosen is not None:
        if chosen.tenant_id != tenant.id:
            return None
        if realm.connection.id not in {c.id for c in chosen.connections}:
            log.warning("ignored a home realm answer naming a connection %s does not enable",
                        chosen.name)
            return None
    return HomeRealm(realm.connection, chosen, realm.detail)
