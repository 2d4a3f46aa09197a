"""The debug view for support staff: ``foyer hrd explain`` and the token-protected page."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from app.cli import AppContext
from app.cli import cli
from app.hrd.cli import register_commands
from app.testing import read_form
from tests.hrd.conftest import text

register_commands(cli)
TOKEN = "support-token-0123456789abcdef0123456789"


def explain(foyer_app, *args: str):
    return CliRunner().invoke(
        cli, ["hrd", "explain", "--tenant", "acme", *args], obj=AppContext(foyer_app)
    )


def test_explains_an_email_domain_routing(foyer_app, world):
    result = explain(foyer_app, "--identifier", "gina@globex.example")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "tenant acme, host login.test"
    assert any(re.match(r"\s+identifier_map\s+passed", line) for line in lines)
    assert any(
        re.match(
            r"\s+email_domain\s+chose\s+organization globex, connection "
            r"globex-staff \(email domain globex.example\)",
            line,
        )
        for line in lines
    )
    assert any(re.match(r"\s+user_lookup\s+skipped", line) for line in lines)
    assert lines[-1] == "outcome:      the password page of connection globex-staff"


def test_explains_a_vanity_host_with_a_contradicting_parameter(foyer_app, world, app_client):
    result = explain(
        foyer_app,
        "--host",
        "acme.login.test",
        "--param",
        "organization=globex",
        "--client",
        app_client[0].client_id,
        "--json",
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [s["outcome"] for s in found["request"]] == ["chose", "passed", "refused"]
    assert found["outcome"] == (
        "refused: The request names two organizations: 'globex' and "
        "'acme'. (the application gets error=invalid_request)"
    )


def test_explains_the_picker_and_the_upstream_redirect(foyer_app, world):
    picker = json.loads(
        explain(
            foyer_app,
            "--identifier",
            "x@nowhere.example",
            "--json",
            "--param",
            "connection=acme-staff",
        ).output
    )
    assert picker["organization"] == "acme"  # the connection serves acme alone
    upstream = json.loads(
        explain(foyer_app, "--identifier", "una@umbrella.example", "--json").output
    )
    assert upstream["outcome"] == (
        "redirect to the upstream identity provider of connection umbrella-sso"
    )
    path = json.loads(explain(foyer_app, "--path", "initech", "--json").output)
    assert path["request"][-1]["method"] == "vanity_path"
    assert path["outcome"] == "the identifier page"


def test_refuses_wrong_questions_in_one_line(foyer_app, world):
    assert (
        "no tenant named"
        in CliRunner()
        .invoke(cli, ["hrd", "explain", "--tenant", "nope"], obj=AppContext(foyer_app))
        .output
    )
    assert "is not a host of tenant acme" in explain(foyer_app, "--host", "evil.test").output
    assert "names no organization" in explain(foyer_app, "--path", "nope").output
    assert "--param takes NAME=VALUE" in explain(foyer_app, "--param", "organization").output


def test_debug_page_is_off_without_a_configured_token(client, world):
    assert client.get("/hrd/explain").status_code == 404
    assert client.post("/hrd/explain").status_code in (400, 404)


class TestDebugPage:
    @pytest.fixture
    def foyer_config(self, foyer_config):
        return {**foyer_config, "hrd_debug_token": TOKEN}

    def test_needs_the_support_token(self, client, world, recorded_events):
        page = client.get("/hrd/explain")
        assert page.status_code == 200
        form = read_form(text(page), "hrd-explain-form")
        refused = client.post(
            form.action, data={**form.fields, "token": "guess", "identifier": "gina@globex.example"}
        )
        assert refused.status_code == 403
        assert "gina" not in text(refused)
        assert recorded_events("hrd_explained")[-1].data == {"refused": "wrong_token"}

    def test_shows_the_chain_for_staff(self, client, world, recorded_events):
        page = client.get("/hrd/explain")
        form = read_form(text(page), "hrd-explain-form")
        shown = client.post(
            form.action,
            data={
                **form.fields,
                "token": TOKEN,
                "identifier": "alice@acme.example",
                "host": "acme.login.test",
            },
        )
        body = text(shown)
        assert shown.status_code == 200
        assert 'id="hrd-request-steps"' in body and 'id="hrd-identifier-steps"' in body
        assert "<code>vanity_host</code>" in body
        assert "the password page of connection acme-staff" in body
        assert TOKEN not in body
        event = recorded_events("hrd_explained")[-1]
        assert event.data["outcome"] == "the password page of connection acme-staff"
        assert TOKEN not in json.dumps(event.data)
