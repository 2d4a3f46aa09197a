"""Builtin HRD method ``email_domain``: the organization claiming the email's domain, and
the connection the domain names (else the organization's first connection).

Matching is case-insensitive and IDN-safe, with optional subdomains
(:mod:`app.hrd.email_domains`). A domain belongs to one organization in a tenant: config
files and the database (unique tenant and domain) refuse a second claim.
"""

from __future__ import annotations

import typing as t

from app.connections.models import Connection
from app.db import session
from app.hookspecs import hookimpl
from app.hrd.email_domains import email_domain_of
from app.hrd.email_domains import find_email_domain
from app.hrd.method import IDENTIFIER
from app.hrd.method import HrdContext
from app.hrd.realm import HomeRealm
from app.orgs.models import Organization

if t.TYPE_CHECKING:
    from app.hrd.method import HomeRealmMethod


class EmailDomain:
    name = "email_domain"
    stages = (IDENTIFIER,)
    public = True

    def resolve(self, context: HrdContext) -> HomeRealm | None:
        domain = email_domain_of(context.identifier or "")
        if domain is None:
            return None
        found = find_email_domain(context.tenant, domain)
        if found is None:
            return None
        row = found.row
        organization = session.get(Organization, row.organization_id)
        if organization is None:
            return None
        connection = session.get(Connection, row.connection_id) if row.connection_id else None
        if connection is None and organization.connections:
            connection = organization.connections[0]
        rule = f"*.{row.domain} (subdomains)" if found.via_subdomain else row.domain
        return HomeRealm(connection, organization, detail=f"email domain {rule}")


@hookimpl
def register_home_realm_methods() -> list[HomeRealmMethod]:
    return [EmailDomain()]
