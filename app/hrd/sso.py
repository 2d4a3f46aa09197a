"""May a browser's SSO session answer an authorization request, and for which organization?

A pure decision on the organization question: a session started for organization A never
silently serves a request for organization B unless the user's connection is enabled for
B. Whether B's login rules (membership for shared pools, plus any ``check_login`` plugin)
let the user in is the login rules step (:func:`app.login.steps.session_rules`), run for
every answer a session gives; when they refuse entering B, the hosted login runs for B. A
request naming a connection is served only by a session of a user of that connection.
"""

from __future__ import annotations

import dataclasses
import typing as t

from app.connections.services import enables

if t.TYPE_CHECKING:
    from app.clients.models import Client
    from app.hrd.chain import Resolution
    from app.sessions.models import SsoSession


@dataclasses.dataclass(frozen=True)
class SessionAnswer:
    """Whether the session serves the request, and the organization of the code issued."""

    serves: bool
    organization_id: str | None = None
    enters: bool = False
    """The session enters another organization than its own: if the login rules refuse,
    the user signs in there afresh rather than being refused."""


def session_answer(client: Client, sso: SsoSession, realm: Resolution) -> SessionAnswer:
    """Decide for a session that already passed the prompt and max_age checks."""
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
    if enables(wanted, user.connection):
        return SessionAnswer(True, wanted.id, enters=True)
    return SessionAnswer(False)
