"""Builtin HRD method ``user_lookup``, the last resort: among the password connections that
may serve this sign-in, the one that knows the identifier, else the first of them.

Every candidate is asked, whichever knows the user, so the time taken does not tell; and
the answer is a password page either way, so nothing reveals whether an account exists.

Candidates are the organization's password connections when one is chosen. Without an
organization they are only the connections *not* dedicated to one organization (shared
pools and connections of no organization): isolated users are found inside their
organization (by the application, host, path, email domain, identifier map or the
picker), so two people with the same email in two organizations are never mixed up.
An organization whose only connection redirects (an enterprise IdP) is routed there.
"""

from __future__ import annotations

import typing as t

from app.connections.services import first_password_connection
from app.connections.services import password_connections
from app.connections.services import password_connections_knowing
from app.connections.strategies import strategy_for
from app.hookspecs import hookimpl
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod
    from app.tenancy.models import Tenant


class UserLookup:
    name = "user_lookup"
    stages = (IDENTIFIER,)
    public = False

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        """:raises app.connections.strategies.StrategyUnavailable: when a store cannot be
        reached."""
        if not context.identifier:
            return None
        organization = context.organization
        if organization is None:
            return self.shared(context.tenant, context.identifier)
        pool = password_connections(organization)
        if not pool:
            if len(organization.connections) == 1:
                only = organization.connections[0]  # the chain ignores it if switched off
                return HomeRealm(only, detail=f"the organization's only connection, {only.name}")
            return None
        known = [c for c in pool if strategy_for(c).find_user(context.identifier) is not None]
        if known:
            return HomeRealm(known[0], detail=f"account found in {known[0].name}")
        first = pool[0]
        return HomeRealm(first, detail=f"no account found: first password connection {first.name}")

    def shared(self, tenant: Tenant, identifier: str) -> HomeRealm | None:
        """Without an organization: the shared pools only. Both statements run every time,
        and neither grows with the number of organizations (their dedicated connections
        are left out through an index, not by loading them)."""
        known = password_connections_knowing(tenant, identifier, shared=True)
        first = first_password_connection(tenant, shared=True)
        if known:
            return HomeRealm(known[0], detail=f"account found in {known[0].name}")
        if first is None:
            return None
        return HomeRealm(first, detail=f"no account found: first password connection {first.name}")


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [UserLookup()]
