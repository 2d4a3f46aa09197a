"""The package root is the one import surface for plugins, and it loads lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import app

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILES = sorted((ROOT / "plugins").glob("*.py"))


@pytest.mark.parametrize("name", app.__all__)
def test_every_public_name_resolves(name):
    assert getattr(app, name) is not None
    assert name in dir(app)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'metadata'"):
        app.metadata  # noqa: B018


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_example_plugins_import_only_the_package_root(path):
    tree = ast.parse(path.read_text())
    deep = [
        f"{path.name}:{node.lineno}: from {node.module} import ..."
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app.")
    ]
    assert not deep, deep


def test_plugin_docs_import_only_the_package_root():
    text = (ROOT / "docs" / "plugins.md").read_text()
    deep = [
        line
        for line in text.splitlines()
        if line.startswith("from app.") and not line.startswith("from app.testing ")
    ]
    assert not deep, deep


def test_importing_one_room_loads_no_other_floor():
    code = "import sys, app.db, app.hooks; print(sorted(m for m in sys.modules if 'app.' in m))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    for room in ("app.factory", "app.login", "app.oidc", "app.accounts"):
        assert f"'{room}" not in loaded, loaded
