"""SAML Single Logout: off by default; when on, signing out of Foyer sends a signed
LogoutRequest to the IdP and comes back signed out; the IdP's own LogoutRequest ends the
Foyer sessions of that upstream session."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from app.db import session
from app.sessions.models import SsoSession
from app.strategies.saml_models import SamlSession
from app.testing import submit_form
from tests.saml.conftest import SLO
from tests.saml.conftest import code_of
from tests.saml.conftest import location
from tests.saml.conftest import post_response
from tests.saml.conftest import query_of
from tests.saml.conftest import start_sign_in


@pytest.fixture
def single_logout(saml_options):
    saml_options["single_logout"] = True
    return saml_options


def signed_in(client, app, idp) -> SamlSession:
    started = start_sign_in(client, app, idp)
    assert code_of(post_response(client, idp.response_for(started.authn), started.relay_state))
    [row] = session.scalars(sa.select(SamlSession)).all()
    assert row.sso_session_id is not None and row.session_index
    return row


def sign_out(client):
    return submit_form(client, client.get("/logout"), "logout-form")


def test_signing_out_of_foyer_does_not_sign_out_upstream_by_default(client, corp, app_client, idp):
    signed_in(client, app_client[0], idp)
    response = sign_out(client)
    assert response.status_code == 303
    assert location(response).endswith("/logout")
    assert idp.logout_requests == []


def test_single_logout_sends_a_signed_logout_request_and_comes_back_signed_out(
    client, single_logout, corp, app_client, idp
):
    row = signed_in(client, app_client[0], idp)
    response = sign_out(client)
    url = location(response)
    assert url.startswith(f"{idp.base}/slo/redirect?")
    assert "Signature=" in url and "SigAlg=" in url
    at_idp = requests.get(url, allow_redirects=False, timeout=10)  # the IdP checks it
    [request] = idp.logout_requests
    assert request.name_id.text == "u-1001"
    assert [index.text for index in request.session_index] == [row.session_index]
    back = at_idp.headers["Location"]
    assert back.startswith(SLO)
    answer = client.get(back)
    assert answer.status_code == 303 and location(answer).endswith("/logout")
    assert "signed out" in client.get(location(answer)).get_data(as_text=True).lower()
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is not None


def test_logout_request_from_the_idp_ends_the_foyer_session(
    client, corp, app_client, idp, recorded_events
):
    row = signed_in(client, app_client[0], idp)
    params = idp.logout_request(SLO, row.name_id, row.session_index)
    response = client.get("/saml/corp-saml/slo", query_string=params)
    assert response.status_code == 303
    assert location(response).startswith(f"{idp.base}/slo/redirect?SAMLResponse=")
    assert "Signature=" in location(response)
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is not None
    assert client.get("/login/done").status_code == 302  # this browser is signed out
    [event] = recorded_events("logout")
    assert event.data["via"] == "saml_slo" and event.data["sessions"] == 1


def test_unsigned_logout_request_from_the_idp_is_refused(client, corp, app_client, idp):
    row = signed_in(client, app_client[0], idp)
    params = idp.logout_request(SLO, row.name_id, row.session_index)
    params.pop("Signature")
    response = client.get("/saml/corp-saml/slo", query_string=params)
    assert response.status_code == 502
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is None


def test_logout_request_for_another_subject_ends_nothing(client, corp, app_client, idp):
    row = signed_in(client, app_client[0], idp)
    params = idp.logout_request(SLO, row.name_id.replace("u-1001", "u-2002"), None)
    response = client.get("/saml/corp-saml/slo", query_string=params)
    assert response.status_code == 303
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is None
    assert query_of(location(response))["SAMLResponse"]


def test_application_logout_signs_out_upstream_then_returns_to_the_application(
    client, single_logout, corp, app_client, idp
):
    """RP-initiated logout (``/oidc/logout`` with a valid hint) goes through the IdP's
    Single Logout, then to the application's registered post-logout address."""
    from app.testing import exchange_code

    app, secret = app_client
    app.post_logout_redirect_uris = ["https://app.test/signed-out"]
    session.commit()
    started = start_sign_in(client, app, idp)
    answer = code_of(post_response(client, idp.response_for(started.authn), started.relay_state))
    tokens = exchange_code(
        client,
        app,
        {
            "code": answer["code"],
            "redirect_uri": "https://app.test/callback",
            "verifier": started.verifier,
        },
        secret,
    ).get_json()
    response = client.get(
        "/oidc/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://app.test/signed-out",
            "state": "bye",
        },
    )
    url = location(response)
    assert url.startswith(f"{idp.base}/slo/redirect?"), url
    at_idp = requests.get(url, allow_redirects=False, timeout=10)
    assert len(idp.logout_requests) == 1
    back = client.get(at_idp.headers["Location"])
    assert location(back) == "https://app.test/signed-out?state=bye"
