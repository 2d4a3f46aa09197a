"""The customer's IdP metadata: inline XML from the connection's options, or fetched from
its URL with a timeout, kept per worker and fetched again once it is older than the
connection's ``metadata_refresh``. When a refresh fails, the copy in hand keeps serving
(and the failure is logged) so that an IdP's short outage does not stop sign-ins."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import typing as t

from flask import current_app

from app.connections.strategies import StrategyUnavailable
from app.observability.metrics import timed_upstream
from app.security.outbound import OutboundRefused
from app.security.outbound import check_url

if t.TYPE_CHECKING:
    from app.connections.models import Connection

log = logging.getLogger(__name__)

DEFAULT_REFRESH = 6 * 3600
"""Seconds a fetched copy serves before it is fetched again (option ``metadata_refresh``)."""
DEFAULT_TIMEOUT = 5.0
"""Seconds to wait for the IdP's metadata URL (option ``metadata_timeout``)."""
MAX_BYTES = 2 * 1024 * 1024
"""Larger answers are refused: a metadata document of one IdP is a few kilobytes."""
_CACHE = "foyer.saml_idp_metadata"
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Fetched:
    xml: str
    fetched_at: float


def _cache() -> dict[str, Fetched]:
    return t.cast(dict[str, Fetched], current_app.extensions.setdefault(_CACHE, {}))


def fetch(url: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """GET the metadata document. :raises StrategyUnavailable: unreachable, slow, not 200,
    too large, or not XML."""
    import requests  # memory: 5 MiB, loaded by the first outbound call

    try:
        check_url(url)
    except OutboundRefused as error:
        raise StrategyUnavailable(f"IdP metadata address refused: {error}") from None
    with timed_upstream("saml", "metadata"):
        try:
            with requests.get(url, timeout=timeout, stream=True, allow_redirects=False) as answer:
                if answer.status_code != 200:
                    raise StrategyUnavailable(f"IdP metadata answered HTTP {answer.status_code}")
                body = answer.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as error:
            raise StrategyUnavailable(f"IdP metadata unreachable: {type(error).__name__}") from None
    if len(body) > MAX_BYTES:
        raise StrategyUnavailable("IdP metadata is too large")
    text = body.decode("utf-8", "replace").strip()
    if not text.startswith("<"):
        raise StrategyUnavailable("IdP metadata is not XML")
    return text


def idp_metadata(connection: Connection, *, refresh: bool = False) -> str:
    """The IdP metadata XML of ``connection`` (``idp_metadata_xml``, or from
    ``idp_metadata_url``).

    :param refresh: fetch again now whatever the age of the copy in hand.
    :raises StrategyUnavailable: when there is none to be had.
    """
    options = connection.options or {}
    inline = options.get("idp_metadata_xml")
    if inline:
        return str(inline)
    url = options.get("idp_metadata_url")
    if not url:
        raise StrategyUnavailable("the connection names no IdP metadata")
    url = str(url)
    max_age = float(options.get("metadata_refresh", DEFAULT_REFRESH))
    timeout = float(options.get("metadata_timeout", DEFAULT_TIMEOUT))
    cached = _cache().get(url)
    if cached is not None and not refresh and time.time() - cached.fetched_at < max_age:
        return cached.xml
    try:
        xml = fetch(url, timeout)
    except StrategyUnavailable:
        if cached is None:
            raise
        log.warning("IdP metadata refresh failed for %s; serving the copy in hand", url)
        return cached.xml
    with _LOCK:
        _cache()[url] = Fetched(xml, time.time())
    return xml


def forget(connection: Connection) -> None:
    """Drop the copy in hand (the next use fetches again)."""
    url = (connection.options or {}).get("idp_metadata_url")
    if url:
        _cache().pop(str(url), None)
