"""The organization picker: a searchable list where the tenant allows it, else "enter your
organization's name"; the last organization used on this device is offered first."""

from __future__ import annotations

import re

import pytest

from app.db import session
from app.login.last_organization import COOKIE
from app.testing import host_client
from tests.hrd.conftest import PASSWORDS
from tests.hrd.conftest import authorize
from tests.hrd.conftest import callback
from tests.hrd.conftest import exchange
from tests.hrd.conftest import follow
from tests.hrd.conftest import location
from tests.hrd.conftest import submit
from tests.hrd.conftest import text
from tests.hrd.conftest import type_identifier
from tests.hrd.conftest import type_password


@pytest.fixture
def list_mode(tenant):
    tenant.settings = {**(tenant.settings or {}), "hrd": {"organization_picker": "list"}}
    session.commit()


def open_picker(browser):
    page = follow(browser, browser.get("/login"))
    href = re.search(r'<a href="([^"]+)" id="choose-organization"', text(page)).group(1)
    return follow(browser, browser.get(href.replace("&amp;", "&")))


def test_name_mode_lists_nothing_and_asks_for_the_name(client, world):
    picker = open_picker(client)
    body = text(picker)
    assert picker.status_code == 200
    assert '<label class="field__label" for="organization_name">Organization name</label>' in body
    assert 'id="organization-list-form"' not in body
    for name in ("Acme Corporation", "Globex Corporation", "Initech"):
        assert name not in body


@pytest.mark.parametrize("typed", ["globex", "Globex Corporation", "GLOBEX CORPORATION"])
def test_name_mode_accepts_the_name_or_the_display_name(client, world, typed):
    page = submit(client, open_picker(client), "organization-name-form", organization_name=typed)
    assert page.request.path == "/login"
    assert "Globex Corporation" in text(page)


def test_name_mode_unknown_name_says_so_on_the_same_page(client, world):
    answer = submit(
        client, open_picker(client), "organization-name-form", organization_name="Hooli"
    )
    assert answer.status_code == 400
    assert 'role="alert"' in text(answer)
    assert "We could not find that organization." in text(answer)


def test_name_mode_refuses_a_list_button_it_did_not_show(client, world):
    picker = open_picker(client)
    answer = submit(client, picker, "organization-name-form", organization="globex")
    assert answer.status_code == 400


def test_list_mode_shows_a_searchable_list_of_buttons(client, world, list_mode):
    picker = open_picker(client)
    body = text(picker)
    assert 'role="search"' in body
    label = '<label class="field__label" for="organization-search">Search organizations</label>'
    assert label in body
    buttons = re.findall(r'name="organization" value="([a-z0-9-]+)"', body)
    assert buttons == ["acme", "globex", "initech", "umbrella"]
    form = re.search(r'action="([^"]+)"', body[body.index('id="organization-search-form"') :])
    searched = client.get(
        form.group(1),
        query_string={"tx": re.search(r'name="tx" value="([^"]+)"', body).group(1), "q": "corp"},
    )
    assert re.findall(r'name="organization" value="([a-z0-9-]+)"', text(searched)) == [
        "acme",
        "globex",
    ]
    nothing = client.get(
        form.group(1),
        query_string={"tx": re.search(r'name="tx" value="([^"]+)"', body).group(1), "q": "%_"},
    )
    assert 'id="organization-none"' in text(nothing)


def test_list_mode_choice_then_sign_in(client, world, list_mode, app_client, recorded_events):
    app, secret = app_client
    page, request = authorize(client, app)
    href = re.search(r'<a href="([^"]+)" id="choose-organization"', text(page)).group(1)
    picker = follow(client, client.get(href.replace("&amp;", "&")))
    page = submit(client, picker, "organization-list-form", organization="initech")
    done = type_password(
        client, type_identifier(client, page, "carla@consultants.example"), PASSWORDS["carla"]
    )
    assert exchange(client, secret, request, callback(done, request)).id_token["org_name"] == (
        "initech"
    )
    [event] = recorded_events("login_succeeded")
    assert event.data["hrd"][0]["method"] == "user_choice"
    assert event.data["hrd"][0]["detail"] == "picker (list)"


def test_last_organization_is_offered_first_and_survives_sign_out(foyer_app, world, app_client):
    browser = host_client(foyer_app)
    app, secret = app_client
    page, request = authorize(browser, app, organization="initech")
    done = type_password(
        browser, type_identifier(browser, page, "carla@consultants.example"), PASSWORDS["carla"]
    )
    cookie = browser.get_cookie(COOKIE, domain="login.test")
    assert cookie is not None and cookie.http_only and cookie.secure
    assert world.initech.id not in cookie.value or "." in cookie.value  # signed, not bare
    exchange(browser, secret, request, callback(done, request))
    logout = follow(browser, browser.get("/logout"))
    submit(browser, logout, "logout-form")
    assert browser.get_cookie(COOKIE, domain="login.test") is not None

    picker = open_picker(browser)
    body = text(picker)
    assert body.index('id="organization-last"') < body.index('id="organization-name-form"')
    assert "Continue with <bdi>Initech</bdi>" in body
    page = submit(browser, picker, "organization-last-form", organization="initech")
    assert page.request.path == "/login"
    assert "Initech" in text(page)


def test_a_tampered_last_organization_cookie_is_ignored(client, world):
    client.set_cookie(COOKIE, "eyJ0IjoieCIsIm8iOiJ5In0.forged", domain="login.test")
    assert 'id="organization-last"' not in text(open_picker(client))


def test_the_picker_cannot_change_an_organization_the_application_chose(client, world, app_client):
    page, _request = authorize(client, app_client[0], organization="acme")
    tx = re.search(r"tx=([A-Za-z0-9_-]+)", text(page)).group(1)
    answer = client.get(f"/login/organization?tx={tx}")
    assert answer.status_code == 302
    assert location(answer).startswith("/login?tx=")


def test_the_picker_without_a_sign_in_starts_one(client, world):
    answer = client.get("/login/organization")
    assert answer.status_code == 302
    assert location(answer).startswith("/login/organization?tx=")


def test_an_expired_sign_in_gets_the_expired_page(client, world):
    assert client.get("/login/organization?tx=gone").status_code == 400
