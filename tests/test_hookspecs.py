"""Every hook is documented, typed, named by its family, called by the core, in docs/hooks.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from app import hookspecs
from app.hookdocs import FIRSTRESULT_FAMILIES
from app.hookdocs import collect_hooks
from app.hookdocs import family_of
from app.hookdocs import render_hooks_markdown

ROOT = Path(__file__).resolve().parent.parent
HOOKS = collect_hooks()
IDS = [hook.name for hook in HOOKS]


def test_every_hookspec_in_the_module_is_collected():
    specs = {
        name
        for name, func in vars(hookspecs).items()
        if callable(func) and getattr(func, "foyer_spec", None) is not None
    }
    assert specs == set(IDS)


@pytest.mark.parametrize("hook", HOOKS, ids=IDS)
def test_hook_is_fully_documented(hook):
    doc = hook.docstring
    summary = doc.splitlines()[0]
    assert summary.endswith("."), f"{hook.name}: the summary is one sentence"
    assert ":returns:" in doc, f"{hook.name}: no :returns:"
    assert "Called by:" in doc, f"{hook.name}: no 'Called by:' line"
    called_by = doc.split("Called by:", 1)[1]
    assert re.search(r"(Not\s+scoped|Organization-scoped)", called_by), (
        f"{hook.name}: the Called by paragraph must say whether it is scoped"
    )
    assert "raising" in called_by.lower() or "raises" in called_by.lower(), (
        f"{hook.name}: say what happens when an implementation raises"
    )
    for param in inspect.signature(getattr(hookspecs, hook.name)).parameters:
        assert f":param {param}:" in doc, f"{hook.name}: :param {param}: is missing"


@pytest.mark.parametrize("hook", HOOKS, ids=IDS)
def test_called_by_names_a_file_that_calls_the_hook(hook):
    """No dead hooks: the file named in 'Called by' exists and calls the hook by name."""
    called_by = hook.docstring.split("Called by:", 1)[1]
    path = re.search(r"(app/[\w/]+(\.py)?)", called_by)
    assert path, f"{hook.name}: 'Called by' names no file under app/"
    target = ROOT / path.group(1)
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files and all(f.exists() for f in files), f"{hook.name}: {target} does not exist"
    pattern = re.compile(rf"""(["']{hook.name}["']|\.hook\.{hook.name}\()""")
    assert any(pattern.search(f.read_text()) for f in files), (
        f"{hook.name}: {path.group(1)} never calls it"
    )


@pytest.mark.parametrize("hook", HOOKS, ids=IDS)
def test_hook_is_typed(hook):
    sig = inspect.signature(getattr(hookspecs, hook.name))
    assert sig.return_annotation is not inspect.Signature.empty, f"{hook.name}: no return type"
    for param in sig.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{hook.name}({param.name})"
        assert param.default is inspect.Parameter.empty, "hookspec arguments take no defaults"


@pytest.mark.parametrize("hook", HOOKS, ids=IDS)
def test_hook_name_fits_a_family(hook):
    family = family_of(hook.name)
    assert family is not None, f"{hook.name} fits none of the families of STYLE.md §3.2"
    assert not hook.name.startswith(("on_", "foyer_")), hook.name
    assert hook.firstresult == (family in FIRSTRESULT_FAMILIES), (
        f"{hook.name}: firstresult must match its family ({family})"
    )


def test_family_check_rejects_names_outside_the_families():
    assert family_of("on_user_created") is None
    assert family_of("user_created") is None
    assert family_of("extra_token_claims") is not None
    assert family_of("user_from_legacy_store") is not None


def test_docs_hooks_md_is_generated_from_the_hookspecs():
    text = (ROOT / "docs" / "hooks.md").read_text()
    assert text == render_hooks_markdown(), (
        "docs/hooks.md is stale: run `foyer plugins hooks --write docs/hooks.md`"
    )
    for hook in HOOKS:
        assert f"### {hook.name}" in text
