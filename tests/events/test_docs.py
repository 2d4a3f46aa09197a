"""docs/events.md documents exactly the event types the code records."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app.events.types import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "events.md"
RECORDERS = {"record_event", "commit_with_event", "commit_with_events"}


def recorded_types() -> dict[str, list[str]]:
    """Every type code passed to the recording functions in app/ and plugins/, with where."""
    found: dict[str, list[str]] = {}
    for path in [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in RECORDERS or not node.args:
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                f"{where}: pass the event type as a literal, so it can be checked"
            )
            found.setdefault(first.value, []).append(where)
    return found


def documented_types() -> list[str]:
    """The first column of the tables under "## Event types"."""
    section = DOC.read_text().split("\n## Event types\n", 1)[1]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.M)


def test_every_recorded_type_is_known_and_documented():
    recorded = recorded_types()
    unknown = {code: where for code, where in recorded.items() if code not in EVENT_TYPES}
    assert not unknown, f"not in app/events/types.py: {unknown}"
    undocumented = sorted(set(recorded) - set(documented_types()))
    assert not undocumented, f"add these to docs/events.md: {undocumented}"


def test_every_documented_type_is_recorded_somewhere():
    documented = documented_types()
    assert len(documented) == len(set(documented)), "a type is documented twice"
    assert sorted(set(documented) - set(recorded_types())) == []
    assert sorted(set(EVENT_TYPES) - set(documented)) == []
