"""How strongly a sign-in authenticated: when two-step verification is required, and the
``acr`` values that say what happened.

Two-step verification is required when the tenant, the organization or the application
says so (``require_two_step``), or when the application asks for it with ``acr_values``
(every value it names that Foyer knows means two steps). A ``check_login`` rule may require
it too (``LoginDecision.require("mfa")``). :mod:`app.login.steps` then asks for the code, or
takes a user who has no authenticator through setting one up.

``acr`` values (``acr_values_supported`` in discovery):

- ``1``: one factor (a password, or an upstream identity provider's sign-in);
- ``2``: two-step verification (``amr`` holds ``mfa``);
- ``http://schemas.openid.net/pape/policies/2007/06/multi-factor``: the same as ``2``, the
  name other providers use for it.
"""

from __future__ import annotations

import typing as t

from app.login.rules import MFA

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

ACR_ONE_FACTOR = "1"
ACR_TWO_STEP = "2"
ACR_MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
ACR_LEVELS = {ACR_ONE_FACTOR: 1, ACR_TWO_STEP: 2, ACR_MULTI_FACTOR: 2}
"""Each known ``acr`` value and the number of steps it stands for."""
REQUIRE_TWO_STEP = "require_two_step"
"""The setting's key in ``Tenant.settings`` and ``Client.settings`` (organizations have a
column of that name)."""


def level(amr: t.Sequence[str]) -> int:
    """The steps a sign-in with these ``amr`` passed: 2 after two-step verification."""
    return 2 if MFA in amr else 1


def asks_two_step(acr_values: str | None) -> bool:
    """The application's ``acr_values`` name only values that mean two steps."""
    known = [ACR_LEVELS[value] for value in (acr_values or "").split() if value in ACR_LEVELS]
    return bool(known) and min(known) >= 2


def two_step_required(
    tenant: Tenant,
    organization: Organization | None,
    client: Client | None,
    acr_values: str | None,
) -> bool:
    """Whether this sign-in must pass two-step verification (rules aside)."""
    return (
        bool((tenant.settings or {}).get(REQUIRE_TWO_STEP))
        or (organization is not None and organization.require_two_step)
        or (client is not None and bool((client.settings or {}).get(REQUIRE_TWO_STEP)))
        or asks_two_step(acr_values)
    )


def acr_of(amr: t.Sequence[str], acr_values: str | None = None) -> str:
    """The ``acr`` of a sign-in: the first value the application asked for that it
    satisfies, else the value of the steps it passed."""
    reached = level(amr)
    for value in (acr_values or "").split():
        if ACR_LEVELS.get(value, reached + 1) <= reached:
            return value
    return ACR_TWO_STEP if reached >= 2 else ACR_ONE_FACTOR
