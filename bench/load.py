"""The load generator: a few threads, each a client running one scenario step after another.

A run is bounded by time and by a number of operations. Before and after it the server's CPU
time is read, so the result states operations per wall second and per server CPU second.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from bench.server import Server

State = t.Any
Step = t.Callable[[State], int]
"""One operation (a sign-in, a token...); returns how many HTTP requests it made."""


@dataclasses.dataclass
class Result:
    """What one scenario measured."""

    name: str
    ops: int
    requests: int
    wall_seconds: float
    server_cpu_seconds: float
    latencies: list[float]
    """Seconds per operation (a whole sign-in for the sign-in scenarios)."""
    request_latencies: list[float]
    peak_rss_mib: float
    errors: int
    first_error: str | None = None
    unit: str = "op"
    extra: dict[str, t.Any] = dataclasses.field(default_factory=dict)

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def ops_per_core_second(self) -> float:
        """Operations per busy server core: operations / server CPU seconds."""
        return self.ops / self.server_cpu_seconds if self.server_cpu_seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def server_ms_per_op(self) -> float:
        return 1000 * self.server_cpu_seconds / self.ops if self.ops else 0.0

    def percentile(self, q: float, values: list[float] | None = None) -> float:
        values = sorted(self.latencies if values is None else values)
        if not values:
            return 0.0
        if len(values) == 1:
            return values[0] * 1000
        return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def run(
    name: str,
    server: Server,
    setup: t.Callable[[int], State],
    step: Step,
    *,
    concurrency: int,
    seconds: float,
    max_ops: int,
    warmup_ops: int = 0,
    unit: str = "op",
) -> Result:
    """Run ``step`` from ``concurrency`` threads for ``seconds`` or ``max_ops`` operations.

    ``setup(i)`` builds thread i's state (a client with its cookies) before the clock starts;
    ``warmup_ops`` operations per thread run before it too (compiled templates, key caches).
    """
    states = [setup(i) for i in range(concurrency)]
    for state in states:
        for _ in range(warmup_ops):
            step(state)
    lock = threading.Lock()
    counters = {"ops": 0, "requests": 0, "errors": 0, "started": 0}
    latencies: list[float] = []
    first_error: list[str] = []
    stop_at = [0.0]

    def worker(state: State) -> None:
        while True:
            with lock:
                if counters["started"] >= max_ops or time.perf_counter() >= stop_at[0]:
                    return
                counters["started"] += 1
            started = time.perf_counter()
            try:
                made = step(state)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    counters["errors"] += 1
                    if not first_error:
                        first_error.append(f"{type(exc).__name__}: {exc}")
                    if counters["errors"] > max(20, max_ops // 10):
                        stop_at[0] = 0.0  # a broken scenario: stop early, report it
                continue
            elapsed = time.perf_counter() - started
            with lock:
                counters["ops"] += 1
                counters["requests"] += made
                latencies.append(elapsed)

    for state in states:
        getattr(state, "latencies", []).clear()
    server.reset_peaks()
    cpu_before = server.cpu()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = server.cpu() - cpu_before
    request_latencies = [x for s in states for x in getattr(s, "latencies", [])]
    return Result(
        name=name,
        ops=counters["ops"],
        requests=counters["requests"],
        wall_seconds=wall,
        server_cpu_seconds=cpu,
        latencies=latencies,
        request_latencies=request_latencies,
        peak_rss_mib=server.peak_rss(),
        errors=counters["errors"],
        first_error=first_error[0] if first_error else None,
        unit=unit,
    )
