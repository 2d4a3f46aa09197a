"""The ``foyer`` command line: every room's commands, and plugins', come through the
``register_commands`` hook; ``foyer --help`` needs no database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from app.accounts.cli import register_commands as register_users
from app.accounts.models import User
from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.oidc.cli import register_commands as register_clients
from app.plugins import BUILTIN_PLUGINS
from app.plugins import load_plugins_for_cli
from app.security.passwords import verify_password
from app.testing import USER_PASSWORD

register_users(cli)
register_clients(cli)

README = Path(__file__).resolve().parent.parent / "README.md"
GROUPS = {
    "apply",
    "backup",
    "clients",
    "connections",
    "db",
    "demo",
    "doctor",
    "events",
    "export",
    "hrd",
    "keys",
    "mail",
    "scim",
    "orgs",
    "plugins",
    "restore",
    "run",
    "themes",
    "users",
    "worker",
}
"""Every command ``foyer --help`` lists without plugins."""

PLUGIN = """\
import click

from app import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("hello")
    def hello():
        \"\"\"Say hello.\"\"\"
        click.echo("hello from a plugin")

    @cli.commands["users"].command("count")
    def count():
        \"\"\"Count users.\"\"\"
"""


def foyer(tmp_path: Path, *args: str, plugins_dir: Path | None = None) -> str:
    """Run the ``foyer`` console script's ``main()`` with no database to reach."""
    env = {
        **os.environ,
        "FOYER_INSTANCE_PATH": str(tmp_path / "instance"),
        "FOYER_DATABASE_URL": "postgresql://foyer@127.0.0.1:9/nowhere",
        "FOYER_PLUGINS_DIR": str(plugins_dir or tmp_path / "no-plugins"),
    }
    code = "from app.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def listed(help_text: str) -> set[str]:
    """The command names under ``Commands:`` in a help text."""
    section = help_text.split("Commands:\n", 1)[1]
    return {line.split()[0] for line in section.splitlines() if line.startswith("  ")}


@pytest.fixture
def full_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> click.Group:
    """``foyer`` with the commands of every builtin plugin, as ``main()`` adds them."""
    monkeypatch.setenv("FOYER_PLUGINS_DIR", str(tmp_path / "no-plugins"))
    monkeypatch.setenv("FOYER_INSTANCE_PATH", str(tmp_path / "instance"))
    load_plugins_for_cli().hook.register_commands(cli=cli)
    return cli


def test_help_lists_every_room_without_a_database(tmp_path):
    assert listed(foyer(tmp_path, "--help")) == GROUPS


def test_rooms_add_their_commands_as_builtin_plugins(full_cli):
    for module in ("app.accounts.cli", "app.oidc.cli", "app.hrd.cli", "app.plugin_commands"):
        assert module in BUILTIN_PLUGINS
    users = full_cli.commands["users"]
    assert isinstance(users, click.Group)
    assert set(users.commands) == {
        "create",
        "import",
        "send-reset",
        "block",
        "unblock",
        "migrate",
        "sign-out",
    }
    clients = full_cli.commands["clients"]
    assert isinstance(clients, click.Group) and set(clients.commands) == {"create"}


def test_a_plugin_adds_commands_through_register_commands(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "greeter.py").write_text(PLUGIN)
    assert listed(foyer(tmp_path, "--help", plugins_dir=plugins)) == GROUPS | {"hello"}
    assert foyer(tmp_path, "hello", plugins_dir=plugins) == "hello from a plugin\n"
    assert "count" in listed(foyer(tmp_path, "users", "--help", plugins_dir=plugins))


def test_readme_lists_real_commands_and_options(full_cli):
    block = re.search(r"### Commands\n\n```\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its command list"
    for line in block.group(1).splitlines():
        words = line.split()[1:]
        command: click.Command = full_cli
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            command = command.commands[words.pop(0)]
        assert command is not full_cli, line
        options = {opt for param in command.params for opt in param.opts}
        for word in re.findall(r"(?<![\w-])--[a-z-]+", line):
            assert word in options, f"{line}: {word}"


def test_users_create_takes_the_password_from_stdin(foyer_app, connection, recorded_events):
    args = ["users", "create", "--tenant", "acme", "--connection", "users"]
    made = CliRunner().invoke(
        cli,
        [*args, "--email", "new@example.com", "--password-stdin"],
        input=f"{USER_PASSWORD}\n",
        obj=AppContext(foyer_app),
    )
    assert made.exit_code == 0, made.output
    user = session.get(User, made.output.strip())
    assert user is not None and user.email == "new@example.com"
    assert verify_password(user.password_hash, USER_PASSWORD)[0]
    assert len(recorded_events("user_created")) == 1
    args[-1] = "staff"
    missing = CliRunner().invoke(
        cli, [*args, "--email", "x@example.com"], obj=AppContext(foyer_app)
    )
    assert missing.exit_code == 1 and "tenant acme has no connection 'staff'" in missing.output


def test_clients_create_prints_the_secret_once(foyer_app, tenant):
    args = ["clients", "create", "--tenant", "acme", "--redirect-uri", "https://app.test/cb"]
    confidential = CliRunner().invoke(cli, [*args, "--name", "Portal"], obj=AppContext(foyer_app))
    assert confidential.exit_code == 0, confidential.output
    assert re.fullmatch(r"client_id: \S+\nclient_secret: \S+\n", confidential.output)
    public = CliRunner().invoke(
        cli, [*args, "--name", "SPA", "--auth-method", "none"], obj=AppContext(foyer_app)
    )
    assert re.fullmatch(r"client_id: \S+\n", public.output)
    unknown = CliRunner().invoke(
        cli, ["clients", "create", "--tenant", "nope", "--name", "X"], obj=AppContext(foyer_app)
    )
    assert unknown.exit_code == 1 and "no tenant named 'nope'" in unknown.output
