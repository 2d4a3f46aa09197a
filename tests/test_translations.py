"""The message catalogs are current: every string the code shows can be translated.

Regenerate after changing wording::

    pybabel extract -F pyproject.toml -k _l --no-location --sort-output \\
        -o translations/messages.pot .
    pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"


def msgids(path: Path) -> set[str]:
    with path.open("rb") as fh:
        return {str(message.id) for message in read_po(fh) if message.id}


def test_messages_pot_is_current(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "pyproject.toml",
         "-k", "_l", "--no-location", "--sort-output", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    committed = msgids(TRANSLATIONS / "messages.pot")
    current = msgids(fresh)
    assert current - committed == set(), "new strings: run pybabel extract (see module doc)"
    assert committed - current == set(), "stale strings: run pybabel extract (see module doc)"


def test_every_catalog_has_every_message():
    template = msgids(TRANSLATIONS / "messages.pot")
    catalogs = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert "en" in {catalog.parent.parent.name for catalog in catalogs}
    for catalog in catalogs:
        assert msgids(catalog) == template, f"{catalog}: run pybabel update (see module doc)"


def test_login_pages_strings_are_extracted():
    template = msgids(TRANSLATIONS / "messages.pot")
    for message in ("Email or username", "Wrong email or password.", "Sign out?",
                    "You are signed out", "Skip to content", "Your form expired"):
        assert message in template
