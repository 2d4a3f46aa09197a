"""The identifier-to-realm map: normalizing entries, keeping them, and finding one fast.

Admins fill the map with config as code (``identifier_map:``) or ``foyer hrd map``;
plugins answer live through ``home_realm_for_identifier`` instead. An exact entry is found
by the unique (tenant, identifier) index. Patterns are compiled once per tenant into
:class:`PatternIndex` and cached per process; every change through this module stamps the
tenant with a new ``hrd_map_version``, and the cache is rebuilt when the stamp it was built
from differs, so every process sees a change at its next request. Patterns whose domain is
literal (``*@contractors.example``) are bucketed by that domain, so a lookup tries only the
patterns of the identifier's domain and the few with a wildcard domain.

Precedence: an exact entry, then the pattern with the most literal characters (ties: the
alphabetically first), so a more specific entry always wins.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import typing as t

import sqlalchemy as sa
from flask import current_app

from app.accounts.services import normalize_email
from app.connections.services import enables
from app.db import session
from app.hrd import glob
from app.hrd.models import IdentifierRoute
from app.security.crypto import new_token
from app.tenancy.services import normalize_hostname

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

VERSION_KEY = "hrd_map_version"
"""Key of ``Tenant.settings`` stamping the map's last change (not managed by config files)."""
MAX_CACHED_TENANTS = 1024


class RouteInvalid(ValueError):
    """An entry that cannot be stored; the message says why."""


def normalize_identifier(value: str) -> str:
    """The form exact entries are stored and looked up in: trimmed, lower case, the
    email domain in IDNA (``Bob@Bücher.example`` -> ``bob@xn--bcher-kva.example``)."""
    value = value.strip()
    return normalize_email(value) if "@" in value else value.lower()


def normalize_pattern(value: str) -> str:
    """A pattern in lower case with its literal domain labels in IDNA; RouteInvalid when
    it cannot be used."""
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if at:
        labels = []
        for label in domain.split("."):
            if label and not glob.is_pattern(label):
                try:
                    label = normalize_hostname(label)
                except ValueError:
                    raise RouteInvalid(f"{value!r}: {label!r} is not a domain label") from None
            labels.append(label)
        value = f"{local}@{'.'.join(labels)}"
    try:
        return glob.check_pattern(value)
    except ValueError as exc:
        raise RouteInvalid(f"{value!r}: {exc}") from None


def normalize_entry(value: str) -> tuple[str, bool]:
    """(stored form, is a pattern) of an identifier or pattern an admin gave."""
    if not value.strip():
        raise RouteInvalid("an identifier map entry needs an identifier or a pattern")
    if glob.is_pattern(value):
        return normalize_pattern(value), True
    normalized = normalize_identifier(value)
    if len(normalized) > glob.MAX_LENGTH:
        raise RouteInvalid(f"an identifier is at most {glob.MAX_LENGTH} characters long")
    return normalized, False


# --- Keeping the map -----------------------------------------------------------------------


def routes(tenant: Tenant) -> list[IdentifierRoute]:
    """Every entry of the tenant's map, sorted by identifier."""
    return list(
        session.scalars(
            sa.select(IdentifierRoute)
            .where(IdentifierRoute.tenant_id == tenant.id)
            .order_by(IdentifierRoute.identifier)
        )
    )


def set_route(
    tenant: Tenant,
    identifier: str,
    organization: Organization | None = None,
    connection: Connection | None = None,
) -> IdentifierRoute:
    """Route ``identifier`` (or a pattern) to a realm, replacing its previous route.

    :raises RouteInvalid: for an unusable pattern, no realm, a realm of another tenant, or
        a connection the organization does not enable.
    """
    stored, pattern = normalize_entry(identifier)
    if organization is None and connection is None:
        raise RouteInvalid(f"{stored}: name an organization, a connection or both")
    for part in (organization, connection):
        if part is not None and part.tenant_id != tenant.id:
            raise RouteInvalid(f"{stored}: the realm belongs to another tenant")
    if organization and connection and not enables(organization, connection):
        raise RouteInvalid(
            f"{stored}: connection {connection.name!r} is not enabled for organization "
            f"{organization.name!r}"
        )
    route = session.scalar(
        sa.select(IdentifierRoute).where(
            IdentifierRoute.tenant_id == tenant.id, IdentifierRoute.identifier == stored
        )
    )
    if route is None:
        route = IdentifierRoute(tenant_id=tenant.id, identifier=stored)
        session.add(route)
    route.is_pattern = pattern
    route.organization_id = organization.id if organization is not None else None
    route.connection_id = connection.id if connection is not None else None
    session.flush()
    touch(tenant)
    return route


def remove_route(tenant: Tenant, identifier: str) -> bool:
    """Remove the entry for ``identifier`` (or the pattern); False when there was none."""
    stored, _pattern = normalize_entry(identifier)
    removed = session.execute(
        sa.delete(IdentifierRoute).where(
            IdentifierRoute.tenant_id == tenant.id, IdentifierRoute.identifier == stored
        )
    )
    touch(tenant)
    return bool(getattr(removed, "rowcount", 0))


def touch(tenant: Tenant) -> None:
    """Stamp the tenant's map as changed, so every process rebuilds its pattern cache."""
    tenant.settings = {**(tenant.settings or {}), VERSION_KEY: new_token(8)}
    session.flush()


# --- Finding an entry ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Match:
    """A found entry, as ids (cached entries outlive database sessions)."""

    entry: str
    is_pattern: bool
    organization_id: str | None
    connection_id: str | None


class PatternIndex:
    """A tenant's patterns, bucketed by literal domain, most specific first."""

    def __init__(self, rows: t.Iterable[tuple[str, str | None, str | None]]) -> None:
        self.by_domain: dict[str, list[Match]] = collections.defaultdict(list)
        self.others: list[Match] = []
        for pattern, organization_id, connection_id in rows:
            match = Match(pattern, True, organization_id, connection_id)
            _local, at, domain = pattern.rpartition("@")
            if at and domain and not glob.is_pattern(domain):
                self.by_domain[domain].append(match)
            else:
                self.others.append(match)
        for bucket in self.by_domain.values():
            bucket.sort(key=_specificity)
        self.others.sort(key=_specificity)

    def find(self, identifier: str) -> Match | None:
        _local, at, domain = identifier.rpartition("@")
        found = [
            match
            for bucket in ((self.by_domain.get(domain, []) if at else []), self.others)
            for match in _first_match(bucket, identifier)
        ]
        return min(found, key=_specificity) if found else None


def _first_match(bucket: list[Match], identifier: str) -> list[Match]:
    """The most specific match of a sorted bucket (as a list of at most one)."""
    for match in bucket:
        if glob.matches(match.entry, identifier):
            return [match]
    return []


def _specificity(match: Match) -> tuple[int, str]:
    """Sort key: the most literal characters first, then alphabetically."""
    return -glob.literal_count(match.entry), match.entry


_lock = threading.Lock()


def pattern_index(tenant: Tenant) -> PatternIndex:
    """The tenant's compiled patterns, from the process cache when still current."""
    version = (tenant.settings or {}).get(VERSION_KEY)
    cache: collections.OrderedDict[str, tuple[t.Any, PatternIndex]] = (
        current_app.extensions.setdefault("foyer.hrd.patterns", collections.OrderedDict())
    )
    with _lock:
        cached = cache.get(tenant.id)
        if cached is not None and cached[0] == version:
            cache.move_to_end(tenant.id)
            return cached[1]
    rows = session.execute(
        sa.select(
            IdentifierRoute.identifier,
            IdentifierRoute.organization_id,
            IdentifierRoute.connection_id,
        ).where(IdentifierRoute.tenant_id == tenant.id, IdentifierRoute.is_pattern.is_(True))
    ).all()
    index = PatternIndex((r[0], r[1], r[2]) for r in rows)
    with _lock:
        cache[tenant.id] = (version, index)
        cache.move_to_end(tenant.id)
        while len(cache) > MAX_CACHED_TENANTS:
            cache.popitem(last=False)
    return index


EXACT_ROUTE = sa.select(IdentifierRoute.organization_id, IdentifierRoute.connection_id).where(
    IdentifierRoute.tenant_id == sa.bindparam("tenant_id"),
    IdentifierRoute.identifier == sa.bindparam("identifier"),
    IdentifierRoute.is_pattern.is_(False),
)
"""Built once: every identifier submitted runs it."""


def find_route(tenant: Tenant, identifier: str) -> Match | None:
    """The entry for ``identifier``: exact first (one indexed query), then patterns."""
    value = normalize_identifier(identifier)
    if not value or len(value) > glob.MAX_LENGTH:
        return None
    row = session.execute(EXACT_ROUTE, {"tenant_id": tenant.id, "identifier": value}).first()
    if row is not None:
        return Match(value, False, row[0], row[1])
    return pattern_index(tenant).find(value)
