"""The tenant lookup every room's commands start with (tenants themselves are made by
``foyer apply``)."""

from __future__ import annotations

import typing as t

from app.clikit import fail
from app.tenancy.services import find_tenant

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant


def tenant_or_fail(name: str) -> Tenant:
    """The tenant named ``name``; exits 1 when there is none."""
    tenant = find_tenant(name)
    if tenant is None:
        fail(f"no tenant named {name!r}")
    return tenant
