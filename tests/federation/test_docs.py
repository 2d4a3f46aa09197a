"""docs/federation.md: its configuration example applies, and it names every option and
every error page of upstream sign-ins."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from app.connections.models import Connection
from app.db import session
from app.login.federated import PAGES
from app.strategies.oidc_options import KNOWN
from tests.configfile.conftest import foyer  # noqa: F401 - the fixture

DOC = (Path(__file__).resolve().parents[2] / "docs" / "federation.md").read_text()


def test_the_example_applies(foyer):  # noqa: F811
    example = re.search(r"```yaml\n(.*?)```", DOC, re.S).group(1)
    result = foyer.apply(example, env={"ACME_SSO_CLIENT_SECRET": "from-the-idp"})
    assert result.exit_code == 0, result.output
    connection = session.scalars(sa.select(Connection).where(Connection.name == "acme-sso")).one()
    assert connection.strategy == "oidc"
    assert connection.get_secrets() == {"client_secret": "from-the-idp"}


def test_every_option_and_error_page_is_documented():
    for option in KNOWN:
        assert f"`{option}`" in DOC, option
    for page in set(PAGES.values()):
        assert f"`{page}`" in DOC, page
