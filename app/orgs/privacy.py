"""Organization names stay private: guessing them is rate limited per client address.

A tenant keeps its customer list private unless its organization picker lists it
(``hrd.organization_picker: list``). Then every place a request names an organization
(``/o/<name>/`` paths, the ``organization`` parameter of ``/authorize``, the picker's name
field, the invitation welcome page) looks the name up through :func:`guarded_lookup`:
unknown names count against the address (``organization_guesses_per_hour``, a tenant
setting, in the shared counters). Past the figure, every request from that address that
names an organization, known or not, gets the same refusal until the hour's window ends,
so the answers no longer tell names apart. Below it a known name shows its organization's
page and an unknown one does not: that difference is what the figure bounds.
"""

from __future__ import annotations

import typing as t

from flask import has_request_context
from flask import request

from app.accounts import protection
from app.accounts.protection import Figures
from app.accounts.protection import address_key
from app.errors import error_page
from app.events.record import record_event
from app.security.counters import counters
from app.security.limits import retry_after

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

WINDOW = 3600


class TooManyGuesses(Exception):
    """This address named too many unknown organizations: refuse every name for a while."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after

    def page(self) -> Response:
        """The refusal a page gives: the "too many attempts" page, with ``Retry-After``."""
        return error_page(
            "rate_limited", 429, headers={"Retry-After": retry_after(self.retry_after)}
        )


def list_is_public(tenant: Tenant) -> bool:
    """The tenant's picker lists its organizations (``hrd.organization_picker: list``)."""
    return ((tenant.settings or {}).get("hrd") or {}).get("organization_picker") == "list"


def guarded_lookup(
    tenant: Tenant, lookup: t.Callable[[], Organization | None]
) -> Organization | None:
    """``lookup()`` of a name the request gave, counting an unknown one.

    :raises TooManyGuesses: when the address is past the tenant's figure.
    """
    figures = Figures.of(tenant)
    limit = figures.organization_guesses_per_hour
    if not limit or not has_request_context() or list_is_public(tenant):
        return lookup()
    ip = request.remote_addr or ""
    if figures.allows(ip):
        return lookup()
    key = f"orgname:{tenant.id}:{address_key(ip)}"
    store, moment = counters(), protection.now()
    misses = store.peek(key, moment)
    if misses.value >= limit:
        raise TooManyGuesses(misses.expires_at - moment)
    organization = lookup()
    if organization is None:
        misses = store.add(key, WINDOW, moment)
        if misses.value == limit:
            record_event(
                "rate_limited",
                tenant=tenant,
                data={"scope": "organization_names", "until": misses.expires_at},
            )
    return organization
