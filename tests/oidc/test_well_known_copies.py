"""Discovery and the JWKS repeated from a per-process copy (:mod:`app.oidc.well_known`):
the same answer as the app's, a request id of its own, counted and logged, and never older
than the keys and domains it was made from allow."""

from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from app.db import get_database
from app.db import session
from app.observability.logs import configure_logging
from app.oidc import keys
from app.oidc.models import SigningKey
from app.oidc.well_known import WellKnownCopies
from app.tenancy.models import TenantDomain
from app.testing import TENANT_HOST
from app.testing import host_client

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"


def requests_counted(endpoint: str) -> float:
    labels = {"endpoint": endpoint, "method": "GET", "status": "200"}
    return REGISTRY.get_sample_value("foyer_http_requests_total", labels) or 0.0


def copies(app) -> dict:
    """The copies kept by the app's layer (found inside the other WSGI layers)."""
    layer = app.wsgi_app
    while not isinstance(layer, WellKnownCopies):
        layer = getattr(layer, "app", None) or layer.wsgi_app
    return layer.copies


def kids(client) -> set[str]:
    return {key["kid"] for key in client.get(JWKS).get_json()["keys"]}


@pytest.fixture
def clock(monkeypatch):
    """Every cache's clock (they all read ``time.monotonic``), moved by hand."""
    now = [1000.0]
    monkeypatch.setattr("app.oidc.well_known.time.monotonic", lambda: now[0])
    return now


@pytest.mark.parametrize("path", [DISCOVERY, JWKS])
def test_a_repeated_answer_is_the_apps_with_its_own_request_id(foyer_app, client, tenant, path):
    first = client.get(path)
    assert [address[0] for address in copies(foyer_app)] == [path]
    again = client.get(path)
    given = client.get(path, headers={"X-Request-ID": "lb-7"})
    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    mine = {k: v for k, v in first.headers.items() if k != "X-Request-ID"}
    assert {k: v for k, v in again.headers.items() if k != "X-Request-ID"} == mine
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert given.headers["X-Request-ID"] == "lb-7"
    assert "Set-Cookie" not in again.headers


def test_repeated_answers_are_counted_and_logged(client, tenant):
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        before = requests_counted("oidc.jwks")
        for n in range(3):
            client.get(JWKS, headers={"X-Request-ID": f"jwks-{n}"})
        assert requests_counted("oidc.jwks") == before + 3
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        access = [line for line in lines if line["logger"] == "foyer.access"]
        assert [line["request_id"] for line in access] == ["jwks-0", "jwks-1", "jwks-2"]
        assert {line["route"] for line in access} == {JWKS}
        assert {line["tenant"] for line in access} == {tenant.name}
    finally:
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "foyer":
                logging.getLogger().removeHandler(handler)


def test_a_rotation_in_this_process_is_published_at_once(client, tenant):
    before = kids(client)
    keys.rotate_keys(tenant.id)
    after = kids(client)
    assert after != before
    assert after == {row.kid for row in keys.list_keys(tenant.id) if row.state != "retired"}


def test_another_processes_rotation_shows_once_the_key_ring_is_checked(
    foyer_app, client, tenant, clock
):
    trusted = float(foyer_app.extensions["foyer.settings"].cache_seconds)  # the ring's bound
    before = kids(client)
    with get_database().engine.begin() as connection:  # another worker, another session
        connection.execute(
            sa.insert(SigningKey).values(
                **{
                    column: value
                    for column, value in keys._new_key(tenant.id, "RS256", "next").__dict__.items()
                    if not column.startswith("_")
                },
                id="another-worker-key",
            )
        )
    new = session.scalar(sa.select(SigningKey.kid).where(SigningKey.id == "another-worker-key"))
    clock[0] += trusted / 2
    assert kids(client) == before  # the ring is still trusted: so is the copy
    clock[0] += trusted
    assert kids(client) == before | {new}


def test_a_domain_changed_in_this_process_gets_its_own_issuer_at_once(foyer_app, client, tenant):
    assert client.get(DISCOVERY).get_json()["issuer"] == "https://login.test"
    domain = session.scalar(sa.select(TenantDomain).where(TenantDomain.hostname == TENANT_HOST))
    domain.port = 8443
    session.commit()
    assert client.get(DISCOVERY).get_json()["issuer"] == "https://login.test:8443"


def test_each_scheme_and_host_has_its_own_copy(foyer_app, tenant):
    secure = host_client(foyer_app, TENANT_HOST, "https")
    plain = host_client(foyer_app, TENANT_HOST, "http")
    for _ in range(2):
        assert "Strict-Transport-Security" in secure.get(DISCOVERY).headers
        assert "Strict-Transport-Security" not in plain.get(DISCOVERY).headers
    unknown = host_client(foyer_app, "evil.test")
    assert [unknown.get(DISCOVERY).status_code for _ in range(2)] == [404, 404]


def test_organization_paths_and_queries_are_served_by_the_app(client, tenant, organization):
    root = client.get(DISCOVERY).get_json()["issuer"]
    assert client.get(f"/o/{organization.name}{DISCOVERY}").get_json()["issuer"] == (
        f"{root}/o/{organization.name}"
    )
    assert client.get(f"/o/no-such-org{DISCOVERY}").status_code == 404
    assert client.get(f"{DISCOVERY}?x=1").get_json()["issuer"] == root


class TestBehindAProxy:
    @pytest.fixture
    def foyer_config(self, foyer_config):
        return {**foyer_config, "trusted_proxies": 1}

    def test_copies_are_kept_per_scheme_the_proxy_gives(self, foyer_app, tenant):
        browser = host_client(foyer_app, TENANT_HOST, "http")
        for _ in range(2):
            secure = browser.get(DISCOVERY, headers={"X-Forwarded-Proto": "https"})
            plain = browser.get(DISCOVERY, headers={"X-Forwarded-Proto": "http"})
            assert "Strict-Transport-Security" in secure.headers
            assert "Strict-Transport-Security" not in plain.headers
        assert {address[2] for address in copies(foyer_app)} == {"https", "http"}
