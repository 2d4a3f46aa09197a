"""Host -> tenant (and vanity organization). Unknown hosts get a 404, never a page."""

from __future__ import annotations

import functools
import re
import typing as t

import sqlalchemy as sa
from flask import abort
from flask import g
from flask import request
from sqlalchemy.orm import joinedload

from app.orgs.models import Organization
from app.rowcache import row_cache
from app.tenancy.models import TenantDomain

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant


def hostname_of(host: str) -> str:
    """Lower-case host without port; IPv6 literals keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


@functools.cache
def domain_by_hostname() -> sa.Select[tuple[TenantDomain]]:
    """Built once (on first use: the mappers must all be known), as composing a statement
    costs more than running it. The tenant comes in the same query (every endpoint but
    discovery needs it); a vanity host's organization and its connections come too, for
    its login pages."""
    return (
        sa.select(TenantDomain)
        .where(TenantDomain.hostname == sa.bindparam("hostname"))
        .options(
            joinedload(TenantDomain.tenant, innerjoin=True),
            joinedload(TenantDomain.organization).selectinload(Organization.connections),
        )
    )


HOSTNAME = re.compile(r"[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\]")
"""A host name or an IP literal: anything else serves no tenant (and never reaches a query)."""


def find_domain(host: str) -> TenantDomain | None:
    """The domain (and its tenant) of ``host``, from the worker's row cache."""
    hostname = hostname_of(host)
    if not HOSTNAME.fullmatch(hostname):
        return None
    return row_cache().get(
        ("domain", hostname), lambda s: s.scalar(domain_by_hostname(), {"hostname": hostname})
    )


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


def request_issuer() -> str:
    """Issuer for this request: the configured scheme, host and port of the domain the
    request came to, never the scheme or port the request itself names (a ``Host:
    login.example.com:1`` must not mint an issuer), and the ``/o/<name>`` path when the
    request came through one (:mod:`app.tenancy.paths`)."""
    return current_domain().base_url + request.script_root
