"""The SAML client of a connection is kept per worker (:mod:`app.strategies.saml_clients`):
built once for many sign-ins, built again when what it is made of changes (SP keys,
options, IdP metadata), its key files private and removed with it. And F-06's schema step:
an answer whose XML the SAML schemas do not allow is refused before anything reads it."""

from __future__ import annotations

import os
import stat

import pytest
from saml2 import ExtensionElement

from app.db import session
from app.strategies import saml_clients
from app.strategies.saml_keys import rotate
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in
from tests.saml.test_checks import refused


@pytest.fixture(autouse=True)
def no_kept_clients():
    saml_clients.clear()
    yield
    saml_clients.clear()


def sign_in_once(client, app_client, idp, **params) -> None:
    started = start_sign_in(client, app_client[0], idp, **params)
    answer = post_response(client, idp.response_for(started.authn), started.relay_state)
    assert "code" in code_of(answer), answer.status_code


def test_many_sign_ins_build_the_client_once(client, corp, app_client, idp):
    before = saml_clients.builds
    sign_in_once(client, app_client, idp)
    sign_in_once(client, app_client, idp, prompt="login")
    assert saml_clients.builds - before == 1  # the request and both answers share it


def test_a_key_rotation_or_an_option_change_builds_a_new_client(client, corp, app_client, idp):
    sign_in_once(client, app_client, idp)
    before = saml_clients.builds
    connection = corp.connections[0]
    rotate(connection, "start")
    session.commit()
    start_sign_in(client, app_client[0], idp, prompt="login")
    assert saml_clients.builds - before == 1
    connection.options = {**connection.options, "clock_skew": 30}
    session.commit()
    start_sign_in(client, app_client[0], idp, prompt="login")
    assert saml_clients.builds - before == 2


def test_the_key_files_are_private_and_removed_with_the_client(client, corp, app_client, idp):
    start_sign_in(client, app_client[0], idp)
    [entry] = saml_clients._entries.values()
    assert stat.S_IMODE(os.stat(entry.folder).st_mode) == 0o700
    keys = [name for name in os.listdir(entry.folder) if name.endswith(".key")]
    assert keys
    for name in keys:
        assert stat.S_IMODE(os.stat(os.path.join(entry.folder, name)).st_mode) == 0o600
    saml_clients.clear()
    assert not os.path.exists(entry.folder)


def test_an_answer_the_schema_does_not_allow_is_refused_before_it_is_read(
    client, corp, app_client, idp, recorded_events
):
    started = start_sign_in(client, app_client[0], idp)

    def smuggle(response):  # an element no SAML schema has there, then signed by the IdP
        response.extension_elements.append(ExtensionElement("Extra", namespace="urn:x-evil"))

    encoded = idp.crafted(started.authn, smuggle)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "schema:")
