"""Which organization an email address's domain belongs to, in one indexed query.

Domains are compared in their IDNA (punycode), lower-case form, whatever form the user
typed: ``Alice@ACME.example``, ``bob@bücher.example`` and ``bob@xn--bcher-kva.example``
all find their organization. An organization's domain with ``include_subdomains`` also
matches every name below it (``eu.acme.example``); an exact domain wins over a parent's
subdomain rule. The lookup asks for every suffix of the domain at once (a handful of
labels) through the unique (tenant, domain) index, so its cost does not grow with the
number of organizations.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as t

import sqlalchemy as sa

from app.db import session
from app.orgs.models import OrgDomain
from app.tenancy.services import normalize_hostname

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

MAX_LABELS = 16
"""Suffixes asked for at most (real email domains have far fewer labels)."""


@dataclasses.dataclass(frozen=True)
class DomainMatch:
    """A claimed domain that matched, and whether it matched through a subdomain."""

    row: OrgDomain
    via_subdomain: bool


def email_domain_of(identifier: str) -> str | None:
    """The IDNA, lower-case domain of an email address; None when it is not an address."""
    local, at, domain = identifier.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    try:
        return normalize_hostname(domain)
    except ValueError:
        return None


def suffixes(domain: str) -> list[str]:
    """``a.b.example`` -> ``[a.b.example, b.example]`` (never a bare top-level label)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(0, len(labels) - 1))][:MAX_LABELS]


def find_email_domain(tenant: Tenant, domain: str) -> DomainMatch | None:
    """The tenant's claimed domain for ``domain`` (normalized): exact, else the closest
    parent that includes subdomains."""
    candidates = suffixes(domain)
    if not candidates:
        return None
    found = session.scalars(_claimed(), {"tenant_id": tenant.id, "domains": candidates})
    rows = {row.domain: row for row in found}
    exact = rows.get(domain)
    if exact is not None:
        return DomainMatch(exact, via_subdomain=False)
    for parent in candidates[1:]:  # closest parent first
        row = rows.get(parent)
        if row is not None and row.include_subdomains:
            return DomainMatch(row, via_subdomain=True)
    return None


@functools.cache
def _claimed() -> sa.Select[tuple[OrgDomain]]:
    """The tenant's claimed domains among ``domains``: built once (on first use, the
    mappers known), as every identifier with an email runs it."""
    return sa.select(OrgDomain).where(
        OrgDomain.tenant_id == sa.bindparam("tenant_id"),
        OrgDomain.domain.in_(sa.bindparam("domains", expanding=True)),
    )
