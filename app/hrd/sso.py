"""May a browser's SSO session answer an authorization request, and for which organization?

A session started for organization A never silently serves a request for organization B:
the user's connection must be enabled for B and B's login rules (membership for shared
pools, plus any ``check_login`` plugin of B) must let the user in, exactly as at a fresh
sign-in. Otherwise the hosted login runs for B. A request naming a connection is served
only by a session of a user of that connection.
"""

from __future__ import annotations

import dataclasses
import typing as t

from flask import request

from app.hooks import call_hook
from app.hrd.chain import enables
from app.login.rules import LoginContext

if t.TYPE_CHECKING:
    from app.hrd.chain import Resolution
    from app.oidc.models import Client
    from app.orgs.models import Organization
    from app.sessions.models import SsoSession
    from app.tenancy.models import Tenant


@dataclasses.dataclass(frozen=True)
class SessionAnswer:
    """Whether the session serves the request, and the organization of the code issued."""

    serves: bool
    organization_id: str | None = None


def session_answer(
    tenant: Tenant, client: Client, sso: SsoSession, realm: Resolution
) -> SessionAnswer:
    """Decide for a session that already passed the prompt and max_age checks.

    :raises app.hooks.PluginError: when a login rule raises.
    """
    user = sso.user
    if realm.connection is not None and realm.connection.id != user.connection_id:
        return SessionAnswer(False)
    if client.organization_usage == "deny":
        return SessionAnswer(True, None)
    wanted = realm.organization
    if wanted is None:
        if client.organization_usage == "require" and not sso.organization_id:
            return SessionAnswer(False)
        return SessionAnswer(True, sso.organization_id)
    if wanted.id == sso.organization_id:
        return SessionAnswer(True, wanted.id)
    if may_enter(tenant, client, sso, wanted):
        return SessionAnswer(True, wanted.id)
    return SessionAnswer(False)


def may_enter(tenant: Tenant, client: Client, sso: SsoSession, organization: Organization) -> bool:
    """The session's user could sign in to ``organization`` now: its connection is enabled
    there and no login rule of the organization denies."""
    user = sso.user
    if not enables(organization, user.connection):
        return False
    context = LoginContext(
        user=user,
        tenant=tenant,
        organization=organization,
        connection=user.connection,
        client=client,
        ip=request.remote_addr,
        amr=list(sso.amr or []),
    )
    denials = call_hook("check_login", tenant=tenant, organization=organization, context=context)
    return not denials


def code_organization(client: Client, organization_id: str | None, sso: SsoSession) -> str | None:
    """The organization of a code issued after the hosted login: the sign-in's, else the
    session's; never one for an application that does not use organizations."""
    if client.organization_usage == "deny":
        return None
    return organization_id or sso.organization_id
