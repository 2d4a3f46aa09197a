"""The in-process bench driver works against this checkout: every step of a scenario checks
its answer, so a driver that cannot sign in fails here before a comparison relies on it."""

from __future__ import annotations

import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``python -m bench.MODULE ARGS`` from the checkout, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("scenario", ["sso_sign_in"])
def test_the_in_process_driver_runs_a_scenario(scenario):
    done = run_bench("inprocess", scenario, "2")
    assert done.returncode == 0, done.stderr[-3000:]


def test_an_unknown_scenario_is_named():
    done = run_bench("inprocess", "no_such_scenario", "1", timeout=60)
    assert done.returncode != 0
    assert "unknown scenario 'no_such_scenario'" in done.stderr


def test_per_request_figures_name_each_request_with_its_statements_and_commits():
    done = run_bench("per_request", "full_sign_in", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {" ".join(line.split()[:2]): line.split()[2:] for line in done.stdout.splitlines()[1:7]}
    assert set(rows) == {
        "GET /authorize",
        "GET /login",
        "POST /login",
        "GET /login/password",
        "POST /login/password",
        "POST /oauth/token",
    }
    for count, _cpu, statements, commits in rows.values():
        assert count == "2" and statements.isdigit() and commits.isdigit()
    assert int(rows["POST /login/password"][2]) > 0  # the statements are counted
    assert "work beyond argon2id" in done.stdout


def test_floor_prints_each_app_beside_foyer():
    done = run_bench("floor", "--ops", "5", "--rounds", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line[:28].strip(): line[28:].split() for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"Foyer", "Flask + authlib", "Flask alone", "one RS256 signature alone"}
    assert rows["Foyer"][1] == "1.00x"
    assert all(float(figures[0]) > 0 for figures in rows.values())


@pytest.mark.parametrize("build", ["with_authlib", "flask_alone"])
def test_the_bare_apps_do_the_work_they_stand_for(tmp_path, build):
    """A floor that skipped the secret check or the signature would flatter the gap."""
    import base64

    from joserfc import jwt

    from bench import floor

    stack = floor.Stack(tmp_path, "m2m", "right secret")
    client = getattr(floor, build)(stack, "/token").test_client()

    def ask(secret: str) -> t.Any:
        basic = base64.b64encode(f"m2m:{secret}".encode()).decode()
        form = {"grant_type": "client_credentials", "scope": floor.SCOPE}
        return client.post("/token", data=form, headers={"Authorization": f"Basic {basic}"})

    assert ask("wrong secret").status_code == 401
    answer = ask("right secret")
    assert answer.status_code == 200
    token = jwt.decode(answer.get_json()["access_token"], stack.key, algorithms=["RS256"])
    assert token.claims["client_id"] == "m2m" and token.claims["scope"] == floor.SCOPE
