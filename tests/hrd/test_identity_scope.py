"""Identity scope and crossing organizations.

Isolated users: the same email is two people in two organizations' connections, and
discovery never mixes them up. A user of organization A asking for organization B gets no
code: an isolated user is simply unknown there; a shared-pool user who is not a member is
refused with a clear, localized reason. A session of A never silently serves B.
"""

from __future__ import annotations

from app.testing import host_client
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import sign_in
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password


def test_same_email_in_two_organizations_is_two_people(foyer_app, world, app_client):
    app, secret = app_client
    at_acme = sign_in(
        host_client(foyer_app),
        app,
        secret,
        "sam@shared.example",
        PASSWORDS["sam-acme"],
        organization="acme",
    )
    at_globex = sign_in(
        host_client(foyer_app),
        app,
        secret,
        "sam@shared.example",
        PASSWORDS["sam-globex"],
        organization="globex",
    )
    assert at_acme.id_token["sub"] == world.users["sam-acme"].id
    assert at_globex.id_token["sub"] == world.users["sam-globex"].id
    assert at_acme.id_token["sub"] != at_globex.id_token["sub"]
    assert (at_acme.id_token["org_name"], at_globex.id_token["org_name"]) == ("acme", "globex")


def test_one_organizations_password_never_opens_the_other(client, world, app_client):
    page, _request = authorize(client, app_client[0], organization="globex")
    refused = type_password(
        client, type_identifier(client, page, "sam@shared.example"), PASSWORDS["sam-acme"]
    )
    assert refused.status_code == 400
    assert "Wrong email or password." in text(refused)


def test_vanity_host_finds_only_its_own_sam(foyer_app, world, app_client):
    app, secret = app_client
    tokens = sign_in(
        host_client(foyer_app, "acme.login.test"),
        app,
        secret,
        "sam@shared.example",
        PASSWORDS["sam-acme"],
    )
    assert tokens.id_token["sub"] == world.users["sam-acme"].id


def test_without_organization_isolated_users_are_not_searched(
    client, world, app_client, recorded_events
):
    page, _request = authorize(client, app_client[0])
    refused = type_password(
        client, type_identifier(client, page, "sam@shared.example"), PASSWORDS["sam-acme"]
    )
    assert refused.status_code == 400  # the same answer as for any wrong password
    [event] = recorded_events("login_failed")
    assert event.connection_id not in (world.acme_staff.id, world.globex_staff.id)


def test_isolated_user_of_a_trying_b_gets_no_code(client, world, app_client, recorded_events):
    page, _request = authorize(client, app_client[0], organization="globex")
    refused = type_password(
        client, type_identifier(client, page, "alice@acme.example"), PASSWORDS["alice"]
    )
    assert refused.status_code == 400
    assert not recorded_events("login_succeeded")
    [event] = recorded_events("login_failed")
    assert event.organization_id == world.globex.id
    steps = [s["method"] for s in event.data["hrd"]]
    assert steps == ["organization_parameter", "user_lookup"]  # acme's domain was set aside


def test_a_session_of_a_does_not_serve_b_for_an_isolated_user(client, world, app_client):
    app, secret = app_client
    sign_in(client, app, secret, "alice@acme.example", PASSWORDS["alice"], organization="acme")
    page, _request = authorize(client, app, organization="globex")
    assert page.request.path == "/login"  # a sign-in to globex, not a code
    assert "Globex Corporation" in text(page)


def test_shared_user_not_a_member_is_refused_clearly_and_gets_no_code(
    client, world, app_client, recorded_events
):
    page, _request = authorize(client, app_client[0], organization="globex")
    refused = type_password(
        client, type_identifier(client, page, "carla@consultants.example"), PASSWORDS["carla"]
    )
    assert refused.status_code == 403
    assert "Your account is not a member of Globex Corporation." in text(refused)
    assert not recorded_events("login_succeeded")
    [denied] = recorded_events("login_denied")
    assert denied.data["code"] == "not_a_member"


def test_the_refusal_is_in_the_users_language(client, world, app_client):
    page, _request = authorize(client, app_client[0], organization="globex", ui_locales="fr")
    refused = type_password(
        client, type_identifier(client, page, "carla@consultants.example"), PASSWORDS["carla"]
    )
    assert refused.status_code == 403
    assert 'lang="fr"' in text(refused)
    assert "Votre compte n’est pas membre de Globex Corporation." in text(refused)


def test_a_session_of_a_serves_b_for_a_member_of_both_after_checking_membership(
    client, world, app_client
):
    app, secret = app_client
    sign_in(
        client, app, secret, "dora@consultants.example", PASSWORDS["dora"], organization="initech"
    )
    response, request = authorize(client, app, organization="globex")
    tokens = exchange(client, secret, request, callback(response, request))
    assert tokens.id_token["org_name"] == "globex"
    assert tokens.id_token["sub"] == world.users["dora"].id


def test_a_session_of_a_does_not_serve_b_for_a_shared_user_who_is_not_a_member(
    client, world, app_client
):
    app, secret = app_client
    sign_in(
        client, app, secret, "carla@consultants.example", PASSWORDS["carla"], organization="initech"
    )
    page, _request = authorize(client, app, organization="globex")
    assert page.request.path == "/login"
    response, request = authorize(client, app, organization="globex", prompt="none")
    assert callback(response, request)["error"] == "login_required"


def test_a_session_of_another_connection_does_not_serve_a_connection_parameter(
    client, world, app_client
):
    app, secret = app_client
    sign_in(
        client, app, secret, "dora@consultants.example", PASSWORDS["dora"], organization="globex"
    )
    page, _request = authorize(client, app, organization="globex", connection="globex-staff")
    assert page.request.path == "/login"
