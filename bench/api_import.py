"""``python -m bench.api_import``: a bulk import through the management API, timed.

Builds an instance on a throwaway database (SQLite in a temporary folder, or
``--database-url``), posts ``--rows`` users (100,000 by default) in one import job with
mixed hash formats (argon2id, bcrypt, Django PBKDF2, scrypt and Auth0's export shape) and
one bad row in a hundred, polls the job until it is done, then signs a sample of users of
every format in through the hosted login pages (their hashes becoming argon2id). Prints
JSON lines: the job's counts, rows per second (over the whole job, per CPU second of this
process, and over each tenth of the job: the last tenth against the first says whether
the rate holds as the tables grow), and the sign-ins. Nothing is asserted beyond what
each step checks. On PostgreSQL the database server shares the machine: compare tenths
within one run rather than runs at different times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

PASSWORD = "bench import password 7"
FORMATS = ("argon2id", "bcrypt", "pbkdf2", "scrypt", "auth0")


def make_rows(count: int, hashes: dict[str, str]) -> list[dict]:
    rows: list[dict] = []
    for n in range(count):
        kind = FORMATS[n % len(FORMATS)]
        email = f"user{n}-{kind}@import.example"
        if n % 100 == 99:
            rows.append({"email": f"bad row {n}", "password_hash": hashes["argon2id"]})
        elif kind == "auth0":
            rows.append(
                {
                    "user_id": f"auth0|{n:024x}",
                    "email": email,
                    "email_verified": True,
                    "custom_password_hash": {
                        "algorithm": "bcrypt",
                        "hash": {"value": hashes["bcrypt"]},
                    },
                    "logins_count": n % 7,
                }
            )
        else:
            rows.append({"email": email, "password_hash": hashes[kind], "name": f"User {n}"})
    return rows


def tenth_rates(samples: list[tuple[float, float, int]], rows: int) -> list[int]:
    """Rows per second over each tenth of the job, from ``(time, cpu, processed)`` polls:
    whether the rate holds as the tables grow, within one run (one load on the machine)."""
    rates = []
    start_time, start_rows = samples[0][0], samples[0][2]
    for tenth in range(1, 11):
        goal = rows * tenth // 10
        hit = next(((when, done) for when, _cpu, done in samples if done >= goal), None)
        if hit is None or hit[0] <= start_time:
            return rates
        rates.append(round((hit[1] - start_rows) / (hit[0] - start_time)))
        start_time, start_rows = hit
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sign-ins", type=int, default=3, help="users signed in per format")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="foyer-bench-import-"))
    os.environ.setdefault("FOYER_SECRET_KEY", secrets.token_urlsafe(48))
    from app import create_app  # noqa: PLC0415 - after the environment is set
    from app.accounts.background import wait_for_background  # noqa: PLC0415
    from app.api.policy import SCOPES  # noqa: PLC0415
    from app.clients.services import create_client  # noqa: PLC0415
    from app.connections.services import create_connection  # noqa: PLC0415
    from app.db import session  # noqa: PLC0415
    from app.migrate import upgrade  # noqa: PLC0415
    from app.security.hash_formats import pbkdf2_sha256  # noqa: PLC0415
    from app.security.hash_formats import scrypt_hash  # noqa: PLC0415
    from app.security.passwords import hash_password  # noqa: PLC0415
    from app.tenancy.services import create_tenant  # noqa: PLC0415
    from app.testing import host_client  # noqa: PLC0415
    from app.testing import login  # noqa: PLC0415

    app = create_app(
        {
            "instance_path": str(folder / "instance"),
            "database_url": args.database_url or f"sqlite:///{folder / 'foyer.db'}",
            "plugins_dir": str(folder / "no-plugins"),
            "rate_limit_login": "100000 per minute",
        }
    )
    upgrade(app.extensions["foyer.db"])  # as an operator does first (SQLite upgrades itself)
    with app.app_context():
        tenant = create_tenant("bench", "Bench", ["https://login.bench"])
        create_connection(tenant, "users", "database")
        model, secret = create_client(
            tenant,
            "Importer",
            grant_types=["client_credentials"],
            redirect_uris=[],
            scope=" ".join(SCOPES),
            audience="https://login.bench/api/v1/",
        )
        session.commit()
        client_id = model.client_id
        hashes = {
            "argon2id": hash_password(PASSWORD),
            "bcrypt": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode(),
            "pbkdf2": "pbkdf2_sha256$" + pbkdf2_sha256(PASSWORD, "benchsalt", 600_000),
            "scrypt": scrypt_hash(PASSWORD, "benchsalt", n=2**15),
        }
    # requests run outside the set-up's app context, each in its own, as on a server
    with contextlib.nullcontext():
        browser = host_client(app, "login.bench")
        token = browser.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        ).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        rows = make_rows(args.rows, hashes)
        body = json.dumps({"connection": "users", "users": rows})
        started = time.monotonic()
        answer = browser.post(
            "/api/v1/users/imports", data=body, content_type="application/json", headers=headers
        )
        accepted = time.monotonic()
        if answer.status_code != 202:
            print(answer.status_code, answer.get_data(as_text=True)[:500], file=sys.stderr)
            return 1
        location = answer.headers["Location"]
        samples = [(accepted, time.process_time(), 0)]
        while True:
            job = browser.get(location, headers=headers).get_json()
            samples.append((time.monotonic(), time.process_time(), job["processed"]))
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        wait_for_background(app, timeout=60)
        finished = time.monotonic()
        seconds = finished - started
        tenths = tenth_rates(samples, args.rows)
        print(
            json.dumps(
                {
                    "figure": "api_import",
                    "rows": args.rows,
                    "status": job["status"],
                    "imported": job["imported"],
                    "failed": job["failed"],
                    "first_errors": job["errors"][:2],
                    "body_mb": round(len(body) / 1e6, 1),
                    "accept_seconds": round(accepted - started, 2),
                    "total_seconds": round(seconds, 2),
                    "rows_per_second": round(args.rows / seconds),
                    "cpu_rows_per_second": round(
                        args.rows / max(1e-9, samples[-1][1] - samples[0][1])
                    ),
                    "rows_per_second_by_tenth": tenths,
                    "last_to_first_tenth": round(tenths[-1] / tenths[0], 2) if tenths else None,
                    "database": app.extensions["foyer.db"].engine.dialect.name,
                }
            ),
            flush=True,
        )
        for index, kind in enumerate(FORMATS):
            ok = 0
            took = time.monotonic()
            for k in range(args.sign_ins):
                n = index + k * len(FORMATS) * 7
                user_browser = host_client(app, "login.bench")
                answer = login(user_browser, f"user{n}-{kind}@import.example", PASSWORD)
                ok += answer.status_code == 303
                if answer.status_code != 303 and os.environ.get("BENCH_DEBUG"):
                    print(answer.status_code, answer.get_data(as_text=True)[:3000], file=sys.stderr)
            print(
                json.dumps(
                    {
                        "figure": "imported_sign_in",
                        "format": kind,
                        "signed_in": ok,
                        "of": args.sign_ins,
                        "ms_each": round((time.monotonic() - took) * 1000 / args.sign_ins),
                    }
                ),
                flush=True,
            )
    app.extensions["foyer.db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
