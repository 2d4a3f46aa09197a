"""The in-process bench driver works against this checkout: every step of a scenario checks
its answer, so a driver that cannot sign in fails here before a comparison relies on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("scenario", ["sso_sign_in"])
def test_the_in_process_driver_runs_a_scenario(scenario):
    done = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", scenario, "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_an_unknown_scenario_is_named():
    done = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", "no_such_scenario", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "unknown scenario 'no_such_scenario'" in done.stderr


def test_per_request_figures_name_each_request_with_its_statements_and_commits():
    done = subprocess.run(
        [sys.executable, "-m", "bench.per_request", "full_sign_in", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {" ".join(line.split()[:2]): line.split()[2:] for line in done.stdout.splitlines()[1:8]}
    assert set(rows) == {
        "GET /authorize",
        "GET /login",
        "POST /login",
        "GET /login/password",
        "POST /login/password",
        "GET /authorize/resume",
        "POST /oauth/token",
    }
    for count, _cpu, statements, commits in rows.values():
        assert count == "2" and statements.isdigit() and commits.isdigit()
    assert int(rows["POST /login/password"][2]) > 0  # the statements are counted
    assert "work beyond argon2id" in done.stdout
