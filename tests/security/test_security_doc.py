"""docs/security.md cannot rot: every test it names exists (as pytest collects it), and every
item of the security checklist has its row."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"

CHECKLIST = (
    [f"P-{n:02d}" for n in range(1, 21)]
    + [f"A-{n:02d}" for n in range(1, 12)]
    + [f"L-{n:02d}" for n in range(1, 16)]
    + [f"S-{n:02d}" for n in range(1, 11)]
    + [f"F-{n:02d}" for n in range(1, 13)]
    + [f"I-{n:02d}" for n in range(1, 11)]
    + [f"O-{n:02d}" for n in range(1, 11)]
)
"""The codes of the checklist's items (sections 1 to 7)."""

CONFORMANCE = ["§0.1", "§0.2", "§0.3", "§0.4"]
CVE_CLASSES = 11

REFERENCE = re.compile(r"(tests/[\w/]+\.py)(?:::(test_\w+))?|::(test_\w+)")


def table_rows(text: str) -> list[str]:
    """The body rows of every table (no header, no separator)."""
    rows = []
    for block in re.split(r"\n(?!\|)", text):
        lines = [line for line in block.splitlines() if line.startswith("|")]
        rows.extend(lines[2:])
    return rows


def references(row: str) -> tuple[set[str], set[str]]:
    """The files a row names, and its tests as ``file::name`` (a bare ``::name`` belongs to
    the file named last before it in the row)."""
    files: set[str] = set()
    tests: set[str] = set()
    current = None
    for match in REFERENCE.finditer(row):
        path, name, bare = match.groups()
        if path:
            current = path
            files.add(path)
            if name:
                tests.add(f"{path}::{name}")
        else:
            assert current is not None, f"::{bare} names no file: {row[:80]}"
            tests.add(f"{current}::{bare}")
    return files, tests


def collected(files: set[str]) -> set[str]:
    """The node ids pytest collects in ``files``, without their parameters."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + sorted(files),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {line.split("[")[0] for line in result.stdout.splitlines() if "::" in line}


def test_every_test_the_doc_names_exists():
    rows = table_rows(DOC.read_text())
    assert len(rows) > 150
    files: set[str] = set()
    tests: set[str] = set()
    for row in rows:
        row_files, row_tests = references(row)
        files |= row_files
        tests |= row_tests
    missing_files = sorted(f for f in files if not (ROOT / f).is_file())
    assert missing_files == []
    assert len(tests) > 200
    found = collected(files)
    assert sorted(tests - found) == []
    for path in files:  # a file named alone holds tests
        assert any(node.startswith(f"{path}::") for node in found), path


def test_every_checklist_item_has_its_row():
    text = DOC.read_text()
    section = text[text.index("## The checklist, item by item") :]
    first_cells = [row.split("|")[1].strip() for row in table_rows(section)]
    for code in CHECKLIST:
        rows = [cell for cell in first_cells if cell.startswith(f"{code} ")]
        assert len(rows) == 1, code
    for plan in CONFORMANCE:
        assert any(cell.startswith(plan) for cell in first_cells), plan
    assert sum(cell.startswith("§8 ") for cell in first_cells) == CVE_CLASSES


def test_every_row_says_how_it_is_held():
    """A row names a test, or says why not (does not apply, open, or other rows)."""
    text = DOC.read_text()
    section = text[text.index("## The checklist, item by item") :]
    for row in table_rows(section):
        held = row.split("|")[2]
        assert (
            REFERENCE.search(held)
            or "Does not apply" in held
            or "**open**" in held
            or "rows " in held
            or "row " in held
            or "no single test" in held
        ), row[:100]


def test_the_parser_sees_a_missing_test(tmp_path):
    """The check can fail: a name that no file holds is reported."""
    _files, tests = references("| x | tests/security/test_security_doc.py::test_nothing_here |")
    found = collected({"tests/security/test_security_doc.py"})
    assert tests - found == {"tests/security/test_security_doc.py::test_nothing_here"}
