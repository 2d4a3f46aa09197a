"""docs/plugins.md lists every fixture of the test kit, with the signature of each factory,
and documents FlowStopped as it is."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import app.testing as kit
from app.testing import USER_PASSWORD
from app.testing import FlowStopped
from app.testing import run_authorization_code_flow

DOC = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()


def public_fixtures() -> dict[str, object]:
    found = {}
    for name, value in vars(kit).items():
        if not name.startswith("_") and type(value).__name__ == "FixtureFunctionDefinition":
            found[name] = value
    return found


def fixture_rows() -> dict[str, str]:
    return dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", DOC, re.M))


def test_every_fixture_is_listed():
    assert set(public_fixtures()) - {"foyer_database_url"} <= set(fixture_rows())


@pytest.mark.parametrize(
    "name", ["make_user", "make_connection", "make_organization", "make_client", "make_login_tx"]
)
def test_factories_are_listed_with_their_signature(name, request):
    factory = request.getfixturevalue(name)
    parameters = inspect.signature(factory).parameters
    row = fixture_rows()[name]
    shown = re.search(rf"`{name}\((.*?)\) ->", row).group(1)
    assert [p.strip().split("=")[0].lstrip("*") for p in shown.split(",")] == list(parameters)


def test_flow_stopped_is_documented_as_it_is(client, oidc_client, user):
    app, secret = oidc_client
    example = re.search(r"with pytest.raises\(FlowStopped\).*?\n(.*?)\n  ```", DOC, re.S).group(1)
    assert "stopped.value.response" in example
    with pytest.raises(FlowStopped) as stopped:
        run_authorization_code_flow(client, app, secret, user.email, USER_PASSWORD + "x")
    assert isinstance(stopped.value, AssertionError)
    assert "Wrong email or password" in stopped.value.response.get_data(as_text=True)
