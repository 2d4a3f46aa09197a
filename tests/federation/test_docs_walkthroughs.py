"""docs/federation.md, social presets, upstream logout and the IdP walk-throughs: every
configuration example applies with ``foyer apply`` and makes the connections it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from app.connections.models import Connection
from app.db import session
from app.strategies.github import KNOWN as GITHUB_OPTIONS
from app.strategies.social import PRESETS
from tests.configfile.conftest import foyer  # noqa: F401 - the fixture

DOC = (Path(__file__).resolve().parents[2] / "docs" / "federation.md").read_text()
LATER = DOC[DOC.index("## Social sign-in") :]
EXAMPLES = re.findall(r"```yaml\n(.*?)```", LATER, re.S)
SECRETS = {name: f"secret of {name}" for name in re.findall(r"\$\{(\w+)\}", LATER)}


def test_there_is_an_example_per_walk_through():
    assert len(EXAMPLES) == 6  # social, upstream logout, Okta, Entra ID, Google, ADFS
    for heading in ("### Okta", "### Microsoft Entra ID", "### Google Workspace", "### ADFS"):
        assert heading in LATER


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_the_example_applies(foyer, example):  # noqa: F811
    result = foyer.apply(example, env=SECRETS)
    assert result.exit_code == 0, result.output
    wanted = yaml.safe_load(example)["connections"]
    for entry in wanted:
        connection = session.scalars(
            sa.select(Connection).where(Connection.name == entry["name"])
        ).one()
        assert connection.strategy == entry["strategy"]
        assert connection.options == (entry.get("options") or {})
        if "secrets" in entry:
            [(variable,)] = [re.findall(r"\$\{(\w+)\}", v) for v in entry["secrets"].values()]
            assert connection.get_secrets() == {"client_secret": SECRETS[variable]}


def test_every_preset_option_is_documented():
    for preset in PRESETS.values():
        for option in preset.extra:
            assert f"`{option}`" in LATER, option
        assert f"`{preset.name}`" in LATER
    for option in GITHUB_OPTIONS:
        assert f"`{option}`" in LATER, option
    for option in ("upstream_logout", "end_session_endpoint", "hosted_domain", "tenants"):
        assert f"`{option}`" in LATER


def test_the_logos_the_doc_names_are_shipped():
    static = Path(__file__).resolve().parents[2] / "themes" / "default" / "static"
    for name in ("google", "microsoft", "github"):
        assert f"`{name}.svg`" in LATER
        assert (static / "img" / "connections" / f"{name}.svg").read_text().startswith("<svg")


def test_apply_names_a_preset_option_that_does_not_fit(foyer):  # noqa: F811
    google = next(e for e in EXAMPLES if "hosted_domain: hooli.example" in e)
    result = foyer.apply(google.replace("hooli.example\n", "not a domain\n", 1), env=SECRETS)
    assert result.exit_code != 0
    assert "hosted_domain" in result.output
