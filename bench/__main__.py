"""``python -m bench``: seed a throwaway Foyer, serve it with gunicorn, drive it, print figures.

See bench/README.md. Every figure is printed as a JSON line when measured; the table, the
ceilings and the peer ratios follow at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from bench import canaille
from bench import ceilings as ceilings_mod
from bench import load
from bench import machine
from bench import peers
from bench import report
from bench import scenarios
from bench import seed
from bench import targets
from bench.server import KEEPALIVE
from bench.server import SERVERS
from bench.server import Server
from bench.server import free_port
from bench.server import granian_available
from bench.server import postgres_backends_cpu
from bench.server import start_foyer
from bench.server import wait_for_workers

SCENARIOS = (
    "full_sign_in",
    "sso_sign_in",
    "sso_sign_in_es256",
    "client_credentials",
    "client_credentials_es256",
    "refresh_rotation",
    "discovery",
    "jwks",
    "login_page",
    "userinfo",
    "hrd_lookup",
    "bulk_import",
    "peers",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server URL (postgresql+psycopg://user@host/db): a "
        "throwaway database is created beside DB and dropped at the "
        "end. Default: SQLite in a temporary folder.",
    )
    parser.add_argument("--redis-url", default="", help="Redis for rate limits (optional).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A short smoke run (about a minute): fewer operations, "
        "HRD at 10 and 1,000 organizations.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn sync workers (default: one per core).",
    )
    parser.add_argument(
        "--concurrency", type=int, default=0, help="Load generator threads (default: 2 per worker)."
    )
    parser.add_argument(
        "--seconds", type=float, default=0, help="Time per scenario (default 8, --quick 1.5)."
    )
    parser.add_argument(
        "--only", default="", help="Comma-separated scenarios to run: " + ", ".join(SCENARIOS)
    )
    parser.add_argument(
        "--hrd-sizes",
        default="",
        help="Organization counts for HRD (default 10,1000,10000,100000).",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=0,
        help="Users in the bulk import (default 20000, --quick 2000).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="Rounds of the comparison with the peer, Foyer and peer taking "
        "turns; the ratio is the median of the rounds' ratios "
        "(default 3, --quick 1).",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="Only the peer table: every scenario against oidc-provider (and Canaille when "
        "it can be installed), Foyer and the peers taking turns for --rounds rounds after a "
        "warm-up round; each of the issue's targets said met or not met.",
    )
    parser.add_argument(
        "--servers",
        default="granian,sync",
        help="With --peers: the servers to put Foyer behind, comma-separated, the first "
        "judged against the targets (default: foyer run's granian, then gunicorn sync): "
        + ", ".join(SERVERS),
    )
    parser.add_argument(
        "--no-canaille", action="store_true", help="With --peers: leave Canaille out."
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the JSON lines here.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    args = parser.parse_args(argv)
    if args.peers:
        args.seconds = args.seconds or (1.0 if args.quick else 2.5)
        args.rounds = args.rounds or (1 if args.quick else 5)
    args.seconds = args.seconds or (1.5 if args.quick else 8.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(args.servers) - set(SERVERS) or not args.servers:
        parser.error(f"--servers: choose among {', '.join(SERVERS)}")
    args.concurrency = args.concurrency or 2 * args.workers
    args.only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    table = [name for name, _label in targets.PEER_SCENARIOS]
    if args.peers and not set(args.only) & set(table):
        parser.error(f"--peers measures the peer table: --only takes {', '.join(table)}")
    sizes = args.hrd_sizes or ("10,1000" if args.quick else "10,1000,10000,100000")
    args.hrd_sizes = [int(n) for n in sizes.split(",")]
    args.import_rows = args.import_rows or (2000 if args.quick else 20000)
    return args


@contextlib.contextmanager
def throwaway_database(url: str) -> t.Iterator[str]:
    """SQLite in the work folder, or a fresh PostgreSQL database dropped afterwards."""
    if not url:
        yield ""
        return
    import sqlalchemy as sa

    base = sa.make_url(url)
    name = f"foyer_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, database_url: str) -> None:
        self.args = args
        self.workdir = workdir
        self.database = "postgresql" if database_url else "sqlite"
        self.database_url = database_url
        self.records: list[dict[str, t.Any]] = []
        self.out = args.json.open("w") if args.json else None
        (workdir / "plugins").mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FOYER_")},
            "FOYER_INSTANCE_PATH": str(workdir / "instance"),
            "FOYER_PLUGINS_DIR": str(workdir / "plugins"),
            "FOYER_THEMES_DIR": str(seed.BENCH_DIR / "themes"),
            # as deployed: TLS ends at a reverse proxy that sets X-Forwarded-Proto/For
            "FOYER_TRUSTED_PROXIES": "1",
        }
        if database_url:
            self.env["FOYER_DATABASE_URL"] = database_url
        if args.redis_url:
            self.env["FOYER_REDIS_URL"] = args.redis_url
        self.port = free_port()
        self.ceilings: ceilings_mod.Ceilings | None = None

    # -- output --------------------------------------------------------------------------

    def emit(self, record: dict[str, t.Any]) -> None:
        self.records.append(record)
        report.emit(record, self.out)

    def info(self, message: str) -> None:
        print(f"# {message}", file=sys.stderr, flush=True)

    # -- server --------------------------------------------------------------------------

    def start(self, kind: str = "sync", port: int | None = None) -> Server:
        """Foyer behind ``kind`` on ``port`` (the tenant's port by default: the Host header
        names the tenant, so another port serves the same tenant)."""
        port = port or self.port
        server = start_foyer(self.env, self.args.workers, port, self.workdir, kind)
        server.wait_until_up(
            f"http://127.0.0.1:{port}/.well-known/openid-configuration",
            f"localhost:{self.port}",
        )
        wait_for_workers(server, self.args.workers)
        if self.database_url:
            server.database_cpu = postgres_backends_cpu(self.database_url)
        return server

    def target(self, secret: str) -> scenarios.Target:
        return scenarios.Target(
            name="foyer",
            port=self.port,
            host=f"localhost:{self.port}",
            client_secret=secret,
            login=scenarios.foyer_login(seed.USERS[0], seed.PASSWORD),
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"},
        )

    def measure(
        self,
        name: str,
        server: Server,
        setup_step: tuple[t.Any, t.Any],
        *,
        server_name: str = "foyer",
        max_ops: int = 100_000,
        warmup: int = 3,
        ceiling: tuple[float, str] | None = None,
        note: str | None = None,
        concurrency: int | None = None,
        extra: dict[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        setup, step = setup_step
        result = load.run(
            name,
            server,
            setup,
            step,
            concurrency=concurrency or self.args.concurrency,
            seconds=self.args.seconds,
            max_ops=max_ops,
            warmup_ops=warmup,
        )
        result.extra.update(extra or {})
        record = report.figure(
            result,
            server=server_name,
            database=self.database if server_name.startswith("foyer") else "in-process memory",
            ceiling=ceiling[0] if ceiling else None,
            ceiling_basis=ceiling[1] if ceiling else None,
            note=note,
        )
        self.emit(record)
        return record

    # -- ceilings ------------------------------------------------------------------------

    def per_core(self, argon2: int = 0, rs256: int = 0, es256: int = 0) -> tuple[float, str]:
        c = self.ceilings
        assert c is not None
        seconds = argon2 * c.argon2_seconds + rs256 * c.rs256_seconds + es256 * c.es256_seconds
        parts = [
            f"{n} {what}"
            for n, what in (
                (argon2, "argon2id verification"),
                (rs256, "RS256 signature"),
                (es256, "ES256 signature"),
            )
            if n
        ]
        return 1 / seconds, " + ".join(parts) + " per operation"

    # -- scenarios -----------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        wanted = set(args.only)
        self.info("measuring the ceilings (argon2id, RS256, ES256) ...")
        self.ceilings = ceilings_mod.measure(args.quick)
        self.emit({"scenario": "ceilings", **self.ceilings.as_dict()})

        self.info("seeding with foyer apply bench/bench.yaml ...")
        variables = seed.apply_bench_tenant(self.env, self.port)
        secret = variables["BENCH_CLIENT_SECRET"]
        target = self.target(secret)
        quick = args.quick

        server = self.start()
        try:
            if "full_sign_in" in wanted:
                self.measure(
                    "full_sign_in",
                    server,
                    scenarios.full_sign_in(target),
                    max_ops=60 if quick else 2000,
                    warmup=1,
                    ceiling=self.per_core(argon2=1, rs256=2),
                    note="7 requests: authorize, identifier page+post, password "
                    "page+post, resume, token",
                )
            if "sso_sign_in" in wanted:
                self.measure(
                    "sso_sign_in",
                    server,
                    scenarios.sso_sign_in(target),
                    ceiling=self.per_core(rs256=2),
                    note="authorize (live session) -> code -> token (RS256 ID token)",
                )
            if "sso_sign_in_es256" in wanted:
                self.measure(
                    "sso_sign_in_es256",
                    server,
                    scenarios.sso_sign_in(target, "bench-rp-es256"),
                    ceiling=self.per_core(rs256=1, es256=1),
                    note="ES256 ID token, RS256 access token",
                )
            if "client_credentials" in wanted:
                self.measure(
                    "client_credentials",
                    server,
                    scenarios.client_credentials(target),
                    ceiling=self.per_core(rs256=1),
                )
            if "client_credentials_es256" in wanted:
                self.measure(
                    "client_credentials_es256",
                    server,
                    scenarios.client_credentials(target, "bench-m2m-es256"),
                    ceiling=self.per_core(rs256=1),
                    note="an ES256 client: its ID token algorithm; access tokens are "
                    "signed with the tenant's RS256 key",
                )
            if "refresh_rotation" in wanted:
                self.measure(
                    "refresh_rotation",
                    server,
                    scenarios.refresh_rotation(target),
                    ceiling=self.per_core(rs256=2),
                    note="refresh_token grant: new access, ID and refresh token",
                )
            if "discovery" in wanted:
                self.measure("discovery", server, scenarios.fetch(target, target.discovery_path))
            if "jwks" in wanted:
                self.measure("jwks", server, scenarios.fetch(target, target.jwks_path))
            if "login_page" in wanted:
                self.measure(
                    "login_page",
                    server,
                    scenarios.login_page(target, f"acme.localhost:{self.port}", "fr"),
                    concurrency=args.workers,
                    note="identifier page of an organization: child theme, brand "
                    "colors, French; concurrency = workers",
                )
        finally:
            server.stop()
        if "hrd_lookup" in wanted:
            self.hrd(target)
        if "bulk_import" in wanted:
            self.bulk_import(variables)
        if "peers" in wanted:
            self.peers(target)

    def hrd(self, target: scenarios.Target) -> None:
        """Home realm discovery at each size, asked two ways: the JSON endpoint
        (``hrd_lookup_<n>``) and the hosted pages a user goes through (``hrd_pages_<n>``:
        a new sign-in and the identifier page's POST). Each is compared with its own figure
        at the smallest size."""
        baselines: dict[str, dict[str, t.Any]] = {}
        for size in self.args.hrd_sizes:
            seconds = seed.add_organizations(self.env, size)
            self.info(f"HRD tenant has {size:,} organizations (seeded in {seconds:.1f}s)")
            server = self.start()  # a fresh process: no cache warmed by the smaller run
            host = f"{seed.HRD_HOST}:{self.port}"
            try:
                for kind, pages, via in (
                    ("hrd_lookup", False, "POST /hrd/lookup (JSON)"),
                    ("hrd_pages", True, "GET /login (new sign-in) + POST of the identifier page"),
                ):
                    record = self.measure(
                        f"{kind}_{size}",
                        server,
                        scenarios.hrd_lookup(target, host, size, pages=pages),
                        max_ops=50 if self.args.quick else 5000,
                        note=f"{via}; email domain, identifier-map entry and pattern in turn",
                        extra={"organizations": size, "via": via},
                    )
                    baseline = baselines.setdefault(kind, record)
                    if baseline is not record and baseline["server_cpu_ms_per_op"]:
                        ratio = record["server_cpu_ms_per_op"] / baseline["server_cpu_ms_per_op"]
                        record["cost_ratio_vs_smallest"] = round(ratio, 2)
                        self.info(
                            f"{kind} cost at {size:,} / at {self.args.hrd_sizes[0]:,}: {ratio:.2f}"
                        )
            finally:
                server.stop()

    def bulk_import(self, variables: dict[str, str]) -> None:
        """Pre-hashed users through the bulk path (``foyer users import``), rows per second."""
        import json

        rows = self.args.import_rows
        path = self.workdir / "users.jsonl"
        with path.open("w") as fh:
            for n in range(rows):
                fh.write(
                    json.dumps(
                        {
                            "email": f"user{n}@import.example",
                            "name": f"Imported User {n}",
                            "email_verified": True,
                            "password_hash": variables["BENCH_PASSWORD_HASH"],
                        }
                    )
                    + "\n"
                )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        output = seed.foyer(
            self.env, "users", "import", "--tenant", "bench", "--connection", "staff", str(path)
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.emit(
            {
                "scenario": "bulk_import",
                "server": "foyer users import",
                "database": self.database,
                "unit": "row",
                "ops": rows,
                "wall_s": round(wall, 3),
                "ops_per_s": round(rows / wall, 1),
                "server_cpu_s": round(cpu, 3),
                "ops_per_core_s": round(rows / cpu, 1) if cpu else None,
                "peak_rss_mib_per_worker": round(after.ru_maxrss / 1024, 1),
                "note": "pre-hashed argon2id users from JSON lines, whole command (start-up "
                "included); " + output.strip().splitlines()[-1][:120],
            }
        )

    def peers(self, foyer: scenarios.Target) -> None:
        """Foyer and oidc-provider take turns on the same scenarios, ``--rounds`` times.

        On a shared machine the load of other work drifts within a run; measuring the two
        servers back to back, round after round, and keeping the median of the rounds'
        ratios leaves that drift out of the comparison.
        """
        why = peers.oidc_provider_available()
        if why is not None:
            self.info(f"oidc-provider skipped: {why}")
            return
        version = peers.oidc_provider_version()
        peer, target = peers.start_oidc_provider(free_port(), foyer.client_secret, self.workdir)
        name = f"oidc-provider {version}"
        server = self.start()
        compared = (
            ("sso_sign_in", scenarios.sso_sign_in, self.per_core(rs256=2)),
            ("client_credentials", scenarios.client_credentials, self.per_core(rs256=1)),
        )
        try:
            for round_ in range(1, self.args.rounds + 1):
                self.info(f"comparison round {round_} of {self.args.rounds} ...")
                for scenario, make, ceiling in compared:
                    for who, srv, tgt in (("foyer", server, foyer), (name, peer, target)):
                        self.measure(
                            scenario,
                            srv,
                            make(tgt),
                            server_name=who,
                            ceiling=ceiling,
                            extra={"round": round_},
                        )
        finally:
            server.stop()
            peer.stop()

    # -- the peer table (--peers) ----------------------------------------------------------

    def peer_table(self) -> None:
        """Every scenario of :data:`targets.PEER_SCENARIOS` on Foyer (behind each of
        ``--servers``) and on the peers, taking turns: a warm-up round that is discarded
        (Node compiles hot code as it runs; Foyer fills its caches), then ``--rounds``
        rounds, the order of the servers turning each round."""
        args = self.args
        self.info("measuring the ceilings (argon2id, RS256, ES256) ...")
        self.ceilings = ceilings_mod.measure(args.quick)
        self.emit({"scenario": "ceilings", **self.ceilings.as_dict()})
        self.info("seeding with foyer apply bench/bench.yaml ...")
        variables = seed.apply_bench_tenant(self.env, self.port)
        foyer = self.target(variables["BENCH_CLIENT_SECRET"])
        self.contestants: list[tuple[str, Server, scenarios.Target]] = []
        self.peer_notes: list[str] = []
        started: list[Server] = []
        try:
            for n, kind in enumerate(args.servers):
                if kind == "granian" and (why := granian_available()):
                    self.peer_notes.append(f"foyer ({kind}) not measured: {why}")
                    continue
                port = self.port if n == 0 else free_port()
                server = self.start(kind, port)
                started.append(server)
                target = dataclasses.replace(foyer, port=port, keepalive=KEEPALIVE[kind])
                self.contestants.append((f"foyer ({kind})", server, target))
            transports = sorted({target.keepalive for _n, _s, target in self.contestants})
            why = peers.oidc_provider_available()
            if why is None:
                peer, target = peers.start_oidc_provider(
                    free_port(), foyer.client_secret, self.workdir
                )
                started.append(peer)
                self.peer_name = f"oidc-provider {peers.oidc_provider_version()}"
                for keepalive in transports:
                    self.contestants.append(
                        (self.peer_name, peer, dataclasses.replace(target, keepalive=keepalive))
                    )
            else:
                self.peer_notes.append(f"oidc-provider not measured: {why}")
            if not args.no_canaille:
                try:
                    peer, target = canaille.start(
                        free_port(), foyer.client_secret, self.workdir, args.workers
                    )
                except canaille.Unavailable as exc:
                    self.peer_notes.append(f"Canaille not measured: {exc}")
                else:
                    started.append(peer)
                    self.contestants.append((f"canaille {canaille.version()}", peer, target))
            for round_ in range(args.rounds + 1):
                label = "warm-up round (discarded)" if round_ == 0 else f"round {round_}"
                self.info(f"{label} of {args.rounds} ...")
                order = self.contestants[round_ % len(self.contestants) :]
                order += self.contestants[: round_ % len(self.contestants)]
                for scenario, _label in targets.PEER_SCENARIOS:
                    if scenario not in args.only:
                        continue
                    for who, server, target in order:
                        self.measure_peer(scenario, who, server, target, round_)
        finally:
            for server in started:
                server.stop()

    def measure_peer(
        self, scenario: str, who: str, server: Server, target: scenarios.Target, round_: int
    ) -> None:
        is_foyer = who.startswith("foyer")
        concurrency = None
        if why := peers.cannot_measure(who, scenario):
            if round_ == 0:
                self.peer_notes.append(f"{who} {scenario} not measured: {why}")
            return
        if scenario == "full_sign_in":
            make, max_ops = scenarios.full_sign_in(target), 40 if self.args.quick else 400
        elif scenario == "login_page":
            concurrency = self.args.workers
            if is_foyer:
                make = scenarios.login_page(target, f"acme.localhost:{self.port}", "fr")
            else:
                make = scenarios.interaction_page(target)
            max_ops = 100_000
        elif scenario in ("discovery", "jwks"):
            path = target.discovery_path if scenario == "discovery" else target.jwks_path
            make, max_ops = scenarios.fetch(target, path), 100_000
        else:
            make, max_ops = getattr(scenarios, scenario)(target), 100_000
        try:
            self.measure(
                scenario,
                server,
                make,
                server_name=who,
                max_ops=max_ops,
                warmup=1,
                concurrency=concurrency,
                extra={
                    "round": round_,
                    "transport": target.transport,
                    "database": self.database if is_foyer else peers.storage(who),
                },
            )
        except Exception as exc:  # noqa: BLE001 - a peer that cannot run a scenario is said so
            self.info(f"{who} {scenario}: {type(exc).__name__}: {exc}")
            self.emit(
                {
                    "scenario": scenario,
                    "server": who,
                    "round": round_,
                    "transport": target.transport,
                    "ops": 0,
                    "first_error": f"{type(exc).__name__}: {exc}"[:300],
                }
            )

    def peer_summary(self, info: dict[str, t.Any]) -> None:
        measured = [r for r in self.records if r.get("round") and "transport" in r]
        cpu = targets.median_by(measured, lambda r: (r["scenario"], r["server"], r["transport"]))
        rss_by_scenario = targets.median_by(
            [{**r, "server_cpu_ms_per_op": r.get("peak_rss_mib_per_worker", 0)} for r in measured],
            lambda r: (r["server"], r["scenario"]),
        )
        rss: dict[str, float] = {}
        for (who, _scenario), mib in rss_by_scenario.items():
            rss[who] = max(rss.get(who, 0.0), mib)
        argon2_ms = self.ceilings.argon2_seconds * 1000 if self.ceilings else 0.0
        print()
        print("Machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()))
        if self.ceilings is not None:
            c = self.ceilings.as_dict()
            print(
                f"Ceilings (one core, this run): argon2id ({c['argon2id_params']}) "
                f"{c['argon2id_verify_ms']} ms; RS256 sign {c['rs256_sign_ms']} ms; "
                f"ES256 sign {c['es256_sign_ms']} ms"
            )
        print(
            f"Foyer: {self.args.workers} workers, {self.database}"
            + (" (PostgreSQL backends' CPU counted)" if self.database_url else "")
            + (", Redis" if self.args.redis_url else "")
            + f"; load generator: {self.args.concurrency} threads on the same machine; "
            f"medians of {self.args.rounds} interleaved rounds after a discarded warm-up "
            f"round, {self.args.seconds:g} s per turn; CPU ms per operation of every "
            "process of each server"
        )
        for note in self.peer_notes:
            print(f"  {note}")
        peer_name = getattr(self, "peer_name", "oidc-provider")
        canaille_name = next((w for w, _s, _t in self.contestants if w.startswith("canaille")), "")
        print()
        header = (
            f"{'scenario':38} {'Foyer server':18} {'transport':26} {'Foyer ms':>9} "
            f"{'peer ms':>8} {'÷peer':>7} {'Canaille ms':>11} {'÷Can.':>7}"
        )
        print(
            f"peer: {peer_name} (one Node.js process, data in memory)"
            + (f"; {canaille_name} (gunicorn sync, SQLite)" if canaille_name else "")
        )
        print(header)
        print("-" * len(header))
        for scenario, label in targets.PEER_SCENARIOS:
            for who, _server, target in self.contestants:
                if not who.startswith("foyer"):
                    continue
                ours = cpu.get((scenario, who, target.transport))
                theirs = cpu.get((scenario, peer_name, target.transport))
                # Canaille (sync workers) only beside Foyer on the same transport; its
                # sign-in hashes with pbkdf2, so it is set beside Foyer's whole flow
                can = cpu.get((scenario, canaille_name, target.transport))
                shown = targets.compared_ms(scenario, ours, argon2_ms) if ours else None
                ratio = targets.per_core_ratio(shown, theirs) if shown and theirs else None
                ratio_c = targets.per_core_ratio(ours, can) if ours and can else None
                whole = scenario == "full_sign_in"
                print(
                    f"{label[:38]:38} {who[7:-1]:18} {target.transport:26} "
                    f"{targets.fmt_ms(shown):>9} {targets.fmt_ms(theirs):>8} "
                    f"{targets.fmt_ratio(ratio):>7} "
                    f"{targets.fmt_ms(None if whole else can):>11} "
                    f"{targets.fmt_ratio(None if whole else ratio_c):>7}"
                )
                if whole and ours:
                    print(
                        f"{'  whole flow, argon2id included':38} {who[7:-1]:18} "
                        f"{target.transport:26} {targets.fmt_ms(ours):>9} {'':>8} {'':>7} "
                        f"{targets.fmt_ms(can):>11} {targets.fmt_ratio(ratio_c):>7}  "
                        f"argon2id {argon2_ms:.1f} ms = "
                        f"{targets.ceiling_share(ours, argon2_ms):.0%} of the ceiling"
                    )
        print()
        print(
            "Peak RSS of one serving process (the largest scenario's median of rounds): "
            + ", ".join(f"{w}: {v:.1f} MiB" for w, v in rss.items())
        )
        print("'÷peer', '÷Can.': Foyer / peer in operations per busy core (peer ms / Foyer ms).")
        failed = [r for r in self.records if r.get("first_error") and r.get("round")]
        for record in failed[:8]:
            print(f"  error: {record['server']} {record['scenario']}: {record['first_error']}")
        judged = next(((w, tg) for w, _s, tg in self.contestants if w.startswith("foyer")), None)
        if judged is None:
            return
        who, target = judged
        foyer = {s: v for (s, w, tr), v in cpu.items() if w == who}
        peer = {s: v for (s, w, tr), v in cpu.items() if w == peer_name and tr == target.transport}
        print()
        print(f"Against the targets (Foyer behind {who[7:-1]}, {self.database}):")
        for verdict in targets.verdicts(
            foyer,
            peer,
            argon2_ms=argon2_ms,
            peak_rss_mib=rss.get(who),
            peer_name=peer_name,
            transport=target.transport,
        ):
            print("  " + verdict.line())
            self.emit({"scenario": "verdict", **verdict._asdict()})
        for verdict in targets.NOT_JUDGED_HERE:
            print("  " + verdict.line())

    # -- summary -------------------------------------------------------------------------

    def summary(self, info: dict[str, t.Any]) -> None:
        rows = [r for r in self.records if "ops_per_core_s" in r and "round" not in r]
        rows += self.round_medians()
        print()
        print("Machine: " + ", ".join(f"{k}: {v}" for k, v in info.items()))
        if self.ceilings is not None:
            c = self.ceilings.as_dict()
            print(
                f"Ceilings (one core): argon2id ({c['argon2id_params']}) "
                f"{c['argon2id_verify_ms']} ms = {c['argon2id_verifications_per_core_s']}/s; "
                f"RS256 sign {c['rs256_sign_ms']} ms = {c['rs256_signatures_per_core_s']}/s; "
                f"ES256 sign {c['es256_sign_ms']} ms = {c['es256_signatures_per_core_s']}/s"
            )
        print(
            f"Foyer: gunicorn, {self.args.workers} sync workers, {self.database}; load "
            f"generator: {self.args.concurrency} threads on the same machine"
        )
        print()
        report.table(rows)
        self.ratios()

    def rounds_of(self, scenario: str, server_prefix: str) -> list[dict[str, t.Any]]:
        return [
            r
            for r in self.records
            if r.get("scenario") == scenario
            and "round" in r
            and str(r.get("server", "")).startswith(server_prefix)
        ]

    def round_medians(self) -> list[dict[str, t.Any]]:
        """One row per scenario and server of the comparison: its median round."""
        rows = []
        for scenario in ("sso_sign_in", "client_credentials"):
            for prefix in ("foyer", "oidc-provider"):
                measured = sorted(
                    self.rounds_of(scenario, prefix), key=lambda r: r["ops_per_core_s"] or 0
                )
                if measured:
                    median = dict(measured[len(measured) // 2])
                    median["scenario"] = f"{scenario} (median of {len(measured)})"
                    rows.append(median)
        return rows

    def ratios(self) -> None:
        def find(scenario: str, server_prefix: str) -> dict[str, t.Any] | None:
            for record in self.records:
                if record.get("scenario") == scenario and str(record.get("server", "")).startswith(
                    server_prefix
                ):
                    return record
            return None

        lines = []
        for scenario in ("sso_sign_in", "client_credentials"):
            foyer = find(scenario, "foyer")
            if foyer is None:
                continue
            ours, theirs = self.rounds_of(scenario, "foyer"), self.rounds_of(scenario, "oidc")
            each = [
                a["ops_per_core_s"] / b["ops_per_core_s"]
                for a, b in zip(ours, theirs, strict=True)
                if b["ops_per_core_s"]
            ]
            if each:
                ratio = statistics.median(each)
                spread = ", ".join(f"{r:.2f}" for r in each)
                lines.append(
                    f"{scenario}: Foyer / {theirs[0]['server']} per core = "
                    f"{ratio:.2f}x, median of {len(each)} rounds ({spread}) "
                    f"(target >= {targets.TOKEN_RATIO}x; python -m bench --peers compares "
                    "every scenario)"
                )
                self.emit(
                    {
                        "scenario": scenario,
                        "ratio": "foyer/oidc-provider",
                        "value": round(ratio, 3),
                        "rounds": [round(r, 3) for r in each],
                    }
                )
        hrd = [r for r in self.records if "cost_ratio_vs_smallest" in r]
        for record in hrd:
            lines.append(
                f"{record['scenario']}: CPU per lookup / at the smallest size = "
                f"{record['cost_ratio_vs_smallest']:.2f} (target <= 1.3)"
            )
        page = find("login_page", "foyer")
        if page:
            lines.append(
                f"login_page: {page['server_cpu_ms_per_op']:.2f} ms server CPU per page, "
                f"p50 {page['p50_ms']:.2f} ms (target <= {targets.PAGE_MS:g} ms of CPU)"
            )
        full = find("full_sign_in", "foyer")
        if full and "fraction_of_ceiling" in full:
            lines.append(
                f"full_sign_in: {full['fraction_of_ceiling']:.0%} of its ceiling per core "
                f"(target: argon2id >= {targets.CEILING_SHARE:.0%} of the whole flow; "
                "python -m bench --peers measures it)"
            )
        bulk = find("bulk_import", "foyer")
        if bulk:
            lines.append(f"bulk_import: {bulk['ops_per_s']:,.0f} rows/s (target >= 2,000)")
        if lines:
            print()
            print("Against targets:")
            for line in lines:
                print("  " + line)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="foyer-bench-"))
    try:
        with throwaway_database(args.database_url) as database_url:
            info = machine.describe(database_url, args.redis_url)
            bench = Bench(args, workdir, database_url)
            bench.emit(
                {
                    "scenario": "machine",
                    **info,
                    "workers": args.workers,
                    "concurrency": args.concurrency,
                }
            )
            if args.peers:
                bench.peer_table()
                bench.peer_summary(info)
            else:
                bench.run()
                bench.summary(info)
    finally:
        if args.keep:
            print(f"# kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
