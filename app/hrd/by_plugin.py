"""Builtin HRD method ``plugin``: the first ``home_realm_for_identifier`` answer of the
plugins enabled for the tenant or organization (a CRM lookup, a directory...).

Not public: a plugin may look at accounts, so the public lookup endpoint never asks it.
"""

from __future__ import annotations

import typing as t

from app.hookspecs import hookimpl
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.login.home_realm import HomeRealm
from app.login.home_realm import realm_from_plugins

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod


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


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [PluginAnswer()]
