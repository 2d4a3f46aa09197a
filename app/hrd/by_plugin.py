"""Builtin HRD method ``plugin``: the first ``home_realm_for_identifier`` answer of the
plugins enabled for the tenant or organization (a CRM lookup, a directory...).

Only an answer within the tenant is kept; the discovery chain then checks it against what
is already decided (a connection must be enabled for the organization, an organization
chosen by the application, host or path cannot be changed), so a plugin cannot route a
user into another tenant or organization.

Not public: a plugin may look at accounts, so the public lookup endpoint never asks it.
"""

from __future__ import annotations

import logging
import typing as t

from app.hooks import call_hook
from app.hookspecs import hookimpl
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.hrd.method import HomeRealmMethod
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)


class PluginAnswer:
    name = "plugin"
    stages = (IDENTIFIER,)
    public = False

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        if not context.identifier:
            return None
        realm = realm_from_plugins(
            context.identifier, context.tenant, context.organization, context.client
        )
        if realm is None:
            return None
        return HomeRealm(realm.connection, realm.organization, realm.detail or "plugin answer")


def realm_from_plugins(
    identifier: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client | None,
) -> HomeRealm | None:
    """The first plugin answer, if it stays within the tenant; else None.

    :raises app.hooks.PluginError: when a plugin raises (the plugin-failure page).
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


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [PluginAnswer()]
