"""``foyer events``: search by every filter, follow, export as JSON Lines and CSV, prune."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.clikit import AppContext
from app.db import session
from app.db import utcnow
from app.events.cli import events
from app.events.models import Event
from app.events.query import parse_when
from app.events.record import record_event


@pytest.fixture
def run(foyer_app):
    def invoke(*args: str, ok: bool = True):
        result = CliRunner().invoke(events, list(args), obj=AppContext(foyer_app))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def aged(event_id: str, **delta: float) -> None:
    session.execute(
        sa.update(Event)
        .where(Event.id == event_id)
        .values(created_at=utcnow() - dt.timedelta(**delta))
    )
    session.commit()


@pytest.fixture
def history(tenant, user, make_organization):
    org = make_organization(name="initech")
    old = record_event("login_failed", tenant=tenant, user_id=user.id, data={"why": "password"})
    aged(old.id, days=3)
    return {
        "old": old,
        "ok": record_event("login_succeeded", tenant=tenant, user_id=user.id, organization=org),
        "token": record_event("token_issued", tenant=tenant, client_id="app1"),
        "other": record_event("login_failed", tenant=tenant, user_id="someone-else"),
        "org": org,
    }


def ids(output: str) -> list[str]:
    return [json.loads(line)["id"] for line in output.splitlines()]


def test_search_by_each_filter(run, history, tenant, user):
    h = history
    everything = ids(run("search", "--tenant", "acme", "--format", "jsonl").output)
    assert set(everything) == {h[k].id for k in ("old", "ok", "token", "other")}
    assert everything[-1] == h["old"].id  # newest first
    by_type = run("search", "--type", "login_failed", "--format", "jsonl").output
    assert set(ids(by_type)) == {h["old"].id, h["other"].id}
    by_prefix = run("search", "--type", "login_*", "--format", "jsonl").output
    assert set(ids(by_prefix)) == {h["old"].id, h["ok"].id, h["other"].id}
    by_email = run("search", "--tenant", "acme", "--user", user.email, "--format", "jsonl")
    assert set(ids(by_email.output)) == {h["old"].id, h["ok"].id}
    by_org = run("search", "--tenant", "acme", "--organization", "initech", "--format", "jsonl")
    assert ids(by_org.output) == [h["ok"].id]
    by_client = run("search", "--client", "app1", "--format", "jsonl")
    assert ids(by_client.output) == [h["token"].id]
    recent = run("search", "--since", "1d", "--format", "jsonl").output
    assert h["old"].id not in ids(recent) and len(ids(recent)) == 3
    older = run("search", "--until", "2d", "--format", "jsonl").output
    assert ids(older) == [h["old"].id]
    assert ids(run("search", "--ip", "203.0.113.9", "--format", "jsonl").output) == []
    assert ids(run("search", "--limit", "1", "--format", "jsonl").output) == [h["other"].id]


def test_search_by_ip(run, client, tenant):
    record = record_event("rate_limited", tenant=tenant)  # outside a request: no address
    assert record.ip is None
    with client.application.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        mine = record_event("login_failed", tenant=tenant)
    assert ids(run("search", "--ip", "203.0.113.9", "--format", "jsonl").output) == [mine.id]


def test_text_output_is_one_line_per_event(run, history):
    lines = run("search", "--type", "token_issued").output.splitlines()
    assert len(lines) == 1 and "token_issued" in lines[0] and "client=app1" in lines[0]


def test_tail_prints_the_last_events_oldest_first(run, history):
    output = run("tail", "-n", "2", "--format", "jsonl").output
    assert ids(output) == [history["token"].id, history["other"].id]


def test_export_csv_and_jsonl_to_a_file(run, history, tmp_path):
    path = tmp_path / "events.csv"
    run("export", "--format", "csv", "--output", str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["id"] for r in rows][0] == history["old"].id  # oldest first
    assert len(rows) == 4 and json.loads(rows[0]["data"]) == {"why": "password"}
    jsonl = tmp_path / "events.jsonl"
    run("export", "--type", "login_failed", "--output", str(jsonl))
    assert [json.loads(x)["type"] for x in jsonl.read_text().splitlines()] == ["login_failed"] * 2


def test_export_reads_in_batches(foyer_app, tenant):
    from app.events.query import EventFilter
    from app.events.query import stream

    made = {record_event("keys_rotated", tenant=tenant).id for _ in range(25)}
    assert {e.id for e in stream(EventFilter(tenant_id=tenant.id), batch=4)} == made


def test_csv_never_starts_a_cell_with_a_formula(run, tenant):
    record_event("login_failed", tenant=tenant, user_id="=HYPERLINK(1)")
    (row,) = csv.DictReader(io.StringIO(run("search", "--format", "csv").output))
    assert row["user_id"] == "'=HYPERLINK(1)"


def test_wrong_filters_are_one_clear_line(run, history):
    result = run("search", "--type", "login_faild", ok=False)
    assert result.exit_code == 1 and "unknown event type 'login_faild'" in result.output
    result = run("search", "--since", "yesterday", ok=False)
    assert result.exit_code == 1 and "is not a time" in result.output
    result = run("search", "--user", "a@example.com", ok=False)
    assert "needs --tenant" in result.output


def test_prune_keeps_each_tenant_for_its_retention(run, foyer_app, tenant, history):
    aged(history["token"].id, days=40)
    nobody = record_event("counter_storage_failed", data={"backend": "redis"})
    aged(nobody.id, days=100)
    dry = run("prune", "--dry-run").output
    assert "acme: would delete 0 events" in dry and "(no tenant): would delete 1" in dry
    tenant.settings = {**(tenant.settings or {}), "events": {"retention_days": 2}}
    session.commit()
    assert "acme: deleted 2 events" in run("prune").output  # the 3-day and 40-day old ones
    left = set(session.scalars(sa.select(Event.id)))
    assert history["old"].id not in left and history["token"].id not in left
    assert history["ok"].id in left and nobody.id not in left


def test_time_expressions():
    now = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
    assert parse_when("90m", now) == now - dt.timedelta(minutes=90)
    assert parse_when("1w", now) == now - dt.timedelta(days=7)
    assert parse_when("2026-12-01", now) == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert parse_when("2026-12-01T08:00:00Z", now).hour == 8
    with pytest.raises(ValueError, match="not a time"):
        parse_when("soon", now)


def test_types_lists_every_code(run):
    output = run("types").output
    assert "login_succeeded" in output and "email_failed" in output
