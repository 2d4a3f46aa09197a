"""What the token endpoint writes: the family, the code's use and the ``token_issued`` event
commit together, and a refused exchange writes none of them."""

from __future__ import annotations

import sqlalchemy as sa

from app import hookimpl
from app.events.models import Event
from app.oidc.models import AuthorizationCode
from app.oidc.models import RefreshToken
from app.oidc.models import TokenGrant
from app.testing import authorize
from app.testing import exchange_code
from app.testing import token_request


def _rows(foyer_app, model):
    with foyer_app.extensions["foyer.db"].sessionmaker() as s:
        return list(s.scalars(sa.select(model)))


def test_token_issued_is_stored_with_the_family_and_seen_by_sinks_after_commit(
    foyer_app, client, oidc_client, signed_in, user, register_plugin
):
    model, secret = oidc_client
    seen = []

    class Sink:
        @hookimpl
        def track_event(self, event):
            if event.type == "token_issued":
                # another connection: what the sink is told is already committed
                stored = [e.id for e in _rows(foyer_app, Event) if e.type == "token_issued"]
                families = [g.id for g in _rows(foyer_app, TokenGrant)]
                seen.append((event, stored, families))

    register_plugin(Sink(), name="sink")
    response = exchange_code(client, model, authorize(client, model), secret)
    assert response.status_code == 200, response.get_json()

    (family,) = _rows(foyer_app, TokenGrant)
    (code,) = _rows(foyer_app, AuthorizationCode)
    assert code.used_at is not None and code.grant_id == family.id
    (event,) = [e for e in _rows(foyer_app, Event) if e.type == "token_issued"]
    assert (event.user_id, event.client_id) == (user.id, model.client_id)
    assert event.data == {"grant_type": "authorization_code", "grant_id": family.id}
    assert event.ip
    ((sent, stored, families),) = seen
    assert sent.id == event.id and stored == [event.id] and families == [family.id]


def test_refused_exchange_writes_no_family_and_keeps_the_code(
    foyer_app, client, oidc_client, signed_in, recorded_events
):
    model, secret = oidc_client
    result = authorize(client, model)
    refused = exchange_code(client, model, result, secret, code_verifier="x" * 43)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
    assert _rows(foyer_app, TokenGrant) == []
    assert recorded_events("token_issued") == []
    assert [e.data["error"] for e in recorded_events("token_exchange_failed")] == ["invalid_grant"]
    (code,) = _rows(foyer_app, AuthorizationCode)
    assert code.used_at is None and code.grant_id is None
    # the rightful client can still redeem it
    assert exchange_code(client, model, result, secret).status_code == 200


def test_rotation_stores_the_new_refresh_token_and_spends_the_old(
    foyer_app, client, oidc_client, signed_in, recorded_events
):
    model, secret = oidc_client
    result = authorize(client, model, scope="openid offline_access")
    first = exchange_code(client, model, result, secret).get_json()["refresh_token"]
    second = token_request(client, model, secret, grant_type="refresh_token", refresh_token=first)
    assert second.status_code == 200, second.get_json()
    tokens = _rows(foyer_app, RefreshToken)
    assert len(tokens) == 2
    spent = [r for r in tokens if r.used_at is not None]
    assert len(spent) == 1 and all(r.revoked_at is None for r in tokens)
    assert [e.data["grant_type"] for e in recorded_events("token_issued")] == [
        "authorization_code",
        "refresh_token",
    ]
