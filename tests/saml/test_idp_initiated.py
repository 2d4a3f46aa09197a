"""IdP-initiated sign-in: off by default; when on, only into the configured application;
a replayed assertion is refused by every worker (the record is in the database)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from app import create_app
from app.accounts.models import Identity
from app.db import session
from app.strategies.saml_models import SamlAssertionSeen
from app.testing import host_client
from tests.saml.conftest import ACS
from tests.saml.conftest import ENTITY_ID
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response


@pytest.fixture
def initiated(saml_options, app_client):
    saml_options["idp_initiated"] = {"enabled": True, "client_id": app_client[0].client_id}
    return saml_options


@pytest.fixture
def app_client(make_client):
    client, secret = make_client("Corp portal", require_pkce=False)
    return client, secret


def test_idp_initiated_sign_in_lands_in_the_configured_application(
    client, initiated, corp, idp, recorded_events
):
    response = post_response(client, idp.unsolicited(ACS, ENTITY_ID), "")
    answer = code_of(response)
    assert answer["code"]
    [event] = recorded_events("login_succeeded")
    assert event.data["hrd"][0]["method"] == "idp_initiated"
    assert event.organization_id == corp.id


def test_idp_initiated_relay_state_never_chooses_where_the_browser_goes(
    client, initiated, corp, idp
):
    response = post_response(client, idp.unsolicited(ACS, ENTITY_ID), "https://evil.test/")
    assert code_of(response)["code"]  # to the configured application, not the RelayState


def test_idp_initiated_without_a_configured_application_is_refused(
    client, saml_options, corp, idp, recorded_events
):
    saml_options["idp_initiated"] = {"enabled": True}
    corp.connections[0].options = saml_options
    flag_modified(corp.connections[0], "options")  # changed in place: save it
    session.commit()
    response = post_response(client, idp.unsolicited(ACS, ENTITY_ID), "")
    assert response.status_code == 502
    assert recorded_events("upstream_failed")[0].data["code"] == "upstream_misconfigured"
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_replayed_assertion_is_refused_by_another_worker(
    foyer_app, foyer_config, client, initiated, corp, idp, recorded_events
):
    encoded = idp.unsolicited(ACS, ENTITY_ID)
    assert code_of(post_response(client, encoded, ""))["code"]
    assert session.scalar(sa.select(sa.func.count()).select_from(SamlAssertionSeen)) == 1
    other_worker = create_app(foyer_config)  # another process: same database, own memory
    with other_worker.app_context():
        browser = host_client(other_worker)
        response = post_response(browser, encoded, "")
    assert response.status_code == 502
    [event] = recorded_events("upstream_failed")
    assert event.data["detail"] == "replayed assertion"


def test_replayed_assertion_is_refused(client, initiated, corp, idp, recorded_events):
    encoded = idp.unsolicited(ACS, ENTITY_ID)
    assert code_of(post_response(client, encoded, ""))["code"]
    client.delete_cookie("__Host-foyer_session", domain="login.test")
    again = post_response(client, encoded, "")
    assert again.status_code == 502
    assert recorded_events("upstream_failed")[0].data["detail"] == "replayed assertion"
