"""Host -> tenant (and vanity organization). Unknown hosts get a 404, never a page."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import abort
from flask import g
from flask import request

from app.db import session
from app.tenancy.models import TenantDomain

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


def hostname_of(host: str) -> str:
    """Lower-case host without port; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def find_domain(host: str) -> TenantDomain | None:
    return session.scalar(sa.select(TenantDomain).where(TenantDomain.hostname == hostname_of(host)))


def current_domain() -> TenantDomain:
    """The TenantDomain of this request's host; aborts with 404 for an unknown host."""
    if "tenant_domain" not in g:
        domain = find_domain(request.host)
        if domain is None:
            abort(404, description="unknown_host")
        g.tenant_domain = domain
    return t.cast(TenantDomain, g.tenant_domain)


def current_tenant() -> Tenant:
    return current_domain().tenant


def vanity_organization() -> Organization | None:
    """The organization preselected by a vanity hostname, if any."""
    return current_domain().organization


def request_issuer() -> str:
    """Issuer for this request: scheme and host as the client used them (host validated)."""
    current_domain()
    return f"{request.scheme}://{request.host.lower()}"

