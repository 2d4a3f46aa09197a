"""Checks of the settings alone: mail, debug and development switches, cookies, secrets,
metrics. Each returns findings; ``production`` says whether development helpers are wrong."""

from __future__ import annotations

import ipaddress
import typing as t
from urllib.parse import urlsplit

from flask import Flask

from app.config import Settings
from app.doctor.findings import Finding
from app.preflight import LOOPBACK_HOSTS

SECRET_HOLDERS = ("secret_key", "encryption_key")
METRICS_TOKEN_MIN_LENGTH = 32


def mail_findings(settings: Settings, app: Flask, production: bool) -> list[Finding]:
    """Production mail goes out through its own SMTP server or a ``deliver_email`` plugin."""
    pm = app.extensions["foyer.pm"]
    plugins = [
        impl
        for impl in pm.hook.deliver_email.get_hookimpls()
        if getattr(impl.plugin, "__name__", "") != "app.mail.default_smtp"
    ]
    findings = []
    if production and not settings.smtp_url and not plugins:
        findings.append(
            Finding(
                "error",
                "mail.no_delivery",
                "no FOYER_SMTP_URL and no deliver_email plugin: reset, verification and "
                "invitation emails are never sent",
                "background-worker-and-outgoing-mail",
            )
        )
    if settings.smtp_url:
        url = urlsplit(settings.smtp_url)
        if url.scheme == "smtp" and url.hostname not in LOOPBACK_HOSTS:
            findings.append(
                Finding(
                    "warning",
                    "mail.plain_smtp",
                    f"FOYER_SMTP_URL sends to {url.hostname} without TLS: use smtps:// or "
                    "smtp+starttls://",
                    "background-worker-and-outgoing-mail",
                )
            )
    if production and settings.mail_from.rstrip(">").endswith("@localhost"):
        findings.append(
            Finding(
                "warning",
                "mail.from_localhost",
                f"FOYER_MAIL_FROM is {settings.mail_from!r}: receiving servers reject or "
                "junk mail from localhost; use an address of your own domain",
                "background-worker-and-outgoing-mail",
            )
        )
    return findings


def development_findings(settings: Settings, app: Flask, production: bool) -> list[Finding]:
    """Debug mode and the development helpers stay off in production."""
    if not production:
        return []
    switches = [
        (
            app.debug,
            "dev.debug",
            "Flask's debug mode is on (FLASK_DEBUG): it shows "
            "tracebacks and turns on the development mailbox",
        ),
        (
            settings.dev_mailbox,
            "dev.mailbox",
            "FOYER_DEV_MAILBOX is on: anyone can read every "
            "email Foyer sent (reset links included) at /_mailbox/",
        ),
        (
            settings.demo,
            "dev.demo",
            "FOYER_DEMO is on: the landing page and the unknown-host page show demo details",
        ),
        (
            settings.theme_development,
            "dev.theme_development",
            "FOYER_THEME_DEVELOPMENT is "
            "on: every page can be previewed with fake data under /_themes/",
        ),
    ]
    anchors = {"dev.mailbox": "the-development-mailbox"}
    return [
        Finding("error", code, message, anchors.get(code, "running"))
        for on, code, message in switches
        if on
    ]


def cookie_findings(settings: Settings, production: bool) -> list[Finding]:
    """Cookies are Secure in production (the session cookie a ``__Host-`` one)."""
    if production and not settings.secure_cookies:
        return [
            Finding(
                "error",
                "cookies.insecure",
                "FOYER_SECURE_COOKIES is off: session cookies travel over plain http and "
                "lose the __Host- prefix",
                "start-up-checks",
            )
        ]
    return []


def secret_findings(settings: Settings, production: bool) -> list[Finding]:
    """Secrets generated into the instance folder are fine for one host, but must be backed
    up and shared; several encryption keys mean a rotation that is not finished."""
    findings = []
    for holder in SECRET_HOLDERS:
        path = settings.instance / holder
        if production and path.exists():
            findings.append(
                Finding(
                    "warning",
                    f"secrets.generated_{holder}",
                    f"the {holder.replace('_', ' ')} was generated into {path}: back it up "
                    "with the database, and give every host the same value "
                    f"(FOYER_{'SECRET_KEY' if holder == 'secret_key' else 'ENCRYPTION_KEYS'})",
                    "secrets",
                )
            )
    keys = [k for k in settings.encryption_keys.split(",") if k.strip()]
    if len(keys) > 1:
        findings.append(
            Finding(
                "warning",
                "secrets.rotation_unfinished",
                f"FOYER_ENCRYPTION_KEYS holds {len(keys)} keys: a rotation is under way; "
                "once every secret is rewritten with the first key, drop the others",
                "secrets",
            )
        )
    return findings


def metrics_findings(settings: Settings) -> list[Finding]:
    """``/metrics`` is behind a long token, or on a listener of an internal address."""
    findings = []
    if settings.metrics_token and len(settings.metrics_token) < METRICS_TOKEN_MIN_LENGTH:
        findings.append(
            Finding(
                "warning",
                "metrics.short_token",
                f"FOYER_METRICS_TOKEN is {len(settings.metrics_token)} characters: anyone "
                f"who guesses it reads /metrics on every host; use {METRICS_TOKEN_MIN_LENGTH} "
                "or more random ones",
                "metrics",
            )
        )
    if settings.metrics_address:
        host = settings.metrics_address.rpartition(":")[0].strip("[]")
        if _public(host):
            findings.append(
                Finding(
                    "warning",
                    "metrics.public_listener",
                    f"FOYER_METRICS_ADDRESS listens on {host or 'every address'} without a "
                    "token: bind it to an internal address only Prometheus reaches",
                    "metrics",
                )
            )
    return findings


def _public(host: str) -> bool:
    """Reachable from outside: every address, or a global IP (a name is taken as internal)."""
    if host in {"", "0.0.0.0", "::", "*"}:
        return True
    if host in LOOPBACK_HOSTS:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return t.cast(bool, address.is_global)
