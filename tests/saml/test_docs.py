"""docs/federation.md's SAML section: its configuration example applies, and it names every
option and every attribute Foyer looks for."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from app.connections.models import Connection
from app.db import session
from app.strategies.saml_settings import DEFAULT_ATTRIBUTES
from app.strategies.saml_settings import KNOWN_OPTIONS
from tests.configfile.conftest import foyer  # noqa: F401 - the fixture

DOC = (Path(__file__).resolve().parents[2] / "docs" / "federation.md").read_text()
SAML = DOC[DOC.index("\n## SAML 2.0\n") :]


def test_the_saml_example_applies(foyer):  # noqa: F811
    example = re.search(r"```yaml\n(.*?)```", SAML, re.S).group(1)
    result = foyer.apply(example)
    assert result.exit_code == 0, result.output
    connection = session.scalars(
        sa.select(Connection).where(Connection.name == "globex-saml")
    ).one()
    assert connection.strategy == "saml"
    assert connection.options["email_verified"] is True


def test_a_bad_saml_option_is_refused_by_apply(foyer):  # noqa: F811
    example = re.search(r"```yaml\n(.*?)```", SAML, re.S).group(1)
    broken = example.replace("email_verified: true", "email_verifed: true")
    result = foyer.apply(broken)
    assert result.exit_code != 0
    assert "email_verifed" in result.output


def test_every_option_and_attribute_is_documented():
    for option in KNOWN_OPTIONS:
        assert f"`{option}`" in SAML, option
    for field, names in DEFAULT_ATTRIBUTES.items():
        assert f"| `{field}` |" in SAML, field
        for name in names:
            if not name.startswith("http://schemas.microsoft.com/ws/2008/06/identity/claims/r"):
                assert f"`{name}`" in SAML, name
