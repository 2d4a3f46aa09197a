"""Probes, ``/metrics`` and log lines inside one process (``foyer run`` is in
test_foyer_run.py): what they answer, what they count, what they never write."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from app import hookimpl
from app.db import session
from app.db import utcnow
from app.events.models import Event
from app.events.record import count_in_metrics
from app.events.types import EventRecord
from app.gunicorn_conf import logconfig_dict
from app.observability import metrics
from app.observability.logs import NOISY_AT_INFO
from app.observability.logs import configure_logging
from app.security.counters import redis_client
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from tests.security.conftest import PrivateRedis

TOKEN = "metrics-token-of-the-test-0123456789abcdef"


@pytest.fixture
def foyer_config(foyer_config):
    return {**foyer_config, "metrics_token": TOKEN}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def count_events(app) -> int:
    with app.app_context():
        return session.query(Event).count()


def test_probes_answer_on_any_host_and_write_nothing(foyer_app, tenant):
    probe = host_client(foyer_app, "10.1.2.3:8000", "http")  # a load balancer, by address
    events = count_events(foyer_app)
    live = probe.get("/health/live")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}
    ready = probe.get("/health/ready")
    assert ready.status_code == 200, ready.get_json()
    redis = "ok" if foyer_app.extensions["foyer.settings"].redis_url else "not configured"
    assert ready.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "current", "redis": redis},
    }
    assert "Set-Cookie" not in ready.headers and ready.headers["Cache-Control"] == "no-store"
    assert count_events(foyer_app) == events


def test_not_ready_while_the_schema_is_behind(foyer_app, tenant, monkeypatch):
    monkeypatch.setattr("app.migrate.head_revision", lambda _db: "29991231_9999")
    answer = host_client(foyer_app, "10.1.2.3").get("/health/ready")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["checks"]["migrations"] == "not current"


def test_ready_while_the_schema_is_one_release_ahead(foyer_app, tenant):
    """During a rolling upgrade the database is migrated first: the previous release's nodes,
    which do not know the new revision, keep serving (expand, then contract)."""
    engine = foyer_app.extensions["foyer.db"].engine
    with engine.begin() as connection:
        head = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '29991231_9999'"))
    try:
        answer = host_client(foyer_app, "10.1.2.3").get("/health/ready")
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["checks"]["migrations"] == "ahead"
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )


def test_metrics_need_the_token(foyer_app, client, user):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert login(client, user.email, USER_PASSWORD).status_code == 303
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    names = {
        s.name
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for s in family.samples
    }
    assert {"foyer_sign_ins_total", "foyer_http_requests_total"} <= names


def test_sign_ins_are_counted_by_result_tenant_and_organization(client, user, tenant):
    labels = {"tenant": tenant.name, "organization": "-"}
    before = {r: sample("foyer_sign_ins_total", result=r, **labels) for r in ("success", "failed")}
    login(client, user.email, "wrong password of the test")
    login(client, user.email, USER_PASSWORD)
    assert sample("foyer_sign_ins_total", result="failed", **labels) == before["failed"] + 1
    assert sample("foyer_sign_ins_total", result="success", **labels) == before["success"] + 1


def test_organization_labels_stay_bounded():
    label = metrics.BoundedLabel(limit=2)
    assert [label(name) for name in ("a", "b", "c", "a", None)] == ["a", "b", "other", "a", "-"]


def test_hook_durations_and_failures_per_plugin(client, user, register_plugin):
    class Slowish:
        @hookimpl
        def check_login(self, context):
            return None

    class Failing:
        @hookimpl
        def check_login(self, context):
            raise RuntimeError("boom")

    register_plugin(Slowish(), name="slowish")
    durations = sample("foyer_hook_duration_seconds_count", plugin="slowish", hook="check_login")
    assert login(client, user.email, USER_PASSWORD).status_code == 303
    assert (
        sample("foyer_hook_duration_seconds_count", plugin="slowish", hook="check_login")
        == durations + 1
    )
    register_plugin(Failing(), name="failing")
    failures = sample("foyer_hook_failures_total", plugin="failing", hook="check_login")
    login(host_client(client.application), user.email, USER_PASSWORD)
    assert sample("foyer_hook_failures_total", plugin="failing", hook="check_login") == failures + 1


def test_rate_limited_answers_are_counted(foyer_app, client):
    before = sample("foyer_rate_limited_total", endpoint="hrd.lookup")
    metrics.observe_request("hrd.lookup", "POST", 429, 0.01)
    assert sample("foyer_rate_limited_total", endpoint="hrd.lookup") == before + 1


def test_upstream_and_mail_functions_feed_their_metrics():
    before = sample(
        "foyer_upstream_request_duration_seconds_count",
        strategy="oidc",
        call="token",
        outcome="timeout",
    )
    with pytest.raises(TimeoutError), metrics.timed_upstream("oidc", "token"):
        raise TimeoutError
    assert (
        sample(
            "foyer_upstream_request_duration_seconds_count",
            strategy="oidc",
            call="token",
            outcome="timeout",
        )
        == before + 1
    )
    metrics.set_email_queue_depth(7)
    assert sample("foyer_email_queue_depth") == 7
    failed = sample("foyer_emails_total", result="failed")
    metrics.count_email("failed")
    assert sample("foyer_emails_total", result="failed") == failed + 1
    with pytest.raises(ValueError):
        metrics.count_email("lost")


@pytest.fixture
def captured_log():
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield stream
    for handler in list(root.handlers):
        if handler.get_name() == "foyer":
            root.removeHandler(handler)
    root.setLevel(level)


def test_one_json_line_per_request_and_event(client, user, tenant, captured_log):
    configure_logging("INFO", "json", captured_log)
    answer = client.post(
        "/login", data={"identifier": "x"}, headers={"X-Request-ID": "req-42"}
    )  # no CSRF token: an expected client error
    assert answer.status_code == 400
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "req-42"]
    assert [line["logger"] for line in mine] == ["foyer.events", "foyer.access"]
    event, access = mine
    assert event["event"]["type"] == "error_shown"
    assert event["event"]["data"]["request_id"] == "req-42"
    assert access["route"] == "/login" and access["status"] == 400
    assert access["tenant"] == tenant.name and access["duration_ms"] >= 0
    assert not [line for line in lines if "exception" in line]


def test_text_format_for_people(client, tenant, captured_log):
    configure_logging("INFO", "text", captured_log)
    client.get("/no/such/page", headers={"X-Request-ID": "req-43"})
    [line] = [line for line in captured_log.getvalue().splitlines() if "req-43" in line]
    assert "foyer.access: GET (unmatched) 404 " in line and "tenant=" in line
    assert "route=" not in line and "ms " in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_library_start_up_chatter_stays_out_of_the_log(captured_log):
    configure_logging("INFO", "text", captured_log)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate")
    logging.getLogger("xmlschema").info("Resource 'XMLSchema.xsd' is already loaded")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade a -> b")
    logging.getLogger("xmlschema").warning("a schema could not be loaded")
    text = captured_log.getvalue()
    assert "setup plugin" not in text and "already loaded" not in text
    assert "Running upgrade a -> b" in text and "could not be loaded" in text


def test_the_servers_log_config_quiets_the_same_chatter_before_the_app_is_imported():
    # gunicorn configures logging in the master; the app's imports log before the worker's
    # configure_logging runs, so the server's own configuration must already quiet them
    for name in NOISY_AT_INFO:
        assert logconfig_dict["loggers"][name]["level"] == "WARNING"
        assert logconfig_dict["loggers"][name]["propagate"] is True


def test_dashboard_refers_only_to_exported_metrics():
    # the JSON in docs/ loads, and every metric its queries name is one Foyer exports
    path = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
    dashboard = json.loads(path.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(expressions) >= 8
    named = {name for expr in expressions for name in re.findall(r"\bfoyer_[a-z_]+", expr)}
    assert named and named <= metrics.METRIC_NAMES, named - metrics.METRIC_NAMES
    exported_families = {m._name for m in metrics.ALL_METRICS}
    shown = {
        n.removesuffix("_total").removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for n in named
    }
    missing = exported_families - shown - {"foyer_database_unavailable"}
    assert not missing, f"the dashboard shows nothing of {missing}"


def test_readiness_follows_redis(foyer_app, tmp_path, monkeypatch):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")

    server = PrivateRedis(tmp_path)
    try:
        monkeypatch.setitem(foyer_app.extensions, "foyer.health_redis", redis_client(server.url))
        probe = host_client(foyer_app, "10.1.2.3")
        assert probe.get("/health/ready").get_json()["checks"]["redis"] == "ok"
        server.stop()
        answer = probe.get("/health/ready")
        assert answer.status_code == 503 and answer.get_json()["checks"]["redis"] == "unreachable"
        server.start()
        assert probe.get("/health/ready").status_code == 200
    finally:
        server.stop()


def test_lockouts_and_protection_refusals_are_counted(tenant):
    def event(type_: str, **data: str) -> EventRecord:
        return EventRecord(id="e", type=type_, created_at=utcnow(), tenant_id=tenant.id, data=data)

    blocked = sample("foyer_lockouts_total", kind="pair_blocked")
    locked = sample(
        "foyer_sign_ins_total", result="locked_out", tenant=tenant.name, organization="-"
    )
    count_in_metrics(event("login_pair_blocked"), tenant, None)
    count_in_metrics(event("login_failed", reason="pair_blocked"), tenant, None)
    assert sample("foyer_lockouts_total", kind="pair_blocked") == blocked + 1
    assert (
        sample("foyer_sign_ins_total", result="locked_out", tenant=tenant.name, organization="-")
        == locked + 1
    )
