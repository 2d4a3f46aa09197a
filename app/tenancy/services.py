"""Creating and finding tenants and their domains (no Flask request needed)."""

from __future__ import annotations

import re

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
