"""``python -m bench.profile``: sample a serving worker with py-spy while a scenario runs.

One worker (granian's, as ``foyer run`` serves, or gunicorn sync's) serves the scenario;
py-spy samples it (``--format raw``: collapsed stacks) and the summary lists where the
worker's time goes: the heaviest functions by inclusive time, Foyer's own functions first.
``--keep`` keeps the stacks for a flame graph tool.

    .venv/bin/python -m bench.profile sso_sign_in client_credentials login_page jwks
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import load
from bench import scenarios
from bench import seed
from bench.__main__ import Bench
from bench.__main__ import parse_args
from bench.server import children

PROFILED = {
    "full_sign_in": lambda t, port: scenarios.full_sign_in(t),
    "sso_sign_in": lambda t, port: scenarios.sso_sign_in(t),
    "client_credentials": lambda t, port: scenarios.client_credentials(t),
    "refresh_rotation": lambda t, port: scenarios.refresh_rotation(t),
    "discovery": lambda t, port: scenarios.fetch(t, t.discovery_path),
    "jwks": lambda t, port: scenarios.fetch(t, t.jwks_path),
    "login_page": lambda t, port: scenarios.login_page(t, f"acme.localhost:{port}", "fr"),
}


def summarize(raw: Path, top: int) -> str:
    """Inclusive and self sample counts per function from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():  # a frame name py-spy broke across lines
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples"]

    def show(title: str, counter: collections.Counter[str], keep: str = "") -> None:
        lines.append(title)
        shown = 0
        for frame, n in counter.most_common():
            if keep and keep not in frame:
                continue
            lines.append(f"  {100 * n / total:5.1f}%  {frame}")
            shown += 1
            if shown >= top:
                break

    show("Foyer functions, inclusive:", inclusive, keep="(app/")
    show("All functions, inclusive:", inclusive)
    show("Self time:", own)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        default=["sso_sign_in", "client_credentials", "login_page", "jwks", "discovery"],
    )
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Keep the collapsed stacks.")
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--server", default="granian", choices=("granian", "sync"), help="foyer run's by default"
    )
    options = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args = parse_args(
        [
            "--workers",
            "1",
            "--concurrency",
            "2",
            "--seconds",
            str(options.seconds),
            "--database-url",
            options.database_url,
        ]
    )
    workdir = Path(tempfile.mkdtemp(prefix="foyer-profile-"))
    try:
        bench = Bench(args, workdir, options.database_url)
        variables = seed.apply_bench_tenant(bench.env, bench.port)
        target = bench.target(variables["BENCH_CLIENT_SECRET"])
        server = bench.start(options.server)
        try:
            worker = children(server.process.pid)[0]
            for name in options.scenarios:
                setup, step = PROFILED[name](target, bench.port)
                states = [setup(i) for i in range(2)]
                for state in states:
                    step(state)
                raw = workdir / f"{name}.txt"
                spy = subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(worker),
                        "--rate",
                        "400",
                        "--format",
                        "raw",
                        "--output",
                        str(raw),
                        "--duration",
                        str(int(options.seconds) + 1),
                        "--nonblocking",
                        "--nolineno",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(0.5)
                result = load.run(
                    name,
                    server,
                    lambda i, s=states: s[i],
                    step,  # type: ignore[misc]
                    concurrency=2,
                    seconds=options.seconds,
                    max_ops=10**6,
                )
                spy.wait()
                print(
                    f"\n=== {name}: {result.ops} ops, {result.server_ms_per_op:.2f} ms server "
                    f"CPU per op ==="
                )
                print(summarize(raw, options.top))
                if options.keep:
                    print(f"(collapsed stacks: {raw}; flamegraph.pl or speedscope read them)")
        finally:
            server.stop()
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
