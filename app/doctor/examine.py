"""Every doctor check, run against one app (its settings, its database, this machine)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app.db import session
from app.doctor import database_checks
from app.doctor import settings_checks
from app.doctor.findings import Finding
from app.doctor.findings import ordered
from app.doctor.passwords import password_findings
from app.preflight import startup_findings


def examine(app: Flask, production: bool = True) -> list[Finding]:
    """All findings about the deployment ``app`` serves, errors first.

    The start-up checks come first (database and Redis answer, schema current, https
    domains); the database's contents are examined only when it answers.
    """
    settings = app.extensions["foyer.settings"]
    startup = [
        Finding(f.level, "startup", f.message, "start-up-checks")
        for f in startup_findings(settings)
    ]
    findings = [
        *startup,
        *settings_checks.mail_findings(settings, app, production),
        *settings_checks.development_findings(settings, app, production),
        *settings_checks.cookie_findings(settings, production),
        *settings_checks.secret_findings(settings, production),
        *settings_checks.metrics_findings(settings),
        *password_findings(settings, production),
        *database_checks.storage_findings(settings, app, production),
    ]
    if not any(f.message.startswith("the database at ") for f in startup):
        try:
            findings += [
                *database_checks.domain_findings(production),
                *database_checks.key_findings(),
                *database_checks.demo_findings(production),
                *database_checks.listing_findings(),
            ]
        except sa.exc.SQLAlchemyError as exc:
            session.rollback()
            findings.append(
                Finding(
                    "error",
                    "database.unreadable",
                    f"the database's tenants could not be read ({type(exc).__name__}): "
                    "run `foyer db upgrade`",
                    "start-up-checks",
                )
            )
    return ordered(findings)
