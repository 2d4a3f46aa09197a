"""The public lookup: what home realm discovery says about an identifier, safely.

Only *public* methods answer (by default the identifier map and email domains): their
answers come from configuration, never from accounts, so the lookup costs and says the
same for an identifier with an account and one without. An identifier no entry or domain
routes gets the neutral answer, whatever else is known about it. Login pages and
applications use it to show the right button before asking for a password;
:func:`lookup_realm` is also what a benchmark can call directly.
"""

from __future__ import annotations

import dataclasses
import typing as t

from app.connections.strategies import kind_of
from app.hrd import chain
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

MAX_IDENTIFIER_LENGTH = 320


@dataclasses.dataclass(frozen=True)
class LookupAnswer:
    """The organization and connection an identifier is routed to, and by which method;
    all None for the neutral answer."""

    organization: Organization | None = None
    connection: Connection | None = None
    method: str | None = None

    def as_json(self) -> dict[str, t.Any]:
        """Always the same keys, so answers differ only where the map or domains do."""
        organization = connection = None
        if self.organization is not None:
            organization = {
                "id": self.organization.id,
                "name": self.organization.name,
                "display_name": self.organization.display_name,
            }
        if self.connection is not None:
            connection = {
                "name": self.connection.name,
                "display_name": self.connection.display_name or self.connection.name,
                "kind": kind_of(self.connection),
            }
        return {"organization": organization, "connection": connection, "method": self.method}


NEUTRAL = LookupAnswer()


def lookup_realm(
    tenant: Tenant, identifier: str, organization: Organization | None = None
) -> LookupAnswer:
    """Run the tenant's public identifier methods for ``identifier``.

    :param organization: The organization of the host or path the lookup came to: answers
        naming another one are left out.
    """
    identifier = identifier.strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER_LENGTH:
        return NEUTRAL
    context = HrdContext(
        tenant=tenant, identifier=identifier, organization=organization, public=True
    )
    resolution = chain.run(IDENTIFIER, context)
    decisions = resolution.decisions
    if not decisions:
        return NEUTRAL
    return LookupAnswer(resolution.organization, resolution.connection, decisions[0].method)
