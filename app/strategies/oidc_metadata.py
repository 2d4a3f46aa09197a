"""What an upstream OpenID provider publishes, fetched with timeouts and cached per worker:
its discovery document and its signing keys (JWKS).

A document is used for ``discovery_ttl`` seconds, then fetched again; when the refresh
fails, the last good one keeps serving for up to :data:`STALE_FOR` (the IdP's endpoints
rarely move; an IdP whose discovery is down for a moment should not stop sign-ins). Keys
follow the same rule, and a token signed with a key id the cached set does not hold makes
one refetch, at most once per :data:`KID_REFETCH_INTERVAL` per key set (a stream of
forged key ids cannot make Foyer hammer the IdP).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import typing as t

from joserfc.jwk import KeySet

from app.connections.strategies import UpstreamError
from app.observability.metrics import timed_upstream
from app.security.outbound import OutboundRefused
from app.security.outbound import check_url

if t.TYPE_CHECKING:
    import requests

STALE_FOR = 86400
"""Seconds a cached document or key set may serve while its refresh fails."""
KID_REFETCH_INTERVAL = 60.0
"""Seconds between two refetches of a key set caused by an unknown key id."""
MAX_DOCUMENT = 512 * 1024
"""Bytes read at most from an upstream JSON answer."""
USER_AGENT = "Foyer (OpenID Connect federation)"


@dataclasses.dataclass
class _Cached:
    value: t.Any
    fetched_at: float
    forced_at: float = 0.0


_cache: dict[tuple[str, str], _Cached] = {}
_lock = threading.Lock()


def clear() -> None:
    """Forget every cached document and key set (tests, and ``foyer`` commands)."""
    with _lock:
        _cache.clear()


def allowed(url: str, what: str) -> str:
    """``url``, when Foyer may fetch it (:func:`app.security.outbound.check_url`).

    :raises UpstreamError: ``upstream_misconfigured`` naming what was refused.
    """
    try:
        check_url(url)
    except OutboundRefused as exc:
        raise UpstreamError("upstream_misconfigured", f"{what} {url}: {exc}") from None
    return url


def get_json(
    url: str,
    timeout: float,
    headers: t.Mapping[str, str] | None = None,
    what: str = "document",
    *,
    strategy: str = "oidc",
    call: str | None = None,
) -> dict[str, t.Any]:
    """GET a JSON object from the IdP, timed in the upstream latency histogram.

    :param strategy: The calling strategy (the histogram's ``strategy`` label).
    :param call: The histogram's ``call`` label (default: ``what``).
    :raises UpstreamError: ``upstream_unavailable`` (unreachable, slow, 5xx) or
        ``upstream_misconfigured`` (another status, not a JSON object).
    """
    import requests  # memory: 5 MiB, loaded by the first outbound call

    allowed(url, what)
    with timed_upstream(strategy, call or what) as timing:
        try:
            response = requests.get(
                url,
                timeout=(timeout, timeout),
                headers={
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                    **(headers or {}),
                },
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            raise UpstreamError(
                "upstream_unavailable", f"{what} {url}: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            timing.failed()
        return read_json(response, what)


def read_json(response: requests.Response, what: str) -> dict[str, t.Any]:
    """The JSON object of an upstream answer (see :func:`get_json` for the errors)."""
    import requests  # memory: 5 MiB, loaded by the first outbound call

    if response.status_code >= 500:
        response.close()
        raise UpstreamError("upstream_unavailable", f"{what}: HTTP {response.status_code}")
    try:  # read at most MAX_DOCUMENT bytes, however much the IdP sends
        body = b""
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_DOCUMENT:
                raise UpstreamError("upstream_misconfigured", f"{what}: answer too large")
    except requests.RequestException as exc:
        raise UpstreamError("upstream_unavailable", f"{what}: {type(exc).__name__}") from exc
    finally:
        response.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(
            "upstream_misconfigured", f"{what}: HTTP {response.status_code}, not a JSON object"
        )
    if response.status_code != 200 and "error" not in data:
        raise UpstreamError("upstream_misconfigured", f"{what}: HTTP {response.status_code}")
    return data


def _cached(
    key: tuple[str, str], ttl: float, fetch: t.Callable[[], t.Any], force: bool = False
) -> t.Any:
    now = time.monotonic()
    with _lock:
        entry = _cache.get(key)
    if entry is not None and not force and now - entry.fetched_at < ttl:
        return entry.value
    try:
        value = fetch()
    except UpstreamError:
        if entry is not None and now - entry.fetched_at < STALE_FOR:
            return entry.value  # the last good one, while the IdP recovers
        raise
    with _lock:
        _cache[key] = _Cached(value, now, now if force else (entry.forced_at if entry else 0.0))
    return value


def discovery(
    issuer: str,
    ttl: float,
    timeout: float,
    also: t.Collection[str] = (),
    strategy: str = "oidc",
) -> dict[str, t.Any]:
    """The issuer's discovery document (its ``issuer`` must be exactly ``issuer``, or one of
    ``also``: a multi-tenant IdP names a template such as ``…/{tenantid}/v2.0``)."""

    def fetch() -> dict[str, t.Any]:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = get_json(url, timeout, what="discovery", strategy=strategy)
        if "error" in document:
            raise UpstreamError("upstream_misconfigured", f"discovery: {document['error']}")
        if document.get("issuer") != issuer and document.get("issuer") not in also:
            raise UpstreamError(
                "upstream_misconfigured",
                f"discovery names issuer {str(document.get('issuer'))[:200]!r}, not {issuer!r}",
            )
        return document

    return t.cast("dict[str, t.Any]", _cached(("discovery", issuer), ttl, fetch))


def key_set(
    jwks_uri: str,
    ttl: float,
    timeout: float,
    unknown_kid: bool = False,
    strategy: str = "oidc",
) -> KeySet:
    """The IdP's signing keys; ``unknown_kid`` asks for one refetch (rate limited)."""

    def fetch() -> KeySet:
        document = get_json(jwks_uri, timeout, what="jwks", strategy=strategy)
        try:
            keys = [k for k in document.get("keys", []) if k.get("use", "sig") == "sig"]
            return KeySet.import_key_set({"keys": keys})
        except Exception as exc:  # noqa: BLE001 - any malformed key is the IdP's problem
            raise UpstreamError("upstream_misconfigured", f"jwks: {exc}") from exc

    key = ("jwks", jwks_uri)
    force = False
    if unknown_kid:
        with _lock:
            entry = _cache.get(key)
            now = time.monotonic()
            force = entry is None or now - entry.forced_at >= KID_REFETCH_INTERVAL
            if force and entry is not None:
                entry.forced_at = now  # counted even if the refetch fails
    return t.cast(KeySet, _cached(key, ttl, fetch, force=force))
