"""`foyer apply --format json`: the plan and the problems as one JSON document, for CI."""

from __future__ import annotations

import json

from .conftest import BASE
from .conftest import SECRET


def test_the_plan_as_json(foyer):
    result = foyer.apply(BASE, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["applied"] is False and plan["tenant"] == "acme"
    created = {(c["kind"], c["name"]) for c in plan["changes"] if c["action"] == "create"}
    assert ("organization", "north") in created and ("client", "portal") in created
    assert plan["counts"]["create"] == len(plan["changes"])
    assert SECRET not in result.stdout  # secrets never appear
    portal = next(c for c in plan["changes"] if c["name"] == "portal")
    assert {"field": "secret", "secret": True, "change": "(set)"} in portal["fields"]

    applied = json.loads(foyer.apply(BASE, "--format", "json").stdout)
    assert applied["applied"] is True
    again = json.loads(foyer.apply(BASE, "--format", "json").stdout)
    assert again["changes"] == [] and again["applied"] is True


def test_problems_as_json(foyer):
    text = BASE.replace("    metadata: {region: north}", "    metdata: {region: north}")
    result = foyer.apply(text, "--format", "json")
    assert result.exit_code == 1
    [error] = json.loads(result.stdout)["errors"]
    assert error["path"] == "organizations[0].metdata" and error["line"] > 1
    assert "did you mean 'metadata'" in error["message"]
