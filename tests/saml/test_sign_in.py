"""Signing in through a SAML connection with a real IdP: both bindings, just-in-time user,
profile refresh, attribute mapping, and the code the application gets."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import flag_modified

from app.accounts.models import Identity
from app.accounts.models import User
from app.db import session
from app.testing import exchange_code
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in


def test_sp_initiated_sign_in_with_redirect_binding_creates_the_user_and_returns_a_code(
    client, corp, app_client, idp, recorded_events
):
    started = start_sign_in(client, app_client[0], idp)
    assert started.params["SigAlg"].endswith("rsa-sha256")  # the AuthnRequest is signed
    assert started.authn.message.assertion_consumer_service_url == (
        "https://login.test/saml/corp-saml/acs"
    )
    response = post_response(client, idp.response_for(started.authn), started.relay_state)
    answer = code_of(response)
    assert answer["state"] == "st-1"
    tokens = exchange_code(
        client,
        app_client[0],
        {
            "code": answer["code"],
            "redirect_uri": "https://app.test/callback",
            "verifier": started.verifier,
        },
        app_client[1],
    ).get_json()
    assert "id_token" in tokens, tokens
    user = session.scalar(sa.select(User).where(User.email == "ada@corp.example"))
    assert user is not None
    assert (user.given_name, user.family_name, user.name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert user.email_verified is True
    assert user.locale == "fr"
    assert user.app_metadata["groups"] == ["engineering", "admins"]
    identity = session.scalar(sa.select(Identity).where(Identity.user_id == user.id))
    assert identity.subject == "u-1001"
    assert [e.type for e in recorded_events("login_succeeded")] == ["login_succeeded"]


def sign_in_once(client, app, idp, **kwargs):
    started = start_sign_in(client, app, idp)
    return code_of(
        post_response(client, idp.response_for(started.authn, **kwargs), started.relay_state)
    )


def user_of(subject: str) -> User:
    identity = session.scalar(sa.select(Identity).where(Identity.subject == subject))
    assert identity is not None
    return identity.user


@pytest.fixture
def post_binding(saml_options):
    saml_options["binding"] = "post"
    return saml_options


def test_sp_initiated_sign_in_with_post_binding_posts_a_signed_request_from_foyers_page(
    client, post_binding, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    page = started.response.get_data(as_text=True)
    assert 'id="autopost-form"' in page and f'action="{idp.base}/sso/post"' in page
    assert "/autopost.js" in page  # posted by a script of Foyer's own origin (CSP)
    assert started.authn.message.signature is not None  # enveloped signature
    response = post_response(client, idp.response_for(started.authn), started.relay_state)
    assert code_of(response)["code"]


def test_response_posted_from_the_idps_site_is_posted_again_from_foyers_page(
    foyer_app, client, corp, app_client, idp
):
    """The IdP's cross-site POST comes without the SameSite=Lax cookie: Foyer answers with
    a page that posts the same form from its own origin, with the cookie."""
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(started.authn)
    cookie_name = foyer_app.config["SESSION_COOKIE_NAME"]
    kept = client.get_cookie(cookie_name, domain="login.test")
    client.delete_cookie(cookie_name, domain="login.test")
    page = client.post(
        "/saml/corp-saml/acs", data={"SAMLResponse": encoded, "RelayState": started.relay_state}
    )
    assert page.status_code == 200
    assert 'id="autopost-form"' in page.get_data(as_text=True)
    assert f"set-cookie: {cookie_name}".lower() not in str(page.headers).lower()
    client.set_cookie(cookie_name, kept.value, domain=kept.domain)
    assert code_of(post_response(client, encoded, started.relay_state))["code"]


def test_later_sign_in_refreshes_the_mapped_profile_and_keeps_the_same_user(
    client, corp, app_client, idp
):
    sign_in_once(client, app_client[0], idp)
    first = user_of("u-1001")
    idp.user.attributes["givenName"] = ["Augusta"]
    idp.user.attributes["memberOf"] = ["engineering"]
    client.delete_cookie("__Host-foyer_session", domain="login.test")
    sign_in_once(client, app_client[0], idp)
    again = user_of("u-1001")
    session.refresh(again)
    assert again.id == first.id
    assert again.given_name == "Augusta"
    assert again.app_metadata["groups"] == ["engineering"]


def test_attribute_mapping_from_connection_options(client, saml_options, corp, app_client, idp):
    saml_options.update(
        attributes={"email": "workEmail", "given_name": ["nickname", "givenName"]},
        app_metadata={"department": "department", "cost_center": "costCenter"},
    )
    corp.connections[0].options = saml_options
    flag_modified(corp.connections[0], "options")  # changed in place: save it
    session.commit()
    idp.user.attributes.update(workEmail=["ada.l@corp.example"], costCenter=["CC-42"])
    sign_in_once(client, app_client[0], idp)
    user = user_of("u-1001")
    assert user.email == "ada.l@corp.example"
    assert user.given_name == "Ada"
    assert user.app_metadata["department"] == "R&D"
    assert user.app_metadata["cost_center"] == "CC-42"


def test_email_is_unverified_unless_the_connection_says_the_idp_verifies_it(
    client, saml_options, corp, app_client, idp
):
    saml_options.pop("email_verified")
    corp.connections[0].options = saml_options
    flag_modified(corp.connections[0], "options")  # changed in place: save it
    session.commit()
    sign_in_once(client, app_client[0], idp)
    assert user_of("u-1001").email_verified is False


def test_encrypted_assertion_is_decrypted_with_the_sp_key(client, corp, app_client, idp):
    assert sign_in_once(client, app_client[0], idp, encrypt=True, sign_assertion=True)["code"]
    assert user_of("u-1001").email == "ada@corp.example"


def test_signed_assertion_in_an_unsigned_response_is_accepted(client, corp, app_client, idp):
    answer = sign_in_once(client, app_client[0], idp, sign_response=False, sign_assertion=True)
    assert answer["code"]


def test_prompt_login_is_passed_upstream_as_force_authn(client, corp, app_client, idp):
    started = start_sign_in(client, app_client[0], idp, prompt="login")
    assert started.authn.message.force_authn == "true"
    plain = start_sign_in(client, app_client[0], idp)
    assert plain.authn.message.force_authn in (None, "false")


def test_transient_name_id_without_a_subject_attribute_is_refused(
    client, corp, app_client, idp, recorded_events
):
    from saml2.saml import NAMEID_FORMAT_TRANSIENT

    started = start_sign_in(client, app_client[0], idp)

    def transient(response):
        response.assertion[0].subject.name_id.format = NAMEID_FORMAT_TRANSIENT

    response = post_response(client, idp.crafted(started.authn, transient), started.relay_state)
    assert response.status_code == 502
    [event] = recorded_events("upstream_failed")
    assert event.data["code"] == "upstream_misconfigured"


def test_subject_taken_from_a_mapped_attribute(client, saml_options, corp, app_client, idp):
    saml_options["attributes"] = {"subject": "employeeId"}
    corp.connections[0].options = saml_options
    flag_modified(corp.connections[0], "options")  # changed in place: save it
    session.commit()
    idp.user.attributes["employeeId"] = ["E-77"]
    sign_in_once(client, app_client[0], idp)
    assert user_of("E-77").email == "ada@corp.example"
