"""Login rules: the context a ``check_login`` hook sees and the decision it may return."""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.oidc.models import Client
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant


@dataclasses.dataclass(frozen=True)
class LoginContext:
    """Everything a login rule may look at. ``client`` is None for a sign-in without an app."""

    user: User
    tenant: Tenant
    organization: Organization | None
    connection: Connection
    client: Client | None
    ip: str | None
    amr: list[str]


@dataclasses.dataclass(frozen=True)
class LoginDecision:
    """A denial. ``reason`` is shown to the user: pass it through ``gettext``/``lazy_gettext``.

    ``code`` is a stable machine code recorded in the ``login_denied`` event and, for an
    application, returned as ``error_description`` with ``error=access_denied``.
    """

    code: str
    reason: str
