"""RP-initiated logout at an upstream OpenID provider (OpenID Connect RP-Initiated Logout
1.0): the URL of its ``end_session_endpoint`` with the ``id_token_hint`` of the sign-in,
Foyer's ``post_logout_redirect_uri`` and a ``state`` to find the way back."""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

if t.TYPE_CHECKING:
    from app.strategies.oidc import OidcStrategy


def logout_url(
    strategy: OidcStrategy, logout: t.Mapping[str, t.Any], return_to: str, state: str
) -> str | None:
    """None when the connection does not sign out upstream or the IdP publishes no
    ``end_session_endpoint``.

    :raises UpstreamError: when the IdP's discovery cannot be had.
    """
    options = strategy.options
    if not options.upstream_logout:
        return None
    endpoint = strategy.metadata(options).get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        return None
    params = {
        "client_id": options.client_id,
        "post_logout_redirect_uri": return_to,
        "state": state,
    }
    hint = logout.get("id_token_hint")
    if isinstance(hint, str) and hint:
        params["id_token_hint"] = hint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
