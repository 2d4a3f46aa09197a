"""The options of an ``oidc`` connection, checked once: by ``foyer apply`` (every problem
named with its field) and each time the strategy is built.

Only ``issuer`` and ``client_id`` are required; the client secret (or private key) is a
connection secret, stored encrypted.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t
from urllib.parse import urlsplit

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""ID token algorithms accepted: asymmetric only (never ``none``, never a shared secret)."""
PROMPTS = ("login", "consent", "select_account")
ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "end_session_endpoint",
)
DEFAULT_MAPPING = {
    "email": "email",
    "email_verified": "email_verified",
    "name": "name",
    "given_name": "given_name",
    "family_name": "family_name",
    "locale": "locale",
    "groups": "groups",
}
"""Profile field -> upstream claim; ``options.mapping`` overrides entries (``null`` drops one)."""
KNOWN = {
    "issuer",
    "client_id",
    "scope",
    "prompt",
    "auth_method",
    "userinfo",
    "mapping",
    "app_metadata",
    "assume_email_verified",
    "login_hint",
    "timeout",
    "discovery_ttl",
    "algorithms",
    "link_to",
    "private_key_kid",
    "upstream_logout",
    *ENDPOINTS,
}


class OptionsError(ValueError):
    """The options of an ``oidc`` connection do not fit; ``problems`` are (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class OidcOptions:
    issuer: str
    client_id: str
    scope: str = "openid profile email"
    prompt: tuple[str, ...] = ()
    auth_method: str = "client_secret_basic"
    userinfo: bool = False
    mapping: dict[str, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MAPPING))
    app_metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    """``app_metadata`` field -> upstream claim."""
    assume_email_verified: bool = False
    """The IdP only ever asserts addresses it verified (a company directory) although it
    sends no ``email_verified`` claim."""
    login_hint: bool = True
    timeout: float = 5.0
    discovery_ttl: int = 3600
    algorithms: tuple[str, ...] = ()
    """ID token algorithms (default: what discovery lists, among the accepted ones)."""
    private_key_kid: str | None = None
    endpoints: dict[str, str] = dataclasses.field(default_factory=dict)
    """Explicit endpoints, preferred over the discovery document's."""
    upstream_logout: bool = False
    """Signing out of Foyer also signs out at the IdP (RP-initiated logout); off by default:
    a B2B user signing out of one application rarely means to leave their company's IdP."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: object) -> str | None:
    """A message when ``value`` is not an https URL (http only on loopback), else None."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return "must be an https:// URL"
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return None
    return "must be an https:// URL (http only on this machine's loopback)"


def parse_options(options: t.Mapping[str, t.Any] | None) -> OidcOptions:
    """Check and read the options of an ``oidc`` connection.

    :raises OptionsError: naming every field that does not fit.
    """
    options = dict(options or {})
    problems: list[tuple[str, str]] = []

    def problem(field: str, message: str) -> None:
        problems.append((field, message))

    for key in sorted(set(options) - KNOWN):
        problem(key, "unknown option")
    issuer = options.get("issuer")
    if (message := check_url(issuer)) is not None:
        problem("issuer", message)
    client_id = options.get("client_id")
    if not isinstance(client_id, str) or not client_id or len(client_id) > 255:
        problem("client_id", "required: the client id registered at the identity provider")
    scope = options.get("scope", "openid profile email")
    if not isinstance(scope, str) or "openid" not in scope.split():
        problem("scope", "must be a space-separated list that includes openid")
    prompt = options.get("prompt") or ""
    if not isinstance(prompt, str) or any(p not in PROMPTS for p in prompt.split()):
        problem("prompt", f"one or more of {', '.join(PROMPTS)}")
        prompt = ""
    auth_method = options.get("auth_method", "client_secret_basic")
    if auth_method not in AUTH_METHODS:
        problem("auth_method", f"one of {', '.join(AUTH_METHODS)}")
    endpoints = {}
    for key in ENDPOINTS:
        if options.get(key) is not None:
            if (message := check_url(options[key])) is not None:
                problem(key, message)
            else:
                endpoints[key] = str(options[key])
    for key in ("userinfo", "assume_email_verified", "login_hint", "upstream_logout"):
        if key in options and not isinstance(options[key], bool):
            problem(key, "true or false")
    mapping = dict(DEFAULT_MAPPING)
    raw_mapping = options.get("mapping") or {}
    if not isinstance(raw_mapping, dict):
        problem("mapping", "a mapping of profile field to claim name")
        raw_mapping = {}
    for field, claim in raw_mapping.items():
        if field not in DEFAULT_MAPPING:
            problem(f"mapping.{field}", f"not a profile field ({', '.join(DEFAULT_MAPPING)})")
        elif claim is None:
            mapping.pop(field, None)
        elif not isinstance(claim, str) or not claim:
            problem(f"mapping.{field}", "a claim name (or null to ignore the field)")
        else:
            mapping[field] = claim
    app_metadata = options.get("app_metadata") or {}
    if not isinstance(app_metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in app_metadata.items()
    ):
        problem("app_metadata", "a mapping of app_metadata field to claim name")
        app_metadata = {}
    timeout = options.get("timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        problem("timeout", "seconds, more than 0 and at most 30")
        timeout = 5
    ttl = options.get("discovery_ttl", 3600)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 86400:
        problem("discovery_ttl", "seconds, from 60 to 86400")
        ttl = 3600
    algorithms = options.get("algorithms") or []
    if not isinstance(algorithms, list) or any(a not in SIGNING_ALGORITHMS for a in algorithms):
        problem("algorithms", f"a list of {', '.join(SIGNING_ALGORITHMS)}")
        algorithms = []
    link_to = options.get("link_to") or []
    if not isinstance(link_to, list) or not all(isinstance(n, str) for n in link_to):
        problem("link_to", "a list of connection names")
    kid = options.get("private_key_kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        problem("private_key_kid", "the key id the identity provider knows the key by")
    if problems:
        raise OptionsError(problems)
    return OidcOptions(
        issuer=t.cast(str, issuer),
        client_id=t.cast(str, client_id),
        scope=scope,
        prompt=tuple(prompt.split()),
        auth_method=auth_method,
        userinfo=bool(options.get("userinfo", False)),
        mapping=mapping,
        app_metadata=dict(app_metadata),
        assume_email_verified=bool(options.get("assume_email_verified", False)),
        login_hint=bool(options.get("login_hint", True)),
        timeout=float(timeout),
        discovery_ttl=int(ttl),
        algorithms=tuple(algorithms),
        private_key_kid=kid,
        endpoints=endpoints,
        upstream_logout=bool(options.get("upstream_logout", False)),
    )


def check_secrets(auth_method: str, secrets: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """What the client authentication needs from the connection's secrets."""
    if auth_method == "private_key_jwt":
        if not secrets.get("private_key"):
            return [("secrets.private_key", "private_key_jwt needs a private key (PEM)")]
        return []
    if not secrets.get("client_secret"):
        return [("secrets.client_secret", f"{auth_method} needs the client secret")]
    return []
