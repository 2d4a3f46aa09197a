"""F-07: an encrypted assertion in an unsigned Response is trusted only when the assertion
itself is signed; an HTTP-Redirect signature covers exactly the parameters Foyer acts on
(a second, percent-encoded ``%53AMLRequest`` cannot smuggle an unsigned message past it);
metadata never turns the signature checks off."""

from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa

from app.accounts.models import Identity
from app.db import session
from app.sessions.models import SsoSession
from tests.saml.conftest import SLO
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in
from tests.saml.test_logout import signed_in


def test_an_encrypted_unsigned_assertion_in_an_unsigned_response_is_refused(
    client, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(
        started.authn, sign_response=False, sign_assertion=False, encrypt=True
    )
    answer = post_response(client, encoded, started.relay_state)
    assert answer.status_code == 502
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_an_encrypted_signed_assertion_in_an_unsigned_response_is_accepted(
    client, corp, app_client, idp
):
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(
        started.authn, sign_response=False, sign_assertion=True, encrypt=True
    )
    assert code_of(post_response(client, encoded, started.relay_state))["code"]


def _slo(client, params_in_order: list[tuple[str, str]]):
    raw = "&".join(
        ("%53AMLRequest=" + urlencode({"x": value})[2:])
        if name == "%53AMLRequest"
        else urlencode({name: value})
        for name, value in params_in_order
    )
    return client.get(f"/saml/corp-saml/slo?{raw}")


def test_an_encoded_second_saml_request_is_not_covered_by_the_signature(
    client, corp, app_client, idp
):
    """The IdP signed a harmless LogoutRequest (another subject); an attacker puts the
    victim's unsigned one first under the name ``%53AMLRequest``. The message Foyer reads
    must be the message the signature checks: refused, nobody signed out."""
    row = signed_in(client, app_client[0], idp)
    harmless = idp.logout_request(SLO, row.name_id.replace("u-1001", "u-2002"), None)
    victim = idp.logout_request(SLO, row.name_id, row.session_index)
    response = _slo(
        client,
        [("%53AMLRequest", victim["SAMLRequest"])]
        + [(name, value) for name, value in harmless.items()],
    )
    assert response.status_code in (400, 502), response.status_code
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is None


def test_the_signature_of_an_encoded_name_checks_the_same_message(client, corp, app_client, idp):
    """Spelt ``%53AMLRequest``, the signed message is still the one read and checked."""
    row = signed_in(client, app_client[0], idp)
    signed = idp.logout_request(SLO, row.name_id, row.session_index)
    tampered = dict(signed, SigAlg=signed["SigAlg"])
    other = idp.logout_request(SLO, row.name_id.replace("u-1001", "u-2002"), None)
    tampered["SAMLRequest"] = other["SAMLRequest"]  # the signature of another message
    response = _slo(
        client,
        [
            ("%53AMLRequest" if name == "SAMLRequest" else name, value)
            for name, value in tampered.items()
        ],
    )
    assert response.status_code == 502
    sso = session.get(SsoSession, row.sso_session_id)
    session.refresh(sso)
    assert sso.ended_at is None


def test_metadata_without_want_signed_does_not_turn_checks_off(client, corp, app_client, idp):
    """The IdP's metadata says nothing of signing (and cannot): an unsigned Response and
    assertion are still refused."""
    assert "WantAssertionsSigned" not in idp.metadata_xml
    started = start_sign_in(client, app_client[0], idp)
    encoded = idp.response_for(started.authn, sign_response=False, sign_assertion=False)
    answer = post_response(client, encoded, started.relay_state)
    assert answer.status_code == 502
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0
