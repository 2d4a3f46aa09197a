"""Creating and finding tenants and their domains (no Flask request needed)."""

from __future__ import annotations

import re
import typing as t

import sqlalchemy as sa

from app.db import session
from app.tenancy.models import Tenant
from app.tenancy.models import TenantDomain

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def parse_domain(value: str) -> tuple[str, str, int | None]:
    """Split ``[scheme://]host[:port]`` into (scheme, host, port); scheme defaults to https."""
    scheme = "https"
    if "://" in value:
        scheme, value = value.split("://", 1)
    value = value.strip("/").lower()
    host, port = value, None
    if ":" in value and not value.startswith("["):
        host, raw_port = value.rsplit(":", 1)
        port = int(raw_port)
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {scheme!r}")
    return scheme, host.encode("idna").decode("ascii"), port


def find_tenant(name: str) -> Tenant | None:
    return session.scalar(sa.select(Tenant).where(Tenant.name == name))


def create_tenant(
    name: str, display_name: str, domains: list[str], default_locale: str = "en"
) -> Tenant:
    """Create a tenant; the first domain is primary (canonical URL for emails and issuer)."""
    if not SLUG.match(name):
        raise ValueError("a tenant name is lower-case letters, digits and dashes")
    tenant = Tenant(name=name, display_name=display_name, default_locale=default_locale)
    for index, value in enumerate(domains):
        scheme, host, port = parse_domain(value)
        tenant.domains.append(
            TenantDomain(hostname=host, scheme=scheme, port=port, is_primary=index == 0)
        )
    session.add(tenant)
    session.flush()
    return tenant


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(value: str) -> str:
    """The lower-case IDNA (punycode) form of a host name; ValueError says what is wrong."""
    host = value.strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError(f"{value!r} is not a valid host name") from None
    if not host or len(host) > 253 or not all(HOST_LABEL.match(p) for p in host.split(".")):
        raise ValueError(f"{value!r} is not a valid host name")
    return host


def canonical_domain(value: str) -> str:
    """``[scheme://]host[:port]`` as ``scheme://host[:port]`` (default port left out).

    The form config files and ``TenantDomain.base_url`` use; ValueError when invalid.
    """
    try:
        scheme, host, port = parse_domain(value.strip())
    except (ValueError, UnicodeError):
        raise ValueError(f"{value!r} is not [http(s)://]host[:port]") from None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{value!r}: the port must be from 1 to 65535")
    host = normalize_hostname(host)
    default_port = {"https": 443, "http": 80}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def set_domains(tenant: Tenant, wanted: t.Sequence[tuple[str, str | None]]) -> None:
    """Make the tenant's host names exactly ``wanted``: (domain, organization id) pairs.

    Domains without an organization serve the tenant, the first of them primary; the others
    are organizations' vanity hosts. Rows are updated in place, so a host name may move
    between the tenant and its organizations in one call. ValueError when another tenant
    holds one of the names.
    """
    existing = {d.hostname: d for d in tenant.domains}
    keep: set[str] = set()
    primary_done = False
    for value, organization_id in wanted:
        scheme, host, port = parse_domain(canonical_domain(value))
        other = session.scalar(
            sa.select(TenantDomain).where(
                TenantDomain.hostname == host, TenantDomain.tenant_id != tenant.id
            )
        )
        if other is not None:
            raise ValueError(f"{host} already serves another tenant")
        row = existing.get(host)
        if row is None:
            row = TenantDomain(hostname=host)
            tenant.domains.append(row)
        row.scheme, row.port, row.organization_id = scheme, port, organization_id
        row.is_primary = organization_id is None and not primary_done
        primary_done = primary_done or row.is_primary
        keep.add(host)
    for host, row in existing.items():
        if host not in keep:
            tenant.domains.remove(row)
    session.flush()
