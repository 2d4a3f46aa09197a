"""Login rules: the context a ``check_login`` hook sees and the decision it may return.

These are the types a rule plugin needs; :mod:`app.login.steps` runs the rules and the
steps they require.
"""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

MFA = "mfa"
"""The two-step verification step (the user's authenticator app), for
``LoginDecision.require(MFA)``."""


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
    """How the user authenticated (RFC 8176): ``pwd``, then ``otp`` and ``mfa`` after the
    two-step verification."""
    steps: tuple[str, ...] = ()
    """The steps this sign-in has passed (``authenticate``, ``mfa``, plugin steps)."""


@dataclasses.dataclass(frozen=True)
class LoginDecision:
    """A rule's answer when it does not simply allow: deny, or require a step first.

    ``LoginDecision(code, reason)`` denies. ``reason`` is shown to the user: pass it through
    ``gettext``/``lazy_gettext``. ``code`` is a stable machine code recorded in the
    ``login_denied`` event.

    ``LoginDecision.require(step, page=...)`` sends the sign-in through ``step`` first; the
    rules then run again, so a rule returns None once its step is done (``"mfa" in
    context.amr``, ``step in context.steps``).
    """

    code: str
    reason: str = ""
    step: str | None = None
    """The step required (None: a denial): :data:`MFA`, or a step of the plugin's own."""
    page: str | None = None
    """Where a plugin's step happens: an endpoint of its blueprint (``"acme.terms"``) or a
    path (``"/acme/terms"``). The page gets the sign-in as ``?tx=`` and calls
    :func:`app.login.steps.step_done` once its work is done."""

    @classmethod
    def require(cls, step: str, page: str | None = None, reason: str = "") -> LoginDecision:
        """Require ``step`` (:data:`MFA`, or a plugin step with its ``page``) before the
        sign-in goes on; a user who has no authenticator sets one up first. ``reason`` is
        shown if the step cannot be taken (asked again once passed, or a plugin step
        without a page); the denial's code is ``<step>_required``."""
        return cls(code=f"{step}_required", reason=reason, step=step, page=page)

    @property
    def denies(self) -> bool:
        return self.step is None
