"""A redirecting connection strategy for the e2e suite (copied into the plugins folder of
the local deployment by ``e2e/seed.py``).

Its "identity provider" is the suite's application stub: home realm discovery sends the
browser there, and the scenario checks it arrived with the sign-in's login hint.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

from app import AuthResult
from app import hookimpl

if t.TYPE_CHECKING:
    from app import Connection
    from app import UpstreamLogin
    from app import User


class StubIdentityProvider:
    name = "e2e-upstream"
    kind = "redirect"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def start_login(self, login: UpstreamLogin) -> str:
        query = urlencode({"state": login.transaction_id, "login_hint": login.login_hint or ""})
        return f"{self.connection.options['authorize_url']}?{query}"

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        return AuthResult(None)

    def find_user(self, identifier: str) -> User | None:
        return None

    def set_password(self, user: User, password: str) -> None:
        raise NotImplementedError("the upstream identity provider keeps its own passwords")


@hookimpl
def register_connection_strategies() -> list[type]:
    return [StubIdentityProvider]
