"""The setup scripts: installing OS packages waits (bounded) for the package lock."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE_APT = """#!/usr/bin/env bash
# a stand-in apt-get: the package lock is held for the first $LOCKED_CALLS calls
echo "$*" >> "$CALLS"
n=$(wc -l < "$CALLS")
if [ "$n" -le "$LOCKED_CALLS" ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 42 (apt-get)" >&2
  exit 100
fi
exit 0
"""


def run_install(tmp_path: Path, locked_calls: int, wait: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(FAKE_APT)
    (bin_dir / "apt-get").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "LOCKED_CALLS": str(locked_calls),
        "FOYER_APT_WAIT": wait,
        "FOYER_APT_RETRY_SECONDS": "0.1",
    }
    return subprocess.run(
        [str(ROOT / "scripts" / "apt-install"), "chromium"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_apt_install_waits_for_the_package_lock(tmp_path):
    done = run_install(tmp_path, locked_calls=3, wait="30")
    assert done.returncode == 0, done.stderr
    assert "waiting" in done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[-1].endswith("install -y -qq chromium") and len(calls) == 5


def test_apt_install_gives_up_after_its_bound(tmp_path):
    done = run_install(tmp_path, locked_calls=10_000, wait="1")
    assert done.returncode == 1
    assert "gave up waiting for the package lock after 1s" in done.stderr


def test_setup_silences_the_editable_install_note():
    setup = (ROOT / "scripts" / "setup").read_text()
    line = next(line for line in setup.splitlines() if "pip install --quiet -e" in line)
    assert line.strip().startswith('PYTHONWARNINGS="')
    filters = line.strip().split('"')[1]
    # what setuptools' build backend emits (setuptools.warnings.InformationOnly)
    code = (
        "import warnings\n"
        "class InformationOnly(UserWarning): pass\n"
        "warnings.warn('Editable installation.\\n!!\\n****\\nPlease be careful', InformationOnly)\n"
        "warnings.warn('something else', UserWarning)\n"
    )
    ran = subprocess.run(
        ["python3", "-c", code],
        env={**os.environ, "PYTHONWARNINGS": filters},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Editable installation" not in ran.stderr
    assert "something else" in ran.stderr  # other warnings still show
