"""The event log in the configuration file: a tenant's retention and its own log streams."""

from __future__ import annotations

from app.hooks import plugin_settings
from app.tenancy.services import find_tenant

from .conftest import BASE

STREAMS = BASE.replace(
    "  support_email: help@acme.test\n",
    """\
  support_email: help@acme.test
  events:
    retention_days: 365
  plugins:
    log_streams:
      syslog: udp://127.0.0.1:5514
      file: ${STREAM_FILE}
""",
)


def test_a_tenant_sets_its_retention_and_streams(foyer, tmp_path):
    env = {"STREAM_FILE": str(tmp_path / "acme.jsonl")}
    result = foyer.apply(STREAMS, env=env)
    assert result.exit_code == 0, result.output
    tenant = find_tenant("acme")
    assert tenant.settings["events"] == {"retention_days": 365}
    streams = plugin_settings("log_streams", tenant=tenant)
    assert (streams.syslog, streams.file) == ("udp://127.0.0.1:5514", env["STREAM_FILE"])
    again = foyer.apply(STREAMS, env=env)
    assert again.exit_code == 0 and "no changes" in again.output.lower()


def test_wrong_streams_and_retention_are_refused_before_anything_is_written(foyer):
    env = {"STREAM_FILE": "/tmp/acme.jsonl"}
    wrong = STREAMS.replace("file: ${STREAM_FILE}", "webhook: http://hooks.acme.test/foyer")
    result = foyer.apply(wrong, env=env)
    assert result.exit_code != 0 and "must be an https:// URL" in result.output
    result = foyer.apply(STREAMS.replace("retention_days: 365", "retention_days: 0"), env=env)
    assert result.exit_code != 0 and "retention_days" in result.output
    assert find_tenant("acme") is None
