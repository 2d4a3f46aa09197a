"""``foyer doctor`` on a deliberately bad deployment and on a good one (real database,
real app, the real command)."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet
from flask import Flask

from app.accounts.services import create_user
from app.clikit import AppContext
from app.connections.services import create_connection
from app.db import session
from app.db import utcnow
from app.doctor.cli import doctor as doctor_command
from app.oidc.keys import ensure_keys
from app.oidc.models import SigningKey
from app.tenancy.services import create_tenant
from app.testing import throwaway_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operating.md"


def doctor(app: Flask, *args: str) -> tuple[int, dict[str, t.Any]]:
    result = CliRunner().invoke(doctor_command, ["--format", "json", *args], obj=AppContext(app))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def codes(report: dict[str, t.Any], severity: str | None = None) -> set[str]:
    return {f["code"] for f in report["findings"] if severity in (None, f["severity"])}


class TestBadDeployment:
    @pytest.fixture
    def foyer_config(self, tmp_path: t.Any, foyer_database_url: str) -> dict[str, t.Any]:
        return {
            **throwaway_settings(tmp_path, foyer_database_url),
            "dev_mailbox": True,
            "demo": True,
            "secure_cookies": False,
            "smtp_url": "smtp://mail.example.com:25",
            "mail_from": "Foyer <no-reply@localhost>",
            "encryption_keys": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
            "metrics_token": "short",
            "metrics_address": "0.0.0.0:9102",
            "argon2_memory_cost": 8,
            "argon2_time_cost": 1,
        }

    def test_every_recommendation_broken_is_found(self, foyer_app: Flask) -> None:
        foyer_app.debug = True
        demo = create_tenant("demo", "Foyer Demo", ["http://localhost:5000"])
        demo.settings = {"hrd": {"organization_picker": "list"}}
        people = create_connection(demo, "acme-staff", "database", "Acme staff")
        create_user(people, email="alice@acme.example")
        session.commit()
        ensure_keys(demo.id)
        old = utcnow() - dt.timedelta(days=200)
        session.execute(
            sa.update(SigningKey)
            .where(SigningKey.tenant_id == demo.id)
            .values(created_at=old, rotated_at=None)
        )
        session.commit()

        code, report = doctor(foyer_app)

        assert code == 1
        assert report["exit_code"] == 1
        assert {
            "dev.debug",
            "dev.mailbox",
            "dev.demo",
            "cookies.insecure",
            "passwords.below_owasp",
            "demo.tenant",
            "demo.accounts",
        } <= codes(report, "error")
        assert {
            "mail.plain_smtp",
            "mail.from_localhost",
            "secrets.rotation_unfinished",
            "metrics.short_token",
            "metrics.public_listener",
            "keys.rotation_overdue",
            "domains.not_custom",
        } <= codes(report, "warning")
        assert {"orgs.public_list", "passwords.fast"} <= codes(report, "info")
        severities = [f["severity"] for f in report["findings"]]
        assert severities == sorted(severities, key=["error", "warning", "info"].index)
        overdue = next(f for f in report["findings"] if f["code"] == "keys.rotation_overdue")
        assert "demo" in overdue["message"] and "200 days" in overdue["message"]

    def test_development_expects_the_demo(self, foyer_app: Flask) -> None:
        create_tenant("demo", "Foyer Demo", ["http://localhost:5000"])
        session.commit()
        _, report = doctor(foyer_app, "--environment", "development")
        assert not codes(report) & {"dev.mailbox", "dev.demo", "demo.tenant", "domains.not_custom"}

    def test_text_output_names_severity_and_docs(self, foyer_app: Flask) -> None:
        result = CliRunner().invoke(doctor_command, [], obj=AppContext(foyer_app))
        assert result.exit_code == 1
        assert "error: FOYER_DEV_MAILBOX is on" in result.output
        assert "see docs/operating.md#the-development-mailbox" in result.output


class TestGoodDeployment:
    @pytest.fixture
    def foyer_config(self, tmp_path: t.Any, foyer_database_url: str) -> dict[str, t.Any]:
        config = throwaway_settings(tmp_path, foyer_database_url)
        del config["argon2_time_cost"], config["argon2_memory_cost"]  # OWASP defaults
        return {
            **config,
            "smtp_url": "smtps://foyer:pw@mail.acme.com",
            "mail_from": "Acme <login@acme.com>",
            "secret_key": "Vx3-kq9Lr2Zp8TnW4yBc7HdF1mGs6JtQ0aEuYiO5",
            "encryption_keys": Fernet.generate_key().decode(),
            "metrics_token": "m" + "7Kq2xZ9pL4rT8vN1wB6cY3hJ5dF0gS" * 2,
            "metrics_address": "10.0.0.5:9102",
        }

    def test_no_errors_and_exit_zero(self, foyer_app: Flask) -> None:
        tenant = create_tenant("acme", "Acme", ["https://login.acme.com"])
        session.commit()
        ensure_keys(tenant.id)
        code, report = doctor(foyer_app)
        assert codes(report, "error") == set(), report
        assert code == 0
        allowed = {"database.sqlite", "passwords.fast", "passwords.slow"}
        assert codes(report, "warning") <= allowed
        on_sqlite = foyer_app.extensions["foyer.settings"].database_url.startswith("sqlite")
        assert ("database.sqlite" in codes(report)) == on_sqlite

    def test_strict_fails_on_a_warning(self, foyer_app: Flask) -> None:
        create_tenant("acme", "Acme", ["https://login.test"])
        session.commit()
        code, report = doctor(foyer_app, "--strict")
        assert "domains.not_custom" in codes(report, "warning")
        assert code == 1
        assert doctor(foyer_app)[0] == 0


def test_every_docs_link_points_at_a_heading() -> None:
    """The anchors findings link to exist in docs/operating.md (GitHub's heading ids)."""
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in DOCS.read_text().splitlines()
        if line.startswith("#")
    }
    anchors = set()
    for module in (DOCS.parents[1] / "app" / "doctor").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Finding":
                anchor = node.args[3]
                if isinstance(anchor, ast.Constant):
                    anchors.add(anchor.value)
            if isinstance(node, ast.Dict):  # the development switches' anchors
                anchors |= {
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                }
    assert anchors
    assert anchors <= headings, anchors - headings
