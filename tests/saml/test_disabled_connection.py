"""F-05: a SAML connection that is deleted (``foyer apply`` without it) or switched off
(``enabled: false``) signs nobody in,
whether the sign-in started at Foyer (SP-initiated, the answer arriving after the change)
or at the IdP (IdP-initiated); an answer to a sign-in into an organization that stopped
enabling the connection while the person was upstream is refused too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Identity
from app.connections.models import OrganizationConnection
from app.db import session
from tests.saml.conftest import ACS
from tests.saml.conftest import ENTITY_ID
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in


@pytest.fixture
def app_client(make_client):
    client, secret = make_client("Corp portal", require_pkce=False)
    return client, secret


@pytest.fixture
def initiated(saml_options, app_client):
    saml_options["idp_initiated"] = {"enabled": True, "client_id": app_client[0].client_id}
    return saml_options


def disable(connection_id: str) -> None:
    """What ``foyer apply`` does when the organization stops listing the connection."""
    session.execute(
        sa.delete(OrganizationConnection).where(
            OrganizationConnection.connection_id == connection_id
        )
    )
    session.commit()
    session.expire_all()


def delete(connection) -> None:
    session.delete(connection)
    session.commit()


def signed_in_nobody(response) -> None:
    assert response.status_code in (400, 403, 404, 502, 503), response.status_code
    assert "code=" not in response.headers.get("Location", "")
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_idp_initiated_is_refused_once_the_connection_is_deleted(client, initiated, corp, idp):
    delete(corp.connections[0])
    signed_in_nobody(post_response(client, idp.unsolicited(ACS, ENTITY_ID), ""))


def test_sp_initiated_answer_is_refused_once_the_connection_is_deleted(
    client, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    delete(corp.connections[0])
    response = post_response(client, idp.response_for(started.authn), started.relay_state)
    signed_in_nobody(response)


def test_a_deleted_connection_starts_no_sign_in(client, corp, app_client, idp):
    delete(corp.connections[0])
    with pytest.raises(AssertionError):
        start_sign_in(client, app_client[0], idp)


def test_sp_initiated_answer_is_refused_once_the_organization_disables_the_connection(
    client, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    disable(corp.connections[0].id)
    response = post_response(client, idp.response_for(started.authn), started.relay_state)
    signed_in_nobody(response)


def switch_off(connection) -> None:
    """``enabled: false`` in the configuration file, or ``foyer connections disable``."""
    connection.enabled = False
    session.commit()


def test_idp_initiated_is_refused_once_the_connection_is_switched_off(
    client, initiated, corp, idp, recorded_events
):
    switch_off(corp.connections[0])
    refused = post_response(client, idp.unsolicited(ACS, ENTITY_ID), "")
    signed_in_nobody(refused)
    assert refused.status_code == 503
    assert recorded_events("error_shown")[-1].data["reason"] == "connection_disabled"


def test_sp_initiated_answer_is_refused_once_the_connection_is_switched_off(
    client, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    switch_off(corp.connections[0])
    response = post_response(client, idp.response_for(started.authn), started.relay_state)
    signed_in_nobody(response)
    assert response.status_code == 503


def test_a_switched_off_connection_starts_no_sign_in(client, corp, app_client, idp):
    switch_off(corp.connections[0])
    with pytest.raises(AssertionError):
        start_sign_in(client, app_client[0], idp)
