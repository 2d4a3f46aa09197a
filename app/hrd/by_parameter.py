"""Builtin HRD methods ``organization_parameter`` and ``connection_parameter``: the
application names the organization (id or name) or the connection on ``/authorize``.

An unknown name refuses the request: the application gets ``error=invalid_request`` at its
(already validated) redirect_uri, never a guess. Unknown names count against the client
address (:mod:`app.orgs.privacy`); past the tenant's figure every name is refused alike.
"""

from __future__ import annotations

import typing as t

from app.connections.services import find_connection
from app.hookspecs import hookimpl
from app.hrd.method import REQUEST
from app.hrd.method import HrdContext
from app.hrd.method import HrdRefused
from app.hrd.realm import HomeRealm
from app.orgs.privacy import TooManyGuesses
from app.orgs.privacy import guarded_lookup
from app.orgs.services import find_organization

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod

MAX_LENGTH = 100
GUESSES_REFUSED = "Too many unknown organization names from this address; try again later."


class OrganizationParameter:
    name = "organization_parameter"
    stages = (REQUEST,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        value = (context.params.get("organization") or "").strip()
        if not value:
            return None
        try:
            organization = guarded_lookup(
                context.tenant, lambda: find_organization(context.tenant, value[:MAX_LENGTH])
            )
        except TooManyGuesses:
            raise HrdRefused("too_many_guesses", GUESSES_REFUSED) from None
        if organization is None:
            raise HrdRefused("unknown_organization", "Unknown organization.")
        return HomeRealm(organization=organization, detail=f"organization={organization.name}")


class ConnectionParameter:
    name = "connection_parameter"
    stages = (REQUEST,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        value = (context.params.get("connection") or "").strip()
        if not value:
            return None
        connection = find_connection(context.tenant, value[:MAX_LENGTH])
        if connection is None:
            raise HrdRefused("unknown_connection", "Unknown connection.")
        return HomeRealm(connection=connection, detail=f"connection={connection.name}")


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [OrganizationParameter(), ConnectionParameter()]
