"""Printing results: one JSON line per figure as it is measured, and a table at the end."""

from __future__ import annotations

import json
import sys
import typing as t

if t.TYPE_CHECKING:
    from bench.load import Result


def figure(
    result: Result,
    *,
    server: str,
    database: str,
    ceiling: float | None = None,
    ceiling_basis: str | None = None,
    note: str | None = None,
) -> dict[str, t.Any]:
    """The JSON record of one measured scenario."""
    per_core = result.ops_per_core_second
    record: dict[str, t.Any] = {
        "scenario": result.name,
        "server": server,
        "database": database,
        "unit": result.unit,
        "ops": result.ops,
        "requests": result.requests,
        "errors": result.errors,
        "wall_s": round(result.wall_seconds, 3),
        "ops_per_s": round(result.ops_per_second, 1),
        "requests_per_s": round(result.requests_per_second, 1),
        "server_cpu_s": round(result.server_cpu_seconds, 3),
        "ops_per_core_s": round(per_core, 1),
        "server_cpu_ms_per_op": round(result.server_ms_per_op, 3),
        "p50_ms": round(result.percentile(50), 2),
        "p95_ms": round(result.percentile(95), 2),
        "p99_ms": round(result.percentile(99), 2),
        "request_p50_ms": round(result.percentile(50, result.request_latencies), 2),
        "request_p99_ms": round(result.percentile(99, result.request_latencies), 2),
        "peak_rss_mib_per_worker": round(result.peak_rss_mib, 1),
    }
    if ceiling:
        record["ceiling_ops_per_core_s"] = round(ceiling, 1)
        record["fraction_of_ceiling"] = round(per_core / ceiling, 3)
        record["ceiling_basis"] = ceiling_basis
    if result.first_error:
        record["first_error"] = result.first_error
    if note:
        record["note"] = note
    record.update(result.extra)
    return record


def emit(record: dict[str, t.Any], out: t.TextIO | None = None) -> None:
    line = json.dumps(record, sort_keys=False)
    print(line, flush=True)
    if out is not None:
        out.write(line + "\n")
        out.flush()


COLUMNS = (
    ("scenario", "scenario", 34),
    ("server", "server", 14),
    ("ops/s", "ops_per_s", 9),
    ("ops/core-s", "ops_per_core_s", 10),
    ("cpu ms/op", "server_cpu_ms_per_op", 9),
    ("p50 ms", "p50_ms", 8),
    ("p95 ms", "p95_ms", 8),
    ("p99 ms", "p99_ms", 8),
    ("RSS MiB", "peak_rss_mib_per_worker", 7),
    ("ceiling", "ceiling_ops_per_core_s", 8),
    ("of ceil.", "fraction_of_ceiling", 8),
    ("errors", "errors", 6),
)


def _cell(value: t.Any, width: int) -> str:
    if isinstance(value, str):
        return value[:width].ljust(width)
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    else:
        text = str(value)
    return text.rjust(width)


def table(records: list[dict[str, t.Any]], file: t.TextIO = sys.stdout) -> None:
    """A readable table of the figures (the JSON lines carry every field)."""
    header = " ".join(
        title.ljust(width) if i < 2 else title.rjust(width)
        for i, (title, _key, width) in enumerate(COLUMNS)
    )
    print(header, file=file)
    print("-" * len(header), file=file)
    for record in records:
        cells = []
        for key, width in ((k, w) for _t, k, w in COLUMNS):
            value = record.get(key)
            if key == "fraction_of_ceiling" and value is not None:
                cells.append(f"{value:.0%}".rjust(width))
            else:
                cells.append(_cell(value, width))
        print(" ".join(cells), file=file)
