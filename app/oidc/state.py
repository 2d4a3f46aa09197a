"""What the provider keeps during one request: the clients it looked up, and what the token
and revocation endpoints did, recorded as events once their response is final."""

from __future__ import annotations

import dataclasses
import typing as t

from flask import g

if t.TYPE_CHECKING:
    from app.oidc.grants import OAuthClient
    from app.oidc.server import RevocableToken

_STATE = "foyer_oidc"


@dataclasses.dataclass(frozen=True)
class IssuedTokens:
    """Who a successful token response was for (the ``token_issued`` event)."""

    client_id: str
    user_id: str | None
    grant_id: str | None


@dataclasses.dataclass
class ProtocolState:
    clients: dict[str, OAuthClient | None] = dataclasses.field(default_factory=dict)
    """Clients by id, each looked up once per request (None: unknown)."""
    issued: IssuedTokens | None = None
    revoked: RevocableToken | None = None


def protocol_state() -> ProtocolState:
    """This request's (made on first use)."""
    state = g.get(_STATE)
    if state is None:
        state = ProtocolState()
        setattr(g, _STATE, state)
    return t.cast(ProtocolState, state)


def reset_protocol_state() -> None:
    """Start the request with nothing remembered."""
    g.pop(_STATE, None)
