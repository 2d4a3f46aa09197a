"""Registering clients (applications) of a tenant."""

from __future__ import annotations

import re
import secrets
import typing as t
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.accounts.consent import requires_consent
from app.clients.models import Client
from app.db import session
from app.rowcache import row_cache
from app.security.crypto import constant_time_equal
from app.security.crypto import token_hash

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
MIN_SECRET_LENGTH = 32


class ClientInvalid(ValueError):
    """A client registration is refused; the message names the field."""


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
PRIVATE_USE_SCHEME = re.compile(r"[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+")
"""A native app's scheme, in reverse-domain form (RFC 8252 §7.1: ``com.example.app``)."""
URI_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
"""What RFC 3986 lets a URI hold: no space, control, non-ASCII, backslash, quote or brace."""
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_REDIRECT_URI_LENGTH = 2048


def validate_redirect_uri(uri: str, field: str = "redirect_uris") -> str:
    """Allow-list (RFC 9700 §2.1 and §4.1, RFC 8252 §7): https; http only for loopback
    (127.0.0.1, [::1], localhost); a private-use scheme in reverse-domain form for native
    apps. Never a user name or password, a fragment, or a character a URI cannot hold."""

    def refuse(reason: str) -> t.NoReturn:
        raise ClientInvalid(f"{field}: {uri!r} {reason}")

    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        refuse(f"is longer than {MAX_REDIRECT_URI_LENGTH} characters")
    if not URI_CHARACTERS.fullmatch(uri) or BAD_PERCENT.search(uri):
        refuse(
            "holds a character a URI cannot (a space, a control or non-ASCII character, a "
            "backslash, a quote...); percent-encode it"
        )
    if "#" in uri:
        refuse("must not contain a fragment (#)")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        refuse("is not a valid URI")
    if "@" in parts.netloc:
        refuse("must not contain a user name or password (user@host)")
    if parts.scheme == "https":
        if not parts.hostname:
            refuse("has no host")
    elif parts.scheme == "http":
        if parts.hostname not in LOOPBACK_HOSTS:
            refuse("must be https (http only for 127.0.0.1, [::1] or localhost)")
    elif not PRIVATE_USE_SCHEME.fullmatch(parts.scheme):
        refuse(
            "must be https, http on a loopback address, or a native app's private-use "
            "scheme in reverse-domain form (com.example.app:/callback)"
        )
    return uri


def validate_backchannel_logout_uri(uri: str) -> str:
    """Where logout tokens are posted: an absolute https URL (http only for loopback),
    without fragment or credentials (Back-Channel Logout 1.0 §2.2)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or parts.username or parts.password:
        raise ClientInvalid(f"backchannel_logout_uri: {uri!r} must be an https URL")
    if any(ch.isspace() for ch in uri):
        raise ClientInvalid(f"backchannel_logout_uri: {uri!r} contains spaces")
    return validate_redirect_uri(uri, "backchannel_logout_uri")


LOGOUT_REVOKES_REFRESH_TOKENS = "logout_revokes_refresh_tokens"
BACKCHANNEL_LOGOUT_URI = "backchannel_logout_uri"
BACKCHANNEL_LOGOUT_SESSION_REQUIRED = "backchannel_logout_session_required"
"""Keys of ``Client.settings`` about the end of a session."""


def logout_revokes_refresh_tokens(client: Client) -> bool:
    """Whether the end of a session revokes the client's refresh-token families from it:
    the client's setting, else on for first-party clients (those that ask no consent)."""
    value = (client.settings or {}).get(LOGOUT_REVOKES_REFRESH_TOKENS)
    return value if isinstance(value, bool) else not requires_consent(client)


API_ORGANIZATION = "api_organization"
"""Key of ``Client.settings``: the id of the one organization a management API client may
manage (the CLI and the API both bind clients through it)."""


def api_organization_id(client: Client) -> str | None:
    """The organization a management API client is bound to, if any."""
    value = (client.settings or {}).get(API_ORGANIZATION)
    return value if isinstance(value, str) and value else None


def backchannel_logout_uri(client: Client) -> str | None:
    value = (client.settings or {}).get(BACKCHANNEL_LOGOUT_URI)
    return value if isinstance(value, str) and value else None


def validate_client(
    token_endpoint_auth_method: str,
    grant_types: t.Sequence[str],
    redirect_uris: t.Sequence[str],
    post_logout_redirect_uris: t.Sequence[str],
    require_pkce: bool = True,
) -> None:
    """Check a registration's auth method, grants, PKCE and URIs (create and update share
    it)."""
    if token_endpoint_auth_method not in AUTH_METHODS:
        raise ClientInvalid(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
    if token_endpoint_auth_method == "none" and not require_pkce:
        raise ClientInvalid("require_pkce: a public client (auth method none) must use PKCE")
    for grant in grant_types:
        if grant not in GRANT_TYPES:
            raise ClientInvalid(f"grant_types: {grant!r} is not supported")
    if token_endpoint_auth_method == "none" and "client_credentials" in grant_types:
        raise ClientInvalid("grant_types: a public client cannot use client_credentials")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ClientInvalid("redirect_uris: required for the authorization_code grant")
    for uri in redirect_uris:
        validate_redirect_uri(uri)
    for uri in post_logout_redirect_uris:
        validate_redirect_uri(uri, "post_logout_redirect_uris")


def validate_client_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise ClientInvalid(f"secret: use at least {MIN_SECRET_LENGTH} characters")


def hash_client_secret(secret: str) -> str:
    """SHA-256: client secrets are generated (or required) with >= 256 bits, so a slow hash
    adds nothing but latency on every token request."""
    return token_hash(secret)


def check_client_secret(client: Client, secret: str) -> bool:
    if not client.secret_hash:
        return False
    return constant_time_equal(client.secret_hash, hash_client_secret(secret))


def find_client(client_id: str) -> Client | None:
    return session.scalar(sa.select(Client).where(Client.client_id == client_id))


CLIENT_OF_TENANT = sa.select(Client).where(
    Client.client_id == sa.bindparam("client_id"), Client.tenant_id == sa.bindparam("tenant_id")
)
"""Built once (authorize, token and login pages run it; building cost more than running)."""


def tenant_client(tenant_id: str, client_id: str) -> Client | None:
    """The tenant's client with this id, from the worker's row cache (:mod:`app.rowcache`)."""
    return row_cache().get(
        ("client", tenant_id, client_id),
        lambda s: s.scalar(CLIENT_OF_TENANT, {"client_id": client_id, "tenant_id": tenant_id}),
    )


def create_client(
    tenant: Tenant,
    name: str,
    *,
    client_id: str | None = None,
    secret: str | None = None,
    token_endpoint_auth_method: str = "client_secret_basic",
    redirect_uris: t.Sequence[str] = (),
    post_logout_redirect_uris: t.Sequence[str] = (),
    grant_types: t.Sequence[str] = ("authorization_code", "refresh_token"),
    scope: str = "openid profile email offline_access",
    require_pkce: bool = True,
    **fields: t.Any,
) -> tuple[Client, str | None]:
    """Register a client; returns it with its secret in clear (shown once, stored hashed).

    :param require_pkce: False lets a legacy confidential client skip PKCE.
    """
    validate_client(
        token_endpoint_auth_method,
        grant_types,
        redirect_uris,
        post_logout_redirect_uris,
        require_pkce,
    )
    uri = (fields.get("settings") or {}).get(BACKCHANNEL_LOGOUT_URI)
    if uri is not None:
        validate_backchannel_logout_uri(uri)
    public = token_endpoint_auth_method == "none"
    if not public:
        secret = secret or secrets.token_urlsafe(32)
        validate_client_secret(secret)
    else:
        secret = None
    metadata = fields.pop("metadata", None)
    client = Client(
        tenant_id=tenant.id,
        client_id=client_id or secrets.token_urlsafe(16),
        name=name,
        secret_hash=hash_client_secret(secret) if secret else None,
        token_endpoint_auth_method=token_endpoint_auth_method,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_redirect_uris),
        grant_types=list(grant_types),
        scope=scope,
        **fields,
    )
    if not require_pkce:
        client.settings = {**(client.settings or {}), "require_pkce": False}
    if metadata is not None:
        client.metadata = metadata
    session.add(client)
    session.flush()
    return client, secret
