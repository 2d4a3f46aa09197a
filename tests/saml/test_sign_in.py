"""Signing in through a SAML connection with a real IdP: both bindings, just-in-time user,
profile refresh, attribute mapping, and the code the application gets."""

from __future__ import annotations

import sqlalchemy as sa

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
