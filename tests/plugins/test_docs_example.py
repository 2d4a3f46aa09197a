"""The claims rule of docs/plugins.md, and its test, run as a plugin author would run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def example_files() -> dict[str, str]:
    """Code blocks of the doc whose first line names a file (``# plugins/x.py``)."""
    files = {}
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        first = block.splitlines()[0]
        if re.fullmatch(r"# (plugins|tests)/\w+\.py", first):
            files[first[2:]] = block
    return files


def test_docs_claims_rule_and_its_test_are_short():
    files = example_files()
    assert {"plugins/team_claim.py", "tests/test_team_claim.py"} <= set(files)
    assert set(files) == {
        "plugins/team_claim.py",
        "tests/test_team_claim.py",
        "plugins/plan_claim.py",
        "tests/test_plan_claim.py",
    }
    first = ("plugins/team_claim.py", "tests/test_team_claim.py")
    assert sum(len(files[name].strip().splitlines()) for name in first) < 40


def test_docs_claims_rule_example_passes_its_own_test(tmp_path):
    for name, body in example_files().items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(body)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
