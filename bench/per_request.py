"""``python -m bench.per_request``: CPU time, SQL statements and commits of each request.

Runs a scenario in this process with :mod:`bench.inprocess` (no HTTP server) and prints,
for each request of one operation (grouped by method and path), the median CPU time of the
thread, the SQL statements executed and the transactions committed:

    .venv/bin/python -m bench.per_request full_sign_in 60
    .venv/bin/python -m bench.per_request login_page 300 --profile 'GET /login/identifier'

A full sign-in also prints the work beyond its argon2id verification and its share of
the ceiling (one argon2id verification and two RS256 signatures, :mod:`bench.ceilings`).
``--profile PREFIX`` samples the requests whose ``METHOD path`` starts with PREFIX with
pyinstrument (``pip install pyinstrument``) and prints where their time goes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import typing as t
from collections import defaultdict
from pathlib import Path

from sqlalchemy import event

from bench import ceilings
from bench import inprocess


class Counter:
    """Statements and commits on the app's engine, CPU time per request."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.rows: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
        self.sql: list[str] | None = None
        """The statements sent while :attr:`sql` is a list (``--statements``)."""

    def on_statement(self, *args: t.Any) -> None:
        self.statements += 1
        if self.sql is not None:
            self.sql.append(" ".join(str(args[2]).split()))

    def on_commit(self, *_args: t.Any) -> None:
        self.commits += 1

    def on_alone(self, *_args: t.Any) -> None:
        """A statement that commits by itself (``Database.counters_engine``)."""
        self.statements += 1
        self.commits += 1
        if self.sql is not None:
            self.sql.append("(a count, on a connection that commits by itself)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(inprocess.SCENARIOS))
    parser.add_argument("ops", type=int, nargs="?", default=50)
    parser.add_argument("--profile", default=None, metavar="PREFIX")
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL of one more operation"
    )
    args = parser.parse_args()

    target = inprocess.prepare(Path(tempfile.mkdtemp(prefix="foyer-per-request-")))
    app = inprocess.InProcessClient.app
    counter = Counter()
    database = app.extensions["foyer.db"]
    event.listen(database.engine, "before_cursor_execute", counter.on_statement)
    event.listen(database.engine, "commit", counter.on_commit)
    event.listen(database.counters_engine.pool, "checkout", counter.on_alone)
    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler  # optional: only this option needs it

        profiler = Profiler(interval=0.0001)

    measuring = False
    wsgi = app.wsgi_app

    def measured(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        key = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        sampled = profiler is not None and measuring and key.startswith(args.profile)
        statements, commits = counter.statements, counter.commits
        if sampled:
            profiler.start()
        started = time.thread_time()
        try:
            return wsgi(environ, start_response)
        finally:
            elapsed = time.thread_time() - started
            if sampled:
                profiler.stop()
            if measuring:
                counter.rows[key].append(
                    (elapsed, counter.statements - statements, counter.commits - commits)
                )

    app.wsgi_app = measured
    setup, step = inprocess.SCENARIOS[args.scenario](target)
    state = setup(0)
    for _ in range(3):
        step(state)
    measuring = True
    for _ in range(args.ops):
        step(state)

    measuring = False
    if args.statements:
        print_statements(counter, wsgi, app, step, state)

    total = 0.0
    print(f"{'request':44} {'n':>5} {'cpu ms p50':>10} {'statements':>10} {'commits':>8}")
    for key, rows in counter.rows.items():
        cpu = statistics.median(r[0] for r in rows) * 1000
        per_op = len(rows) / args.ops
        total += cpu * per_op
        statements = statistics.median(r[1] for r in rows)
        commits = statistics.median(r[2] for r in rows)
        print(f"{key[:44]:44} {len(rows):5} {cpu:10.2f} {statements:10.0f} {commits:8.0f}")
    print(f"{'one operation (sum of medians)':44} {'':5} {total:10.2f}")
    if args.scenario == "full_sign_in":  # its ceiling: one argon2id check and two signatures
        found = ceilings.measure(quick=True)
        argon2 = found.argon2_seconds * 1000
        ceiling = argon2 + 2 * found.rs256_seconds * 1000
        print(f"{'argon2id verification (best, this machine)':44} {'':5} {argon2:10.2f}")
        print(f"{'work beyond argon2id':44} {'':5} {total - argon2:10.2f}")
        print(f"{'share of the argon2id + 2 x RS256 ceiling':44} {'':5} {ceiling / total:10.0%}")
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False))


def print_statements(counter: Counter, wsgi: t.Any, app: t.Any, step: t.Any, state: t.Any) -> None:
    """One more operation, each request followed by the statements it sent (shortened)."""

    def listed(environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        counter.sql = []
        try:
            return wsgi(environ, start_response)
        finally:
            print(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
            for statement in counter.sql:
                print(f"    {statement[:150]}")
            counter.sql = None

    app.wsgi_app = listed
    step(state)
    print()


if __name__ == "__main__":
    main()
