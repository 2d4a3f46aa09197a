"""docs/themes.md works: a designer follows "Your first theme" and sees the change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.branding.cli import register_commands
from app.cli import cli
from app.testing import host_client

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "themes.md"


@pytest.fixture
def foyer_config(foyer_config, tmp_path):
    return {**foyer_config, "themes_dir": str(tmp_path / "themes")}


def test_the_first_theme_walkthrough(foyer_app, client, tenant, tmp_path, monkeypatch):
    guide = GUIDE.read_text()
    name = re.search(r"^\s*foyer themes new (\S+)$", guide, re.M).group(1)
    old, new = re.search(r"change the line\s+`([^`]+)` to `([^`]+)`", guide).groups()
    url_path = re.search(rf"http://127\.0\.0\.1:5000(/_themes/{name}/[^`\s]+)", guide).group(1)
    # the address the guide gives, not a tenant's host name
    preview = host_client(foyer_app, "127.0.0.1:5000", scheme="http")

    root = Path(foyer_app.extensions["foyer.settings"].themes_dir)
    assert root.is_relative_to(tmp_path)
    monkeypatch.setenv("FOYER_THEMES_DIR", str(root))
    monkeypatch.setenv("FOYER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FOYER_PLUGINS_DIR", str(tmp_path / "no-plugins"))
    register_commands(cli)
    created = CliRunner().invoke(cli, ["themes", "new", name])
    assert created.exit_code == 0, created.output
    css = root / name / "static" / "css" / "theme.css"
    assert (root / name / "theme.toml").is_file() and (root / name / "templates").is_dir()
    assert old in css.read_text()

    foyer_app.extensions["foyer.settings"].theme_development = True  # `foyer themes preview`
    try:
        before = preview.get(url_path)
        assert before.status_code == 200, before.get_data(as_text=True)[:200]
        index = preview.get("/_themes/").get_data(as_text=True)
        assert f"/_themes/{name}/login/identifier" in index
        assert "README" not in index  # the scaffold's note is no page
        css.write_text(css.read_text().replace(old, new))
        after = preview.get(url_path).get_data(as_text=True)
    finally:
        foyer_app.extensions["foyer.settings"].theme_development = False
    bundle = re.search(rf'href="(/assets/[0-9a-f]{{16}}/{name}\.css)"', after).group(1)
    served = client.get(bundle).get_data(as_text=True)
    property_, value = (part.strip(" ;") for part in new.split(":", 1))
    assert f"{property_}:{value}" in served
    # the new value comes last in the chain, so it wins over default's
    assert served.rindex(f"{property_}:") == served.index(f"{property_}:{value}")

    checked = CliRunner().invoke(cli, ["themes", "check"])
    assert checked.exit_code == 0, checked.output


def test_new_refuses_bad_names_and_unknown_parents(tmp_path, monkeypatch):
    monkeypatch.setenv("FOYER_THEMES_DIR", str(tmp_path / "themes"))
    monkeypatch.setenv("FOYER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FOYER_PLUGINS_DIR", str(tmp_path / "no-plugins"))
    register_commands(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["themes", "new", "Bad Name"]).exit_code == 1
    assert runner.invoke(cli, ["themes", "new", "ok", "--parent", "nope"]).exit_code == 1
    assert runner.invoke(cli, ["themes", "new", "default"]).exit_code == 1
    made = runner.invoke(cli, ["themes", "new", "child", "--parent", "harbor"])
    assert made.exit_code == 0, made.output
    assert 'parent = "harbor"' in (tmp_path / "themes" / "child" / "theme.toml").read_text()
    listed = runner.invoke(cli, ["themes", "list"])
    assert re.search(r"^child\s+Child\s+child -> harbor -> default$", listed.output, re.M)
