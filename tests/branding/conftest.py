"""Helpers shared by the theme tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_theme(root: Path, name: str, manifest: str, files: dict[str, str] | None = None) -> Path:
    """A theme folder ``root/name`` with ``theme.toml`` and the given files (dedented)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "theme.toml").write_text(textwrap.dedent(manifest))
    for path, content in (files or {}).items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content))
    return folder
