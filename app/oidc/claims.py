"""Claims of ID tokens, access tokens and userinfo answers beyond the protocol ones.

The protocol claims (``iss``, ``sub``, ``aud``, ``exp``...) are set by the token code and
always win. Here: the standard profile claims by scope, the organization claims, and the
claims plugins add through the ``extra_token_claims`` hook (the builtin
:mod:`app.oidc.default_claims` supplies the standard ones the same way). A plugin may not
set a protected claim: the claim is dropped and a ``claim_rejected`` event names the plugin.
"""

from __future__ import annotations

import json
import typing as t

from app.events.record import record_event
from app.hooks import call_hook_named

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.clients.models import Client
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

TARGETS = ("id_token", "access_token", "userinfo")

PROTECTED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "azp",
        "auth_time",
        "at_hash",
        "c_hash",
        "jti",
        "sid",
        "scope",
        "client_id",
        "org_id",
        "org_name",
        "acr",
        "amr",
        "grant_id",
    }
)
"""Claims only Foyer sets (the list in the ``extra_token_claims`` hookspec docstring)."""

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale"),
    "email": ("email", "email_verified"),
}
"""Standard claims released per scope (OpenID Connect Core §5.4) that Foyer holds."""

IDENTITY_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})
"""Scopes about the signed-in user: meaningless for a machine (client_credentials) token."""


JSON_SCALARS = frozenset({str, int, bool, type(None)})
"""Types whose values always serialize (most claims): no trial ``json.dumps`` for them."""


def standard_claims(user: User, scopes: t.Iterable[str]) -> dict[str, t.Any]:
    """The user's standard claims released by ``scopes``; claims without a value are left out."""
    granted = set(scopes)
    claims: dict[str, t.Any] = {}
    if "profile" in granted:
        for name, value in (
            ("name", user.name),
            ("given_name", user.given_name),
            ("family_name", user.family_name),
            ("preferred_username", user.username),
            ("locale", user.locale),
        ):
            if value:
                claims[name] = value
    if "email" in granted and user.email:
        claims["email"] = user.email
        claims["email_verified"] = bool(user.email_verified)
    return claims


def organization_claims(organization: Organization | None) -> dict[str, t.Any]:
    """``org_id`` and ``org_name`` when the authorization involved an organization."""
    if organization is None:
        return {}
    return {"org_id": organization.id, "org_name": organization.name}


def extra_claims(
    target: str,
    *,
    user: User,
    tenant: Tenant,
    organization: Organization | None,
    client: Client,
    scopes: list[str],
) -> dict[str, t.Any]:
    """Claims from the ``extra_token_claims`` hook plus the organization claims.

    Later-registered plugins override earlier ones (builtins are registered first), so a
    plugin can reword a standard claim; protected claims and values that are not JSON are
    dropped with a ``claim_rejected`` event naming the plugin.

    :raises app.hooks.PluginError: when a claims rule raises: the token request fails
        rather than issuing a token without the claims the application expects.
    """
    answers = call_hook_named(
        "extra_token_claims",
        tenant=tenant,
        organization=organization,
        target=target,
        user=user,
        client=client,
        scopes=list(scopes),
    )
    claims: dict[str, t.Any] = {}
    for plugin, answer in reversed(answers):  # builtins answer last: apply them first
        for name, value in _accepted(plugin, answer, target, tenant, organization, client, user):
            claims[name] = value
    claims.update(organization_claims(organization))
    return claims


def _accepted(
    plugin: str,
    answer: t.Any,
    target: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client,
    user: User,
) -> t.Iterator[tuple[str, t.Any]]:
    if not isinstance(answer, dict):
        _reject(plugin, "*", "not_a_dict", target, tenant, organization, client, user)
        return
    for name, value in answer.items():
        if not isinstance(name, str) or name in PROTECTED_CLAIMS:
            _reject(plugin, str(name), "protected", target, tenant, organization, client, user)
            continue
        if type(value) not in JSON_SCALARS:
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                _reject(plugin, name, "not_json", target, tenant, organization, client, user)
                continue
        yield name, value


def _reject(
    plugin: str,
    claim: str,
    reason: str,
    target: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client,
    user: User,
) -> None:
    record_event(
        "claim_rejected",
        tenant=tenant,
        organization=organization,
        user_id=user.id,
        client_id=client.client_id,
        data={"plugin": plugin, "claim": claim[:100], "reason": reason, "target": target},
    )
