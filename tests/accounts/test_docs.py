"""docs/accounts.md says what the code does: its settings table and its commands."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from click.testing import CliRunner

from app.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"


def test_settings_table_gives_the_real_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    rows = re.findall(r"^\| `FOYER_([A-Z_]+)` \| ([^|]+) \|", DOC.read_text(), re.M)
    assert len(rows) == 7
    for name, documented in rows:
        value = defaults[name.lower()]
        assert documented.strip().removesuffix(" s") == str(value), name


def test_documented_commands_exist():
    from app.cli import cli
    from app.orgs.cli import register_commands

    if "orgs" not in cli.commands:
        register_commands(cli)
    runner = CliRunner()
    for args in (
        ["orgs", "invite", "--help"],
        ["orgs", "invitations", "list", "--help"],
        ["orgs", "invitations", "revoke", "--help"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    help_text = runner.invoke(cli, ["orgs", "invite", "--help"]).output
    for option in ("--roles", "--locale", "--invited-by", "--days", "--no-email"):
        assert option in help_text and option in DOC.read_text()
