"""F-05: a connection switched off (``enabled: false`` in the configuration file, or
``foyer connections disable``) keeps its users and settings, but no login page or
discovery offers it, and an answer of its IdP is refused with the organization's branded
page, even for a sign-in that started before the switch."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts.models import Identity
from app.cli import cli
from app.clikit import AppContext
from app.connections.cli import register_commands
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import read_form
from tests.configfile.conftest import foyer  # noqa: F401 - the fixture
from tests.federation.conftest import authorize
from tests.federation.conftest import come_back
from tests.federation.conftest import press
from tests.federation.conftest import text
from tests.federation.conftest import upstream_url
from tests.federation.test_config_file import FILE
from tests.hrd.conftest import type_identifier

register_commands(cli)


def switch_off(connection) -> None:
    connection.enabled = False
    session.commit()


def test_a_switched_off_idp_has_no_button_and_cannot_be_pressed(client, realm, app_client):
    app, _secret = app_client
    switch_off(realm.globex_sso)
    page, _request = authorize(client, app, organization="globex")
    body = text(page)
    assert 'id="connection-globex-sso"' not in body
    assert 'id="login-identifier-form"' in body  # the password connection beside it stays
    form = read_form(body, "login-identifier-form")  # its tx and CSRF token
    tx = parse_qs(urlsplit(form.action).query)["tx"][0]
    forged = client.post(
        f"/login/connection?tx={tx}",
        data={"connection": "globex-sso", "csrf_token": form.fields["csrf_token"]},
    )
    assert forged.status_code == 400
    assert "Location" not in forged.headers


def test_the_email_domain_no_longer_sends_anyone_to_it(client, realm, app_client):
    app, _secret = app_client
    switch_off(realm.acme_sso)
    page, _request = authorize(client, app)
    answer = type_identifier(client, page, "kim@acme.example")
    assert not answer.headers.get("Location", "").startswith("http://127.0.0.1")


def test_the_connection_parameter_names_it_as_an_unknown_one(client, realm, app_client):
    app, _secret = app_client
    switch_off(realm.acme_sso)
    off, _request = authorize(client, app, connection="acme-sso")
    unknown, _request = authorize(client, app, connection="no-such-connection")
    assert off.status_code == unknown.status_code
    answers = [parse_qs(urlsplit(r.headers.get("Location", "")).query) for r in (off, unknown)]
    assert answers[0]["error"] == answers[1]["error"] == ["invalid_request"]
    assert answers[0]["error_description"] == answers[1]["error_description"]
    assert not off.headers.get("Location", "").startswith("http://127.0.0.1")


def test_an_answer_after_the_switch_is_refused_on_the_organizations_page(
    client, realm, idp, app_client, recorded_events
):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, _secret = app_client
    page, _request = authorize(client, app, organization="acme")
    redirected = press(client, page, "acme-sso")
    upstream_url(redirected)
    switch_off(realm.acme_sso)
    refused = come_back(client, idp, redirected, "kim")
    assert refused.status_code == 503
    assert "code=" not in refused.headers.get("Location", "")
    body = text(refused)
    assert "help@acme.example" in body  # the organization's support contact
    assert "Acme Corporation" in body
    [shown] = recorded_events("error_shown")
    assert shown.data["reason"] == "connection_disabled"
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_the_command_switches_it_off_and_on(client, tenant, realm, app_client, foyer_app):
    app, _secret = app_client

    def run(verb: str):
        return CliRunner().invoke(
            cli,
            ["connections", verb, "--tenant", tenant.name, "acme-sso"],
            obj=AppContext(foyer_app),
        )

    off = run("disable")
    assert off.exit_code == 0 and "switched off" in off.output, off.output
    session.expire_all()
    assert realm.acme_sso.enabled is False
    page, _request = authorize(client, app, organization="acme")
    assert 'id="connection-acme-sso"' not in text(page)
    assert "already off" in run("disable").output
    on = run("enable")
    assert on.exit_code == 0 and "switched on" in on.output
    session.expire_all()
    page, _request = authorize(client, app, organization="acme")
    assert 'id="connection-acme-sso"' in text(page)
    unknown = CliRunner().invoke(
        cli,
        ["connections", "disable", "--tenant", tenant.name, "nope"],
        obj=AppContext(foyer_app),
    )
    assert unknown.exit_code != 0 and "no connection named 'nope'" in unknown.output


def test_the_configuration_file_switches_it_off_and_exports_the_switch(foyer):  # noqa: F811
    env = {"ACME_SSO_SECRET": "s"}
    off = FILE.replace(
        "    display_name: Acme SSO\n", "    display_name: Acme SSO\n    enabled: false\n"
    )
    result = foyer.apply(off, env=env)
    assert result.exit_code == 0, result.output
    exported = foyer.run("export", "acme").output
    assert "enabled: false" in exported
    assert foyer.apply(FILE, env=env).exit_code == 0
    assert "enabled:" not in foyer.run("export", "acme").output  # on is the default


def test_a_password_connection_switched_off_during_the_sign_in_checks_no_password(
    client, realm, app_client, make_user, recorded_events
):
    app, _secret = app_client
    user = make_user(email="pat@globex.example", connection_=realm.globex_staff)
    page, _request = authorize(client, app, organization="globex")
    password_page = type_identifier(client, page, user.email)
    switch_off(realm.globex_staff)
    form = read_form(text(password_page), "login-password-form")
    refused = client.post(form.action, data={**form.fields, "password": USER_PASSWORD})
    assert refused.status_code == 503
    assert "code=" not in refused.headers.get("Location", "")
    assert recorded_events("login_succeeded") == []
