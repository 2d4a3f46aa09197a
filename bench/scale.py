"""Foyer with many organizations and users: a generator, and per-request costs against size.

    # generate (or complete) one data set: 1,000,000 users, 100,000 organizations
    .venv/bin/python -m bench.scale \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/foyer_scale \\
        --organizations 100000 --users 1000000

    # measure the hosted pages, the picker and user search at several sizes; ratios to the first
    .venv/bin/python -m bench.scale \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/foyer_scale \\
        --size 10:100 --size 10000:100000 --size 100000:1000000 --measure

With one ``--size`` (or ``--organizations``/``--users``) the data set lives in the database
named by ``--database-url``; with several, each size gets its own database (PostgreSQL) or
file (SQLite) named after it (``foyer_scale_100000o_1000000u``). A data set already there
is kept and reused (generating a million users once is enough); ``--drop`` removes the
databases at the end.

The data set: the tenant of ``bench/scale.yaml`` (a shared pool ``members`` open to sign-up,
the organization picker in ``list`` mode, a web client and a management API client) and
``--organizations`` organizations inserted as ``bench/seed.py`` does for home realm
discovery: ``org-<n>`` with its own database connection, the email domain
``org-<n>.example`` and an identifier-map entry; two in ten also enable ``members``. Half
the users are isolated users of the organizations' own connections
(``user-<k>@org-<n>.example``), half are members of the shared pool
(``member-<j>@shared.example``) with a membership of one organization. Every user has the
same argon2id hash of ``bench.seed.PASSWORD``. Rows go in with PostgreSQL's ``COPY``, or
multi-row inserts on SQLite.

Measuring runs each scenario in one Python process against the WSGI app (no HTTP server,
as ``bench.inprocess``), after warm-up, and reports per operation: the process's CPU
(``/proc/self/stat``), PostgreSQL's backends' CPU (``/proc/<pid>/stat`` of this database's
backends), and the SQL statements sent. Medians of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa

from bench import scenarios
from bench import seed
from bench.http import expect
from bench.inprocess import InProcessClient

PORT = 8443
HOST = f"scale.localhost:{PORT}"
TENANT = "scale"
SHARED = "members"
CLIENT_SECRET = "scale-bench-secret-only-for-a-throwaway-data-set"
SCALE_FILE = seed.BENCH_DIR / "scale.yaml"
GIVEN = ("Ada", "Alan", "Grace", "Linus", "Barbara", "Edsger", "Frances", "Donald", "Radia",
         "Ken", "Margaret", "Dennis", "Sophie", "Tim", "Hedy", "John", "Katherine", "Niklaus",
         "Shafi", "Leslie")  # fmt: skip
SYLLABLES = ("lo", "ve", "la", "ce", "tu", "ri", "ng", "ho", "pp", "er", "ka", "mi", "sa",
             "no", "be", "ra", "di", "to", "ga", "fe", "ul", "an", "os", "ek", "im", "ar",
             "mo", "ze", "qu", "ie", "wa", "ny")  # fmt: skip


NAMES = len(GIVEN) * len(SYLLABLES) ** 3
"""Distinct names :func:`user_name` makes (655,360): the user of index ``i`` shares its
name with those of ``i ± NAMES``."""


def user_name(index: int) -> str:
    """A name unique up to :data:`NAMES` users: a given name and three syllables."""
    s = len(SYLLABLES)
    family = "".join(SYLLABLES[(index // s**k) % s] for k in range(3))
    return f"{GIVEN[(index // s**3) % len(GIVEN)]} {family.title()}"


def user_email(index: int, organizations: int, users: int) -> str:
    isolated = users // 2
    if index < isolated:
        return f"user-{index // organizations}@{seed.hrd_domain(index % organizations)}"
    return f"member-{index - isolated}@shared.example"


# --- Where each data set lives ---------------------------------------------------------------


def size_url(base: str, organizations: int, users: int, single: bool) -> str:
    """The database of one size: ``base`` itself, or named after the size."""
    if single:
        return base
    url = sa.engine.make_url(base)
    suffix = f"_{organizations}o_{users}u"
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "scale.db")
        return str(url.set(database=str(path.with_name(path.stem + suffix + path.suffix))))
    return str(url.set(database=(url.database or "foyer_scale") + suffix))


def admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def create_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        return
    engine = admin_engine(url)
    with engine.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    engine.dispose()


def drop_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
    else:
        engine = admin_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        engine.dispose()
    shutil.rmtree(instance_dir(url), ignore_errors=True)


def instance_dir(url: str) -> Path:
    """The instance folder of a data set (its secret and encryption keys): kept with it."""
    parsed = sa.engine.make_url(url)
    name = (
        Path(parsed.database or "").stem
        if parsed.get_backend_name() == "sqlite"
        else parsed.database
    )
    return Path(tempfile.gettempdir()) / "foyer-scale" / f"{parsed.get_backend_name()}-{name}"


def environment(url: str, workdir: Path) -> dict[str, str]:
    (workdir / "plugins").mkdir(parents=True, exist_ok=True)
    many = "1000000 per minute"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FOYER_")},
        "FOYER_DATABASE_URL": url,
        "FOYER_INSTANCE_PATH": str(instance_dir(url)),
        "FOYER_PLUGINS_DIR": str(workdir / "plugins"),
        "FOYER_TRUSTED_PROXIES": "1",
        "FOYER_RATE_LIMIT_LOGIN": many,
        "FOYER_RATE_LIMIT_API": many,
        "FOYER_RATE_LIMIT_TOKEN": many,
        "PYTHONPATH": str(seed.ROOT),
    }


def child(env: t.Mapping[str, str], code: str) -> str:
    """Run ``code`` in a fresh interpreter configured by ``env``; its last output line."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd=seed.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{code} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


# --- Generating --------------------------------------------------------------------------------


def generate(url: str, organizations: int, users: int, workdir: Path) -> float | None:
    """Create the data set in ``url`` unless it is there; the seconds it took, or None."""
    create_database(url)
    env = environment(url, workdir)
    counts = json.loads(child(env, "from bench.scale import _counts; _counts()"))
    if counts == [organizations, users]:
        return None
    started = time.perf_counter()
    if counts is None:
        seed.foyer(env, "db", "upgrade")
        variables = {"SCALE_PORT": str(PORT), "SCALE_CLIENT_SECRET": CLIENT_SECRET}
        seed.foyer({**env, **variables}, "apply", str(SCALE_FILE))
    elif counts[0] > organizations or counts[1] > users:
        raise SystemExit(f"{url} holds a larger data set {counts}; drop it first (--drop)")
    hashed = seed.password_hash()
    child(
        env,
        "from bench.seed import _insert_organizations; "
        f"_insert_organizations({organizations}, {TENANT!r}, {SHARED!r})",
    )
    child(env, f"from bench.scale import _insert_users; _insert_users({users}, {hashed!r})")
    return time.perf_counter() - started


def _counts() -> None:
    """Print ``[organizations, users]`` of the scale tenant, or null when it is absent."""
    from app import create_app  # configured by the environment of this child process
    from app.accounts.models import User
    from app.db import session
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

    with create_app().app_context():
        try:
            tenant = session.scalar(sa.select(Tenant).where(Tenant.name == TENANT))
        except sa.exc.DatabaseError:  # no schema yet
            tenant = None
        if tenant is None:
            print("null")
            return
        count = sa.func.count()
        orgs = session.scalar(sa.select(count).where(Organization.tenant_id == tenant.id))
        people = session.scalar(sa.select(count).where(User.tenant_id == tenant.id))
        print(json.dumps([orgs, people]))


def _insert_users(total: int, password_hash: str) -> None:
    """Insert users up to ``total`` (isolated half, shared-pool half with memberships)."""
    import datetime as dt

    from app import create_app  # configured by the environment of this child process
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.db import new_id
    from app.db import session
    from app.orgs.models import Membership
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant
    from app.textsearch import compact

    with create_app().app_context():
        tenant = session.scalar(sa.select(Tenant).where(Tenant.name == TENANT))
        assert tenant is not None
        connections = dict(
            session.execute(
                sa.select(Connection.name, Connection.id).where(Connection.tenant_id == tenant.id)
            ).all()
        )
        org_ids = dict(
            session.execute(
                sa.select(Organization.name, Organization.id).where(
                    Organization.tenant_id == tenant.id
                )
            ).all()
        )
        organizations = len(org_ids)
        present = session.scalar(sa.select(sa.func.count()).where(User.tenant_id == tenant.id))
        isolated = total // 2
        shared_orgs = max(1, -(-organizations // seed.SHARED_EVERY))
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        batch = 50_000
        for first in range(present or 0, total, batch):
            if session.bind.dialect.name == "sqlite":
                # Random ids land on random pages of the primary key and of every index:
                # past half a million rows SQLite's default 2 MB page cache makes each
                # batch re-read and re-write most of them. A large cache for this process
                # alone keeps them in memory while it inserts.
                session.execute(sa.text("PRAGMA cache_size=-2000000"))
            rows, memberships = [], []
            for i in range(first, min(first + batch, total)):
                user_id = new_id()
                created = start + dt.timedelta(seconds=i)
                if i < isolated:
                    connection_id = connections[f"org-{i % organizations}-users"]
                    app_metadata: dict[str, t.Any] = {}
                else:
                    connection_id = connections[SHARED]
                    org = f"org-{((i - isolated) % shared_orgs) * seed.SHARED_EVERY}"
                    app_metadata = {"organizations": [org]}
                    memberships.append(
                        {
                            "user_id": user_id,
                            "organization_id": org_ids[org],
                            "roles": [],
                            "created_at": created,
                        }
                    )
                email = user_email(i, organizations, total)
                rows.append(
                    {
                        "id": user_id,
                        "tenant_id": tenant.id,
                        "connection_id": connection_id,
                        "email": email,
                        "email_normalized": email,
                        "email_verified": True,
                        "password_hash": password_hash,
                        "name": user_name(i),
                        "user_metadata": {},
                        "app_metadata": app_metadata,
                        "blocked": False,
                        "created_at": created,
                    }
                )
            seed.write_rows(session, User.__table__, rows)
            seed.write_rows(session, Membership.__table__, memberships)
            session.commit()
        session.execute(sa.text("ANALYZE"))
        session.commit()
        # what an import through the API or `foyer users import` does when it ends (and
        # `foyer apply`'s one transaction gives the organizations): one merged search index
        compact("user")
        compact("organization")


# --- Measuring ---------------------------------------------------------------------------------


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU of this process and of the database's backends, and SQL statements sent."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        sa.event.listen(sa.Engine, "before_cursor_execute", self._count)
        self.postgres = engine.dialect.name == "postgresql"
        # its own connection, never one of the app's pool: a backend the app used must
        # never be left out of one reading and counted whole in the next
        self.engine = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)

    def _count(self, *_args: t.Any) -> None:
        self.statements += 1

    def backends(self) -> dict[int, float]:
        if not self.postgres:
            return {}
        with self.engine.connect() as conn:
            pids = conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )
            ).all()
        found = {}
        for pid in pids:
            try:
                found[pid] = cpu_seconds(pid)
            except OSError:  # ended, or another host's
                continue
        return found

    def measure(self, step: t.Callable[[], None], ops: int) -> dict[str, float]:
        before_db = self.backends()
        before_statements = self.statements
        before = time.process_time()  # this process to the nanosecond (/proc: 10 ms ticks)
        for _ in range(ops):
            step()
        cpu = time.process_time() - before
        statements = self.statements - before_statements
        after_db = self.backends()
        db = sum(after_db[p] - before_db.get(p, 0.0) for p in after_db)
        return {
            "cpu_ms": cpu * 1000 / ops,
            "db_cpu_ms": db * 1000 / ops,
            "statements": statements / ops,
        }


def _measure(
    organizations: int, users: int, rounds: int, ops: int, only: tuple[str, ...] = ()
) -> None:
    """In a child process: every scenario at this size; prints one JSON object."""
    from app import create_app  # configured by the environment of this child process
    from app.accounts.cli import _users_by_email as users_by_email  # the commands' lookup
    from app.db import get_database

    logging.disable(logging.WARNING)
    app = create_app()
    InProcessClient.app = app
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}
    rng = random.Random(7)

    def browser() -> InProcessClient:
        return InProcessClient(("127.0.0.1", PORT), HOST, headers)

    def start(b: InProcessClient) -> str:
        """``/authorize`` of the web client; the identifier page's address."""
        params = scenarios.authorization_params("scale-rp", "openid", scenarios.Pkce.new())
        started = b.get("/authorize", params)
        if started.status not in (302, 303):
            raise scenarios.UnexpectedResponse("authorize did not redirect", started)
        return started.location

    def member() -> str:
        return user_email(users // 2 + rng.randrange(users - users // 2), organizations, users)

    def isolated_user() -> str:
        return user_email(rng.randrange(users // 2), organizations, users)

    # one sign-in per browser, up to the page measured; the page itself is the operation
    def login_page() -> None:
        expect(login_browser.get(identifier_page), 200, "identifier page")

    def identifier_post() -> None:
        b = browser()
        location = start(b)
        page = expect(b.get(location), 200, "identifier page")
        sent = b.post(location, {"csrf_token": page.csrf_token(), "identifier": member()})
        if sent.status != 303 or "/login/password" not in sent.location:
            raise scenarios.UnexpectedResponse("identifier not accepted", sent)

    def sign_in(identifier: t.Callable[[], str]) -> t.Callable[[], None]:
        def run() -> None:
            b = browser()
            location = start(b)
            page = expect(b.get(location), 200, "identifier page")
            sent = b.post(location, {"csrf_token": page.csrf_token(), "identifier": identifier()})
            if sent.status != 303:
                raise scenarios.UnexpectedResponse("identifier not accepted", sent)
            page = expect(b.get(sent.location), 200, "password page")
            done = b.post(
                sent.location, {"csrf_token": page.csrf_token(), "password": seed.PASSWORD}
            )
            if done.status != 303 or not scenarios.finished_sign_in(done.location):
                raise scenarios.UnexpectedResponse("password not accepted", done)

        return run

    def picker(query: t.Callable[[], str]) -> t.Callable[[], None]:
        def run() -> None:
            expect(
                picker_browser.get("/login/organization", {"tx": picker_tx, "q": query()}),
                200,
                "picker",
            )

        return run

    def api(params: t.Callable[[], dict[str, str]]) -> t.Callable[[], None]:
        def run() -> None:
            found = expect(api_client.get("/api/v1/users", params(), headers=bearer), 200, "users")
            if b'"items": [{' not in found.body and b'"items":[{' not in found.body:
                raise scenarios.UnexpectedResponse("no user found", found)

        return run

    def cli_search() -> None:
        with app.app_context():
            if not users_by_email(TENANT, member(), None):
                raise RuntimeError("the CLI lookup found nobody")

    # shared set-up: a page address, a picker, an API token
    login_browser = browser()
    identifier_page = start(login_browser)
    picker_browser = browser()
    picker_tx = start(picker_browser).split("tx=")[1].split("&")[0]
    api_client = browser()
    token = expect(
        api_client.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "scope": "read:users"},
            headers=scenarios.basic_auth("scale-api", CLIENT_SECRET),
        ),
        200,
        "API token",
    )
    token = json.loads(token.body)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    def any_org() -> int:
        return rng.randrange(organizations)

    table: dict[str, t.Callable[[], None]] = {
        "login_page": login_page,
        "identifier_post": identifier_post,
        "password_sign_in": sign_in(member),
        "email_domain_sign_in": sign_in(isolated_user),
        "picker_list": picker(lambda: ""),
        "picker_search": picker(lambda: seed.organization_display_name(any_org())),
        "api_search_email": api(lambda: {"email": member()}),
        # a name only one user has (past NAMES users, some are shared by two: the search
        # would then find, and serialize, twice the users)
        "api_search_name": api(
            lambda: {"name": user_name(rng.randrange(users // 2, min(users, NAMES)))}
        ),
        "cli_search_email": cli_search,
    }
    if only:
        table = {name: step for name, step in table.items() if name in only}
    with app.app_context():
        meter = Meter(get_database().engine)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in table}
    for step in table.values():  # warm-up: caches, compiled statements, templates
        for _ in range(3):
            step()
    for _ in range(rounds):
        for name, step in table.items():
            results[name].append(meter.measure(step, ops))
    summary = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    print(json.dumps(summary))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--organizations", type=int)
    parser.add_argument("--users", type=int)
    parser.add_argument(
        "--size", action="append", default=[], help="ORGANIZATIONS:USERS (repeat for several)"
    )
    parser.add_argument("--measure", action="store_true", help="measure after generating")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=20, help="operations per scenario and round")
    parser.add_argument("--only", help="comma-separated scenario names (default: all)")
    parser.add_argument("--drop", action="store_true", help="drop the data sets at the end")
    parser.add_argument("--json", type=Path, help="append the figures to this JSON Lines file")
    parser.add_argument(
        "--redis-url", help="measure with the rate limits and counters in this Redis"
    )
    args = parser.parse_args(argv)
    sizes = [tuple(int(n) for n in s.split(":")) for s in args.size]
    if args.organizations is not None or args.users is not None:
        sizes.append((args.organizations or 10, args.users or 100))
    if not sizes:
        parser.error("give --organizations and --users, or --size")
    single = len(sizes) == 1
    workdir = Path(tempfile.mkdtemp(prefix="foyer-scale-"))
    figures: dict[tuple[int, int], dict[str, dict[str, float]]] = {}
    try:
        for organizations, users in sizes:
            url = size_url(args.database_url, organizations, users, single)
            took = generate(url, organizations, users, workdir)
            state = "already there" if took is None else f"generated in {took:.0f} s"
            print(f"{organizations} organizations, {users} users: {state}", flush=True)
            if args.measure:
                env = environment(url, workdir)
                if args.redis_url:
                    env["FOYER_REDIS_URL"] = args.redis_url
                code = (
                    "from bench.scale import _measure; "
                    f"_measure({organizations}, {users}, {args.rounds}, {args.ops}, "
                    f"{tuple(args.only.split(',')) if args.only else ()!r})"
                )
                figures[(organizations, users)] = json.loads(child(env, code))
                report(figures, sizes)
                if args.json:
                    with args.json.open("a") as out:
                        line = {"database": sa.engine.make_url(url).get_backend_name()}
                        line |= {"organizations": organizations, "users": users}
                        out.write(json.dumps({**line, "figures": figures[(organizations, users)]}))
                        out.write("\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if args.drop:
            for organizations, users in sizes:
                drop_database(size_url(args.database_url, organizations, users, single))


def report(figures: dict[tuple[int, int], dict[str, dict[str, float]]], sizes: list) -> None:
    """One row per scenario: CPU per operation (process + database) and statements at each
    size, and the ratio of each size's total CPU to the first's."""
    measured = [s for s in sizes if s in figures]
    base = measured[0]
    head = "scenario".ljust(22) + "".join(f"{o}o/{u}u".rjust(30) for o, u in measured)
    print(head + "   ratio (CPU, last/first)")
    for name in figures[base]:
        cells, totals = [], []
        for size in measured:
            f = figures[size][name]
            total = f["cpu_ms"] + f["db_cpu_ms"]
            totals.append(total)
            cells.append(
                f"{f['cpu_ms']:7.2f}+{f['db_cpu_ms']:5.2f} ms {f['statements']:5.1f} SQL".rjust(30)
            )
        ratio = totals[-1] / totals[0] if totals[0] else float("nan")
        verdict = "met" if ratio <= 1.3 else "NOT met"
        print(name.ljust(22) + "".join(cells) + f"   {ratio:5.2f}x {verdict}", flush=True)


if __name__ == "__main__":
    main()
