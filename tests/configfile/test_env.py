"""``${VAR}`` substitution: values from the environment, errors naming the variable and line."""

from __future__ import annotations

import pytest

from app.configfile.problems import ConfigInvalid
from app.configfile.source import expand
from app.configfile.source import read_source
from app.configfile.spec import read_spec
from app.tenancy.services import find_tenant

from .conftest import BASE
from .conftest import SECRET


def load(text: str, env: dict[str, str]) -> dict:
    return read_spec(read_source(text, "t.yaml", env))[0]


def test_expand_replaces_variables_and_keeps_escapes():
    assert expand("a ${X} b $${Y} c $ d $$", {"X": "1"}) == ("a 1 b ${Y} c $ d $$", ["X"], [])
    text, names, errors = expand("${MISSING} ${bad-name} ${open", {})
    assert names == ["MISSING"]
    assert [message for _, message in errors] == [
        "environment variable MISSING is not set",
        "invalid variable reference: write ${NAME} (letters, digits, _) or $${ for a literal ${",
        "invalid variable reference: write ${NAME} (letters, digits, _) or $${ for a literal ${",
    ]


def test_values_come_from_the_environment(foyer):
    text = BASE.replace("display_name: Acme Inc.", "display_name: ${TENANT_TITLE}")
    result = foyer.apply(text, env={"TENANT_TITLE": "Acme (QA)"})
    assert result.exit_code == 0, result.output
    assert find_tenant("acme").display_name == "Acme (QA)"


def test_a_missing_variable_is_an_error_naming_it_and_its_line(foyer):
    result = foyer.apply(BASE, env={"PORTAL_SECRET": None})
    assert result.exit_code == 1
    line = next(i for i, text in enumerate(BASE.splitlines(), 1) if "${PORTAL_SECRET}" in text)
    assert (
        f"error: {foyer.tmp_path / 'tenant.yaml'}:{line}:13: clients[0].secret: "
        "environment variable PORTAL_SECRET is not set"
    ) in result.stderr
    assert find_tenant("acme") is None


def test_every_missing_variable_is_listed():
    text = "version: 1\ntenant:\n  name: ${A}\n  display_name: ${B}\n  domains: [x.test]\n"
    with pytest.raises(ConfigInvalid) as info:
        load(text, {})
    assert [str(p) for p in info.value.problems] == [
        "t.yaml:3:9: tenant.name: environment variable A is not set",
        "t.yaml:4:17: tenant.display_name: environment variable B is not set",
    ]


def test_dollar_dollar_brace_is_a_literal(foyer):
    spec = load(BASE.replace("region: north", "region: '$${NOT_A_VAR}'"), {"PORTAL_SECRET": SECRET})
    assert spec["organizations"][0]["metadata"] == {"region": "${NOT_A_VAR}"}


def test_plain_values_are_typed_after_substitution_quoted_ones_stay_strings():
    text = BASE + (
        "users:\n  - connection: staff\n    email: a@north.acme.test\n"
        "    email_verified: ${VERIFIED}\n"
    )
    spec = load(text, {"PORTAL_SECRET": SECRET, "VERIFIED": "true"})
    assert spec["users"][0]["email_verified"] is True
    quoted = text.replace("email_verified: ${VERIFIED}", "email_verified: '${VERIFIED}'")
    with pytest.raises(ConfigInvalid) as info:
        load(quoted, {"PORTAL_SECRET": SECRET, "VERIFIED": "true"})
    assert "users[0].email_verified: expected true or false, got a string" in str(info.value)


def test_a_value_cannot_inject_yaml_structure():
    text = BASE.replace("display_name: Acme Inc.", "display_name: ${TITLE}")
    spec = load(text, {"PORTAL_SECRET": SECRET, "TITLE": "x\nprune: true\nfoo: {bar: 1}"})
    assert spec["tenant"]["display_name"] == "x\nprune: true\nfoo: {bar: 1}"
    assert spec["tenant"]["prune"] is False


def test_variables_in_comments_are_ignored():
    spec = load("# uses ${NOWHERE}\n" + BASE, {"PORTAL_SECRET": SECRET})
    assert spec["tenant"]["name"] == "acme"
