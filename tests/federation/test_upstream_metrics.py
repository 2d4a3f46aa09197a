"""The upstream IdP latency histogram (``foyer_upstream_request_duration_seconds``) is fed
by the strategies' own calls: OpenID Connect discovery, keys and token at a real IdP
(npm's oidc-provider), GitHub's token, user and emails API (its stand-in), a SAML IdP's
metadata; a silent IdP counts as a timeout. Read from ``/metrics`` with the Prometheus
client's parser."""

from __future__ import annotations

import socket
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.strategies import saml_idp_metadata
from tests.federation.conftest import authorize
from tests.federation.conftest import callback
from tests.federation.conftest import come_back
from tests.federation.conftest import exchange
from tests.federation.conftest import follow
from tests.federation.conftest import follow_connection
from tests.federation.conftest import press
from tests.federation.github_api import CLIENT_SECRET as GITHUB_SECRET
from tests.federation.github_api import GitHub
from tests.federation.test_social import upstream_query
from tests.saml.idp import SamlIdp
from tests.saml.idp import new_folder

TOKEN = "metrics-token-of-the-test-0123456789abcdef"
HISTOGRAM = "foyer_upstream_request_duration_seconds_count"


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "metrics_token": TOKEN}


def upstream_counts(client) -> dict[tuple[str, str, str], float]:
    """``/metrics``, parsed: the histogram's count per (strategy, call, outcome)."""
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    return {
        (s.labels["strategy"], s.labels["call"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for s in family.samples
        if s.name == HISTOGRAM
    }


def grew(before, after) -> dict[tuple[str, str, str], float]:
    return {
        key: value - before.get(key, 0)
        for key, value in after.items()
        if value != before.get(key, 0)
    }


def test_an_oidc_sign_in_times_discovery_keys_and_token(client, realm, idp, app_client):
    idp.person("kim", email="kim@acme.example", email_verified=True)
    app, secret = app_client
    before = upstream_counts(client)
    page, request = authorize(client, app, organization="acme")
    redirected = press(client, page, "acme-sso")
    exchange(client, secret, request, callback(come_back(client, idp, redirected, "kim"), request))
    calls = grew(before, upstream_counts(client))
    assert calls[("oidc", "discovery", "success")] == 1
    assert calls[("oidc", "jwks", "success")] == 1
    assert calls[("oidc", "token", "success")] == 1


def test_a_silent_idp_counts_as_a_timeout(
    client, tenant, app_client, make_connection, make_organization
):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []  # held: a connection that is never answered
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    connection = make_connection(
        "silent-sso",
        "oidc",
        options={
            "issuer": f"http://127.0.0.1:{server.getsockname()[1]}",
            "client_id": "x",
            "timeout": 1,
        },
        secrets={"client_secret": "s"},
    )
    make_organization("silent", "Silent", connections=[connection])
    before = upstream_counts(client)
    try:
        assert follow_connection(client, app_client[0], "silent-sso").status_code == 503
    finally:
        server.close()
    assert grew(before, upstream_counts(client)) == {("oidc", "discovery", "timeout"): 1}


def test_github_calls_are_timed(client, tenant, app_client, make_connection, make_organization):
    github = GitHub()
    try:
        github.user(
            "octocat", 1, "Octo", [{"email": "octo@example.com", "primary": True, "verified": True}]
        )
        connection = make_connection(
            "github", "github", options=github.options(), secrets={"client_secret": GITHUB_SECRET}
        )
        make_organization("community", "Community", connections=[connection])
        before = upstream_counts(client)
        page, request = authorize(client, app_client[0], organization="community")
        target, _query = upstream_query(press(client, page, "github"))
        back = github.sign_in(target, "octocat")
        callback(follow(client, client.get(back.replace("https://login.test", ""))), request)
        calls = grew(before, upstream_counts(client))
    finally:
        github.stop()
    assert calls == {
        ("github", "token", "success"): 1,
        ("github", "user", "success"): 1,
        ("github", "emails", "success"): 1,
    }


def test_saml_metadata_fetches_are_timed(client, foyer_app, make_connection):
    idp = SamlIdp(new_folder()).start()
    try:
        connection = make_connection(
            "corp-saml", "saml", options={"idp_metadata_url": idp.metadata_url}
        )
        before = upstream_counts(client)
        with foyer_app.test_request_context("/"):
            saml_idp_metadata.idp_metadata(connection, refresh=True)
        idp.metadata_status = 500
        with foyer_app.test_request_context("/"), pytest.raises(Exception):  # noqa: B017, PT011
            saml_idp_metadata.fetch(idp.metadata_url)
    finally:
        idp.stop()
    calls = grew(before, upstream_counts(client))
    assert calls == {("saml", "metadata", "success"): 1, ("saml", "metadata", "error"): 1}
