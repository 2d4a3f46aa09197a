"""Which addresses Foyer may fetch from when an administrator names a URL (IdP metadata,
OpenID discovery, JWKS, token and userinfo endpoints): https to public addresses only, so
that a connection's options cannot make Foyer reach its own network (SSRF). Networks or
host names in the ``outbound_allow`` setting are exempt (an IdP inside the company network,
or the upstreams of the test suite on loopback), and may also be reached over plain http."""

from __future__ import annotations

import ipaddress
import socket
import typing as t
from urllib.parse import urlsplit

from flask import current_app
from flask import has_app_context


class OutboundRefused(ValueError):
    """The URL may not be fetched: its scheme, or an address its host resolves to."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed() -> tuple[list[Network], set[str]]:
    """The ``outbound_allow`` setting: its networks and its host names."""
    raw = ""
    if has_app_context():
        raw = str(getattr(current_app.extensions.get("foyer.settings"), "outbound_allow", ""))
    networks: list[Network] = []
    names: set[str] = set()
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return networks, names


def _addresses(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundRefused(f"{host} does not resolve ({type(error).__name__})") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str) -> None:
    """Refuse ``url`` unless it is https to public addresses (or allow-listed).

    :raises OutboundRefused: naming what is wrong (shown to administrators only).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise OutboundRefused("only https:// URLs are fetched")
    networks, names = allowed()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused("bad port") from None
    addresses = _addresses(host, port)
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve")
    listed = host in names or all(
        any(address in network for network in networks) for address in addresses
    )
    if listed:
        return
    if parts.scheme != "https":
        raise OutboundRefused("only https:// URLs are fetched (http only for outbound_allow)")
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise OutboundRefused(
                f"{host} resolves to a private, loopback or link-local address ({address}); "
                "list it in outbound_allow to fetch from it"
            )


def is_allowed(url: str) -> bool:
    """:func:`check_url` as a yes/no."""
    try:
        check_url(url)
    except OutboundRefused:
        return False
    return True


__all__: t.Sequence[str] = ("OutboundRefused", "check_url", "is_allowed")
