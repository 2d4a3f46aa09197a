"""Builtin HRD method ``identifier_map``: the entry (or most specific pattern) an admin
wrote for the identifier (:mod:`app.hrd.identifier_map`)."""

from __future__ import annotations

import typing as t

from app.connections.models import Connection
from app.db import session
from app.hookspecs import hookimpl
from app.hrd.identifier_map import find_route
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm
from app.orgs.models import Organization

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod


class IdentifierMap:
    name = "identifier_map"
    stages = (IDENTIFIER,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        if not context.identifier:
            return None
        match = find_route(context.tenant, context.identifier)
        if match is None:
            return None
        organization = (
            session.get(Organization, match.organization_id) if match.organization_id else None
        )
        connection = session.get(Connection, match.connection_id) if match.connection_id else None
        kind = "pattern" if match.is_pattern else "entry"
        return HomeRealm(connection, organization, detail=f"{kind} {match.entry}")


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [IdentifierMap()]
