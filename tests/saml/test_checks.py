"""Every check of a SAML answer, each refusing a crafted or broken response with the
branded error page, an ``upstream_failed`` event naming what failed, and nothing created."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from app.accounts.models import Identity
from app.accounts.models import User
from app.db import session
from app.strategies.saml_keys import new_key_pair
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in


def stamp(seconds: int) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def refused(response, recorded_events, detail: str, page: str = "upstream_failed") -> None:
    """The branded error page, the event naming ``detail``, and no user or identity."""
    assert response.status_code in (403, 502, 503), response.status_code
    body = response.get_data(as_text=True)
    assert 'id="error-reference"' in body or "reference" in body.lower()
    [event] = recorded_events("upstream_failed")
    assert detail in event.data["detail"], event.data
    [shown] = recorded_events("error_shown")
    assert shown.data["code"] == page
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.email == "ada@corp.example")
        )
        == 0
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def confirmation(response):
    return response.assertion[0].subject.subject_confirmation[0].subject_confirmation_data


def test_unsigned_response_and_assertion_are_refused(
    client, corp, app_client, idp, recorded_events
):
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.crafted(started.authn, lambda r: None, sign_response=False)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "are signed")


def test_signature_by_a_key_not_in_the_idp_metadata_is_refused(
    client, corp, app_client, idp, recorded_events, tmp_path
):
    key, _cert, _ = new_key_pair("attacker")
    key_file = os.path.join(tmp_path, "attacker.key")
    with open(key_file, "w") as out:
        out.write(key)
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.crafted(started.authn, lambda r: None, key_file=key_file)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "signature")


def test_response_changed_after_signing_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)
    xml = base64.b64decode(idp.response_for(started.authn)).decode()
    assert "ada@corp.example" in xml
    tampered = base64.b64encode(xml.replace("ada@corp.example", "eve@corp.example").encode())
    response = post_response(client, tampered.decode(), started.relay_state)
    refused(response, recorded_events, "signature")


def test_wrong_audience_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def other_audience(response):
        response.assertion[0].conditions.audience_restriction[0].audience[0].text = "urn:other-sp"

    encoded = idp.crafted(started.authn, other_audience)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")
    [event] = recorded_events("upstream_failed")
    assert "audience" in event.data["detail"].lower() or "condition" in event.data["detail"].lower()


def test_wrong_recipient_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def other_recipient(response):
        confirmation(response).recipient = "https://evil.test/acs"

    encoded = idp.crafted(started.authn, other_recipient)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")


def test_wrong_destination_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def other_destination(response):
        response.destination = "https://evil.test/acs"

    encoded = idp.crafted(started.authn, other_destination)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")


def test_missing_destination_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def no_destination(response):
        response.destination = None

    encoded = idp.crafted(started.authn, no_destination)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "destination")


def test_in_response_to_of_another_request_is_refused(
    client, corp, app_client, idp, recorded_events
):
    started = start_sign_in(client, app_client[0], idp)

    def other_request(response):
        response.in_response_to = "id-of-another-request"
        confirmation(response).in_response_to = "id-of-another-request"

    encoded = idp.crafted(started.authn, other_request)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "InResponseTo")


def test_answer_to_another_browsers_sign_in_is_refused(foyer_app, client, corp, app_client, idp):
    from app.testing import host_client

    started = start_sign_in(client, app_client[0], idp)
    other = host_client(foyer_app)
    other.get("/login")  # a browser of its own, with its own cookie
    response = post_response(other, idp.response_for(started.authn), started.relay_state)
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_expired_assertion_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def expired(response):
        assertion = response.assertion[0]
        assertion.conditions.not_before = stamp(-900)
        assertion.conditions.not_on_or_after = stamp(-600)
        confirmation(response).not_on_or_after = stamp(-600)

    encoded = idp.crafted(started.authn, expired)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")


def test_assertion_not_yet_valid_is_refused(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)

    def early(response):
        response.assertion[0].conditions.not_before = stamp(600)

    encoded = idp.crafted(started.authn, early)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")


def test_clock_skew_within_the_allowance_is_accepted(client, corp, app_client, idp):
    started = start_sign_in(client, app_client[0], idp)

    def slightly_ahead(response):  # the IdP's clock is 30 s ahead of Foyer's
        response.assertion[0].conditions.not_before = stamp(30)
        response.issue_instant = stamp(30)

    encoded = idp.crafted(started.authn, slightly_ahead)
    assert code_of(post_response(client, encoded, started.relay_state))["code"]


def test_idp_error_status_shows_the_cancelled_page(client, corp, app_client, idp, recorded_events):
    started = start_sign_in(client, app_client[0], idp)
    response = post_response(client, idp.error_response(started.authn), started.relay_state)
    refused(response, recorded_events, "status", page="upstream_denied")
    assert recorded_events("upstream_failed")[0].data["code"] == "access_denied"


def test_the_same_answer_twice_is_refused(client, corp, app_client, idp):
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(started.authn)
    assert code_of(post_response(client, encoded, started.relay_state))["code"]
    again = post_response(client, encoded, started.relay_state)
    assert again.status_code == 400  # the sign-in's state is good once


def test_signature_wrapping_with_a_second_unsigned_assertion_is_refused(
    client, corp, app_client, idp, recorded_events
):
    """XSW: the signed assertion stays (its signature checks), an attacker's unsigned
    assertion for another subject is added before it; the response itself is unsigned."""
    import copy

    from saml2.samlp import response_from_string

    started = start_sign_in(client, app_client[0], idp)
    signed = base64.b64decode(
        idp.response_for(started.authn, sign_response=False, sign_assertion=True)
    ).decode()
    response = response_from_string(signed)
    evil = copy.deepcopy(response.assertion[0])
    evil.id = "_evil"
    evil.signature = None
    evil.subject.name_id.text = "victim"
    response.assertion.insert(0, evil)
    encoded = base64.b64encode(str(response).encode()).decode()
    answer = post_response(client, encoded, started.relay_state)
    assert answer.status_code == 502
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_signature_wrapping_with_the_signed_assertion_moved_is_refused(
    client, corp, app_client, idp, recorded_events
):
    """XSW: the attacker's assertion takes the signed one's place and ID, the original
    signed assertion is hidden in an Advice element where the signature still finds it."""
    import copy

    from saml2 import saml
    from saml2.samlp import response_from_string

    started = start_sign_in(client, app_client[0], idp)
    signed = base64.b64decode(
        idp.response_for(started.authn, sign_response=False, sign_assertion=True)
    ).decode()
    response = response_from_string(signed)
    original = response.assertion[0]
    evil = copy.deepcopy(original)
    evil.signature = None
    evil.subject.name_id.text = "victim"
    evil.advice = saml.Advice(assertion=[original])
    response.assertion = [evil]
    encoded = base64.b64encode(str(response).encode()).decode()
    answer = post_response(client, encoded, started.relay_state)
    assert answer.status_code == 502
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_unsolicited_response_is_refused_when_idp_initiated_sign_in_is_off(
    client, corp, idp, recorded_events
):
    encoded = idp.unsolicited("https://login.test/saml/corp-saml/acs", "urn:foyer:acme:corp-saml")
    response = post_response(client, encoded, "")
    refused(response, recorded_events, "unsolicited")


@pytest.mark.parametrize("binding", ["post"])
def test_require_signed_assertions_refuses_a_signed_response_with_an_unsigned_assertion(
    client, corp, app_client, idp, recorded_events, binding
):
    corp_connection = corp.connections[0]
    corp_connection.options = {**corp_connection.options, "require_signed_assertions": True}
    session.commit()
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(started.authn, sign_response=True, sign_assertion=False)
    refused(post_response(client, encoded, started.relay_state), recorded_events, "")
