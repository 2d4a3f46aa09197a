"""Loading plugins: builtins, the plugins folder, names, sources, and ``foyer plugins``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app import create_app
from app import hookimpl
from app.plugins import BUILTIN_PLUGINS
from app.plugins import SOURCE_BUILTIN
from app.plugins import SOURCE_PLUGINS_DIR
from app.plugins import PluginLoadError


def test_plugins_folder_modules_are_named_by_file_and_sourced(foyer_app):
    pm = foyer_app.extensions["foyer.pm"]
    for name in (
        "org_claims",
        "deny_ip_ranges",
        "require_verified_email",
        "legacy_sqlite_store",
        "legacy_http_store",
    ):
        assert pm.get_plugin(name) is not None, name
        assert pm.sources[name] == SOURCE_PLUGINS_DIR
    for name in BUILTIN_PLUGINS:
        assert pm.sources[name] == SOURCE_BUILTIN


def test_a_broken_plugin_module_stops_start_up(foyer_config, tmp_path):
    folder = tmp_path / "broken-plugins"
    folder.mkdir()
    (folder / "bad_hook.py").write_text(
        "from app import hookimpl\n\n@hookimpl\ndef no_such_hook():\n    return 1\n"
    )
    with pytest.raises(PluginLoadError, match="'no_such_hook' is not a Foyer hook"):
        create_app({**foyer_config, "plugins_dir": str(folder)})


def test_a_misspelt_hook_is_one_line_with_a_suggestion(foyer_config, tmp_path):
    folder = tmp_path / "misspelt"
    folder.mkdir()
    (folder / "team.py").write_text(
        "from app import hookimpl\n\n@hookimpl\ndef extra_token_claim(target):\n    return {}\n"
    )
    with pytest.raises(PluginLoadError) as raised:
        create_app({**foyer_config, "plugins_dir": str(folder)})
    assert str(raised.value) == (
        "plugin 'team': 'extra_token_claim' is not a Foyer hook "
        "(did you mean 'extra_token_claims'?) (every hook: docs/hooks.md)"
    )


def test_foyer_names_the_misspelt_hook_on_one_line(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "team.py").write_text(
        "from app import hookimpl\n\n@hookimpl\ndef check_logn(context):\n    return None\n"
    )
    env = {
        **os.environ,
        "FOYER_PLUGINS_DIR": str(folder),
        "FOYER_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    code = "from app.cli import main; main()"
    ran = subprocess.run(
        [sys.executable, "-c", code, "plugins"], env=env, capture_output=True, text=True
    )
    assert ran.returncode == 1
    assert ran.stderr == (
        "error: plugin 'team': 'check_logn' is not a Foyer hook (did you mean 'check_login'?)"
        " (every hook: docs/hooks.md)\n"
    )


def test_an_argument_the_hook_does_not_offer_is_one_line(foyer_config, tmp_path):
    folder = tmp_path / "wrong-args"
    folder.mkdir()
    (folder / "team.py").write_text(
        "from app import hookimpl\n\n@hookimpl\ndef extra_token_claims(usr):\n    return {}\n"
    )
    with pytest.raises(PluginLoadError, match=r"plugin 'team': extra_token_claims takes \{'usr'\}"):
        create_app({**foyer_config, "plugins_dir": str(folder)})


def test_two_plugins_with_one_name_stop_start_up(foyer_config, tmp_path):
    folder = tmp_path / "dup-plugins"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("FOYER_NAME = 'same'\n")
    (folder / "other.py").write_text("FOYER_NAME = 'same'\n")
    with pytest.raises(PluginLoadError, match="two plugins are named 'same'"):
        create_app({**foyer_config, "plugins_dir": str(folder)})


def _invoke(foyer_app, *args):
    from app.cli import AppContext
    from app.cli import cli
    from app.plugin_commands import register_commands

    if "plugins" not in cli.commands:
        register_commands(cli)
    return CliRunner().invoke(cli, list(args), obj=AppContext(foyer_app))


def test_foyer_plugins_lists_source_hooks_settings_and_where_enabled(
    foyer_app, tenant, make_organization, enable_plugin
):
    org = make_organization("globex")
    enable_plugin("deny_ip_ranges", {"cidrs": ["10.0.0.0/8"]}, organization=org)
    enable_plugin("org_claims", {})
    result = _invoke(foyer_app, "plugins")
    assert result.exit_code == 0, result.output
    out = result.output
    blocks = _blocks(out)
    assert blocks["deny_ip_ranges"] == (
        "deny_ip_ranges\n  source: plugins folder\n  scope: only where enabled\n"
        "  enabled: acme/globex\n  hooks: check_login\n  setting cidrs: list[str] = (required)"
    )
    assert blocks["org_claims"].startswith(
        "org_claims\n  source: plugins folder\n  scope: only where enabled\n"
        "  enabled: tenant acme\n  hooks: extra_token_claims\n"
    )
    assert blocks["app.login.membership_rule"] == (
        "app.login.membership_rule\n  source: builtin\n  scope: everywhere\n  hooks: check_login"
    )
    assert "  enabled: nowhere" in blocks["require_verified_email"]


def test_foyer_plugins_hooks_writes_the_reference(foyer_app, tmp_path):
    from app.hookdocs import render_hooks_markdown

    target = tmp_path / "hooks.md"
    result = _invoke(foyer_app, "plugins", "hooks", "--write", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text() == render_hooks_markdown()


def test_plugin_registered_by_code_is_listed(foyer_app, register_plugin):
    class Recorder:
        @hookimpl
        def track_event(self, event):
            pass

    register_plugin(Recorder(), name="recorder")
    result = _invoke(foyer_app, "plugins", "list")
    assert _blocks(result.output)["recorder"] == (
        "recorder\n  source: registered by code\n  scope: everywhere\n  hooks: track_event"
    )


def _blocks(output):
    """``foyer plugins`` output split per plugin: {name: its lines}."""
    blocks, name = {}, None
    for line in output.splitlines():
        if not line.startswith(" "):
            name = line
            blocks[name] = line
        else:
            blocks[name] += "\n" + line
    return blocks
