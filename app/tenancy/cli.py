"""The tenant and organization lookups every room's commands start with (both are made by
``foyer apply``)."""

from __future__ import annotations

import typing as t

from app.clikit import fail
from app.orgs.services import find_organization
from app.tenancy.services import find_tenant

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


def tenant_or_fail(name: str) -> Tenant:
    """The tenant named ``name``; exits 1 when there is none."""
    tenant = find_tenant(name)
    if tenant is None:
        fail(f"no tenant named {name!r}")
    return tenant


def organization_or_fail(tenant: Tenant, name: str) -> Organization:
    """The tenant's organization with this name (or id); exits 1 when there is none."""
    organization = find_organization(tenant, name)
    if organization is None:
        fail(f"tenant {tenant.name} has no organization {name!r}")
    return organization
