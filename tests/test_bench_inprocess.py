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
