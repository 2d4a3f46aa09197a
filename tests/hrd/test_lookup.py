"""``POST /hrd/lookup``: public, rate limited, and silent about accounts.

Unknown identifiers and identifiers of existing accounts that no entry or domain routes
get the same bytes, after the same work: the lookup never reads the accounts.
"""

from __future__ import annotations

import statistics
import time

import pytest
import sqlalchemy as sa

from app.db import get_database
from app.db import session
from app.hrd.identifier_map import set_route
from app.hrd.lookup import lookup_realm
from app.testing import host_client


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "rate_limit_hrd_lookup": "1000 per minute"}


def lookup(browser, identifier):
    return browser.post("/hrd/lookup", json={"identifier": identifier})


def test_email_domain_answer_names_organization_connection_and_method(client, world):
    answer = lookup(client, "Gina@Globex.Example")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == {
        "organization": {
            "id": world.globex.id,
            "name": "globex",
            "display_name": "Globex Corporation",
        },
        "connection": {"name": "globex-staff", "display_name": "Globex staff", "kind": "password"},
        "method": "email_domain",
    }


def test_redirecting_connection_is_named_with_its_kind(client, world):
    body = lookup(client, "una@umbrella.example").get_json()
    assert body["connection"]["kind"] == "redirect"
    assert body["organization"]["name"] == "umbrella"


def test_identifier_map_answers_before_the_email_domain(client, world, tenant):
    set_route(tenant, "alice@acme.example", world.initech, world.partners)
    session.commit()
    body = lookup(client, "ALICE@acme.example").get_json()
    assert (body["organization"]["name"], body["method"]) == ("initech", "identifier_map")


def test_unknown_and_known_accounts_without_entry_get_identical_answers(client, world):
    known = lookup(client, "carla@consultants.example")  # an account of the shared pool
    unknown = lookup(client, "nobody@consultants.example")
    other = lookup(client, "sam@shared.example")  # two accounts, in two organizations
    assert known.get_data() == unknown.get_data() == other.get_data()
    assert known.get_json() == {"organization": None, "connection": None, "method": None}
    assert known.status_code == unknown.status_code == 200
    # the address's own budget, and the request's own random id
    counters = ("X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-ID")
    assert {k: v for k, v in known.headers if k not in counters} == {
        k: v for k, v in unknown.headers if k not in counters
    }


def test_a_known_account_of_a_routed_domain_answers_like_an_unknown_one(client, world):
    assert (
        lookup(client, "alice@acme.example").get_data()
        == lookup(client, "zed@acme.example").get_data()
    )


def test_the_lookup_never_reads_accounts(foyer_app, client, world):
    statements: list[str] = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement.lower())

    engine = get_database().engine
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        for identifier in (
            "carla@consultants.example",
            "nobody@consultants.example",
            "carla",
            "alice@acme.example",
        ):
            lookup(client, identifier)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
    assert statements
    assert not [
        s
        for s in statements
        if 'from "user"' in s or "from user" in s or "membership" in s or "identity" in s
    ]


def test_known_and_unknown_take_similar_time(client, world):
    def timing(identifier: str) -> float:
        runs = []
        for _ in range(15):
            started = time.perf_counter()
            lookup(client, identifier)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    lookup(client, "warm@up.example")
    known, unknown = timing("carla@consultants.example"), timing("nobody@consultants.example")
    assert abs(known - unknown) < max(known, unknown) * 0.5 + 0.002


@pytest.mark.parametrize(
    "body", [None, {"identifier": 3}, {"id": "x"}, ["alice"], {"identifier": "a" * 321}]
)
def test_a_bad_request_gets_a_json_error(client, world, body):
    answer = (
        client.post("/hrd/lookup", json=body)
        if body is not None
        else client.post("/hrd/lookup", data="not json", content_type="application/json")
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_request"


def test_browsers_of_other_origins_may_ask(client, world):
    answer = client.post(
        "/hrd/lookup", json={"identifier": "x@y.example"}, headers={"Origin": "https://app.test"}
    )
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/hrd/lookup",
        headers={"Origin": "https://app.test", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"


def test_on_a_vanity_host_only_its_organization_answers(foyer_app, world):
    acme = host_client(foyer_app, "acme.login.test")
    assert lookup(acme, "gina@globex.example").get_json()["organization"] is None
    assert lookup(acme, "alice@acme.example").get_json()["organization"]["name"] == "acme"


def test_lookup_realm_is_callable_without_a_request_for_benchmarks(foyer_app, world, tenant):
    with foyer_app.test_request_context("/", base_url="https://login.test"):
        answer = lookup_realm(tenant, "someone@acme.example")
    assert (answer.organization.name, answer.method) == ("acme", "email_domain")


class TestRateLimit:
    @pytest.fixture
    def foyer_config(self, foyer_config):
        return {**foyer_config, "rate_limit_hrd_lookup": "3 per minute"}

    def test_over_the_limit_answers_429_with_retry_after(self, client, world, recorded_events):
        for _ in range(3):
            assert lookup(client, "a@b.example").status_code == 200
        limited = lookup(client, "a@b.example")
        assert limited.status_code == 429
        assert limited.get_json()["error"] == "rate_limited"
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert recorded_events("rate_limited")[-1].data["endpoint"] == "hrd.lookup"

    def test_the_limit_is_per_client_address(self, foyer_app, world):
        first = host_client(foyer_app)
        second = host_client(foyer_app)
        second.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        for _ in range(3):
            lookup(first, "a@b.example")
        assert lookup(first, "a@b.example").status_code == 429
        assert lookup(second, "a@b.example").status_code == 200
