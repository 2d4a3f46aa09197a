"""The peer table of ``python -m bench --peers``: medians of interleaved rounds, the ratios
per core against the peers, and the issue's targets each said met or not met.

Everything here is arithmetic on figures already measured (no timing), so the verdicts can
be checked with made-up numbers.
"""

from __future__ import annotations

import statistics
import typing as t

PEER_SCENARIOS = (
    ("sso_sign_in", "SSO round trip (authorize + token)"),
    ("client_credentials", "client_credentials"),
    ("refresh_rotation", "refresh rotation"),
    ("full_sign_in", "full sign-in (Foyer: beyond the hash)"),
    ("login_page", "login page"),
    ("userinfo", "userinfo"),
    ("jwks", "JWKS"),
    ("discovery", "discovery"),
)
"""Every scenario measured against the peers, in the table's order."""

TOKEN_RATIO = 0.8
TOKEN_RATIO_STRETCH = 1.0
CEILING_SHARE = 0.8
CEILING_SHARE_STRETCH = 0.9
PAGE_MS = 1.0
METADATA_PER_CORE_S = 5000.0
PEAK_RSS_MIB = 150.0


class Verdict(t.NamedTuple):
    target: str
    figure: str
    met: bool | None
    """None: not measured in this run (the figure says why)."""

    def line(self) -> str:
        word = {True: "met", False: "NOT MET", None: "not judged"}[self.met]
        return f"[{word}] {self.target}: {self.figure}"


def median_by(
    records: t.Iterable[t.Mapping[str, t.Any]], key: t.Callable[[t.Mapping[str, t.Any]], t.Any]
) -> dict[t.Any, float]:
    """Median server CPU ms per operation of the rounds, per ``key(record)``."""
    grouped: dict[t.Any, list[float]] = {}
    for record in records:
        if record.get("ops"):
            grouped.setdefault(key(record), []).append(record["server_cpu_ms_per_op"])
    return {k: statistics.median(v) for k, v in grouped.items()}


def non_hash_ms(full_sign_in_ms: float, argon2_ms: float) -> float:
    """The CPU of a password sign-in beyond its one argon2id verification."""
    return max(full_sign_in_ms - argon2_ms, 0.0)


def ceiling_share(full_sign_in_ms: float, argon2_ms: float) -> float:
    """The argon2id ceiling reached: hash CPU / whole flow CPU (1.0 = nothing but the hash)."""
    return argon2_ms / full_sign_in_ms if full_sign_in_ms else 0.0


def per_core_ratio(foyer_ms: float, peer_ms: float) -> float:
    """Foyer / peer in operations per busy core (the inverse of CPU per operation)."""
    return peer_ms / foyer_ms if foyer_ms else 0.0


def compared_ms(scenario: str, foyer_ms: float, argon2_ms: float) -> float:
    """Foyer's figure set beside the peer's: the sign-in without its hash (the peer has
    none), every other scenario whole."""
    return non_hash_ms(foyer_ms, argon2_ms) if scenario == "full_sign_in" else foyer_ms


def verdicts(
    foyer: t.Mapping[str, float],
    peer: t.Mapping[str, float],
    *,
    argon2_ms: float,
    peak_rss_mib: float | None,
    peer_name: str = "oidc-provider",
    transport: str = "",
) -> list[Verdict]:
    """The issue's targets, each met or not, from median CPU ms per operation by scenario."""
    found: list[Verdict] = []
    where = f", {transport}" if transport else ""
    for scenario, label in (
        ("sso_sign_in", "SSO round trip"),
        ("client_credentials", "client_credentials"),
        ("refresh_rotation", "refresh rotation"),
    ):
        ours, theirs = foyer.get(scenario), peer.get(scenario)
        for want, kind in ((TOKEN_RATIO, ""), (TOKEN_RATIO_STRETCH, " (stretch)")):
            target = f"{label} >= {want:.1f}x {peer_name} per core{kind}"
            if not ours or not theirs:
                found.append(Verdict(target, "not measured in this run", None))
                continue
            ratio = per_core_ratio(ours, theirs)
            figure = (
                f"{ratio:.2f}x (Foyer {ours:.2f} ms, {peer_name} {theirs:.2f} ms of CPU per "
                f"op, peer data in memory{where})"
            )
            found.append(Verdict(target, figure, ratio >= want))
    full = foyer.get("full_sign_in")
    for want, kind in ((CEILING_SHARE, ""), (CEILING_SHARE_STRETCH, " (stretch)")):
        target = f"full password sign-in >= {want:.0%} of the argon2id ceiling{kind}"
        if not full or not argon2_ms:
            found.append(Verdict(target, "not measured in this run", None))
            continue
        share = ceiling_share(full, argon2_ms)
        figure = (
            f"{share:.0%} (whole flow {full:.1f} ms, argon2id {argon2_ms:.1f} ms, beyond the "
            f"hash {non_hash_ms(full, argon2_ms):.1f} ms; the target allows "
            f"{argon2_ms / want - argon2_ms:.1f} ms)"
        )
        found.append(Verdict(target, figure, share >= want))
    page = foyer.get("login_page")
    target = f"hosted page (themed, localized, branded) <= {PAGE_MS:g} ms of CPU"
    if page:
        found.append(Verdict(target, f"{page:.2f} ms", page <= PAGE_MS))
    else:
        found.append(Verdict(target, "not measured in this run", None))
    for scenario, label in (("discovery", "discovery"), ("jwks", "JWKS")):
        ms = foyer.get(scenario)
        target = f"{label} >= {METADATA_PER_CORE_S:,.0f} per second per core"
        if ms:
            per_s = 1000 / ms
            found.append(
                Verdict(
                    target, f"{per_s:,.0f}/s per core ({ms:.3f} ms)", per_s >= METADATA_PER_CORE_S
                )
            )
        else:
            found.append(Verdict(target, "not measured in this run", None))
    target = f"peak memory per worker < {PEAK_RSS_MIB:.0f} MiB"
    if peak_rss_mib:
        found.append(Verdict(target, f"{peak_rss_mib:.1f} MiB", peak_rss_mib < PEAK_RSS_MIB))
    else:
        found.append(Verdict(target, "not measured in this run", None))
    return found


NOT_JUDGED_HERE = (
    Verdict(
        "no figure worse on PostgreSQL + Redis than the database's round trips explain",
        "compare this table with the other database's (one run measures one database; "
        "bench/README.md keeps both)",
        None,
    ),
    Verdict(
        "flat with data (10 to 10,000 organizations, 100 to 1,000,000 users)",
        "not measured by --peers (see the bench's scale figures)",
        None,
    ),
)


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
