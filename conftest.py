"""Command-line options of the e2e suite, declared at the root so pytest knows them however
it is started (``scripts/test --theme nocturne`` collects e2e/ through testpaths)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("foyer-e2e")
    group.addoption("--base-url", default=None, help="run e2e against this Foyer deployment")
    group.addoption(
        "--theme",
        default=None,
        help="the local deployment's tenant uses this theme (the suite must pass on every theme)",
    )
    group.addoption(
        "--accounts", default=None, help="JSON file of test accounts and a client (see docs/qa.md)"
    )
