"""Example login rule: refuse sign-ins from given address ranges (IPv4 and IPv6 CIDRs).

Settings::

    plugins:
      deny_ip_ranges:
        cidrs: ["203.0.113.0/24", "2001:db8::/32"]

The address is the client's as Foyer sees it (set ``FOYER_TRUSTED_PROXIES`` behind a proxy,
or every sign-in will look like it comes from the proxy).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import typing as t

from flask_babel import lazy_gettext as _l

from app import LoginDecision
from app import hookimpl
from app import plugin_settings

if t.TYPE_CHECKING:
    from app import LoginContext

FOYER_SCOPED = True


@dataclasses.dataclass(frozen=True)
class Settings:
    cidrs: list[str]
    """Ranges to refuse, e.g. ``["10.0.0.0/8", "2001:db8::/32"]``."""

    def __post_init__(self) -> None:
        for cidr in self.cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IP network in CIDR notation") from None

    @property
    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in self.cidrs]


FOYER_SETTINGS = Settings


@hookimpl
def check_login(context: LoginContext) -> LoginDecision | None:
    settings: Settings = plugin_settings()
    if not context.ip:
        return None
    try:
        address = ipaddress.ip_address(context.ip)
    except ValueError:
        return None
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        candidates.append(address.ipv4_mapped)  # ::ffff:10.0.0.1 is 10.0.0.1
    if any(a in network for a in candidates for network in settings.networks):
        return LoginDecision(
            code="ip_denied",
            reason=_l("Signing in from your network is not allowed for this organization."),
        )
    return None
