"""The signed session cookie: one serializer per secret, written only when it changes."""

from __future__ import annotations

from app.testing import authorize
from app.testing import sign_in


def test_one_serializer_serves_every_request_until_the_secret_changes(foyer_app):
    interface = foyer_app.session_interface
    first = interface.get_signing_serializer(foyer_app)
    assert interface.get_signing_serializer(foyer_app) is first
    foyer_app.secret_key = "another secret key of enough length for the test"
    try:
        second = interface.get_signing_serializer(foyer_app)
        assert second is not first
        assert second.loads(second.dumps({"a": 1})) == {"a": 1}
    finally:
        foyer_app.secret_key = foyer_app.extensions["foyer.settings"].secret_key


def test_an_unchanged_session_is_not_written_again(foyer_app, client, user, oidc_client):
    model, _secret = oidc_client
    name = foyer_app.config["SESSION_COOKIE_NAME"]
    sign_in(client, user)
    cookie = client.get_cookie(name, domain="login.test").value
    response = client.get("/.well-known/openid-configuration")
    assert name not in response.headers.get("Set-Cookie", "")
    authorize(client, model)  # a signed-in browser gets its code without a new cookie
    assert client.get_cookie(name, domain="login.test").value == cookie
