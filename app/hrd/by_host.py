"""Builtin HRD methods ``vanity_host`` and ``vanity_path``: the address preselects the
organization (``acme.login.example.com`` or ``login.example.com/o/acme/...``).

The host's organization comes from its ``TenantDomain`` row, the path's from
:mod:`app.tenancy.paths` (an unknown name there is a 404 page before any view runs).
"""

from __future__ import annotations

import typing as t

from app.hookspecs import hookimpl
from app.hrd.method import REQUEST
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod


class VanityHost:
    name = "vanity_host"
    stages = (REQUEST,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        if context.host_organization is None:
            return None
        return HomeRealm(organization=context.host_organization, detail=f"host {context.host}")


class VanityPath:
    name = "vanity_path"
    stages = (REQUEST,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        organization = context.path_organization
        if organization is None:
            return None
        return HomeRealm(organization=organization, detail=f"path /o/{organization.name}/")


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [VanityHost(), VanityPath()]
