"""What a home realm discovery answer is: :class:`HomeRealm`, returned by every method
(:mod:`app.hrd.method`) and by ``home_realm_for_identifier`` plugins."""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.orgs.models import Organization


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
