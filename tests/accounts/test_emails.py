"""Account emails: HTML and text parts from templates a theme can override, in the
recipient's language, in the organization's brand, with admin data escaped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts import emails
from app.db import session
from app.mail.render import recipient_locale
from app.mail.render import render_email

MESSAGES = {
    "password_reset": {"reset_url": "https://login.test/r?token=x", "minutes": 30},
    "password_changed": {"reset_url": "https://login.test/r", "how": "reset"},
    "verify_email": {"verify_url": "https://login.test/v?token=x", "hours": 24},
    "signup_attempt": {
        "login_url": "https://login.test/login",
        "reset_url": "https://login.test/r",
    },
    "invitation": {
        "accept_url": "https://login.test/i?token=x",
        "organization_name": "Globex",
        "inviter": "Olivia",
        "days": 7,
        "roles": [],
    },
    "account_blocked": {},
    "login_blocked": {
        "unblock_url": "https://login.test/u?token=x",
        "reset_url": "https://login.test/r",
        "hours": 24,
        "ip": "192.0.2.1",
    },
}


@pytest.fixture
def foyer_config(foyer_config, tmp_path):
    """A theme folder with one email override, to check themes reach emails too."""
    theme = tmp_path / "themes" / "mailtest"
    (theme / "templates" / "mail").mkdir(parents=True)
    (theme / "theme.toml").write_text('label = "Mail test"\n')
    (theme / "templates" / "mail" / "password_reset.txt").write_text(
        '{% extends "core:mail/password_reset.txt" %}'
        "{% block subject %}Custom reset subject{% endblock %}"
    )
    return {**foyer_config, "themes_dir": str(tmp_path / "themes")}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_every_message_has_a_subject_a_text_and_an_html_part(tenant, name):
    message = render_email(
        name, to="a@example.com", tenant=tenant, user_name="Ann", **MESSAGES[name]
    )
    assert message.subject and "\n" not in message.subject
    assert message.text.strip() and message.html and message.html.startswith("<!doctype html>")
    assert "Acme Inc." in message.text
    for value in MESSAGES[name].values():
        if isinstance(value, str) and value.startswith("https://"):
            assert value in message.text and value in message.html


def test_recipients_language_then_organization_then_tenant(tenant, make_organization):
    org = make_organization("globex", "Globex", default_locale="de")
    assert recipient_locale("fr", org, tenant) == "fr"
    assert recipient_locale(None, org, tenant) == "de"
    assert recipient_locale("xx", None, tenant) == "en"
    french = render_email(
        "password_reset",
        to="a@example.com",
        tenant=tenant,
        locale="fr",
        **MESSAGES["password_reset"],
    )
    assert 'lang="fr"' in french.html
    arabic = render_email(
        "password_reset",
        to="a@example.com",
        tenant=tenant,
        locale="ar",
        **MESSAGES["password_reset"],
    )
    assert 'dir="rtl"' in arabic.html


def test_organization_theme_overrides_an_email(tenant, make_organization):
    org = make_organization("globex", "Globex", theme="mailtest")
    themed = render_email(
        "password_reset",
        to="a@example.com",
        tenant=tenant,
        organization=org,
        **MESSAGES["password_reset"],
    )
    plain = render_email(
        "password_reset", to="a@example.com", tenant=tenant, **MESSAGES["password_reset"]
    )
    assert themed.subject == "Custom reset subject"
    assert plain.subject != "Custom reset subject"
    assert "Globex" in themed.text


def test_branding_data_is_escaped_in_html_and_kept_out_of_headers(tenant, make_organization):
    org = make_organization("evil", "<script>alert(1)</script>")
    # stored as is: data from before validation, or edited in the database
    org.branding = {
        "email_sender_name": "Evil\nBcc: victim@example.com",
        "email_reply_to": "not an address\r\nX: y",
        "colors": {"primary": "red;} body{background:url(x)"},
    }
    session.commit()
    message = render_email(
        "invitation",
        to="a@example.com",
        tenant=tenant,
        organization=org,
        **{**MESSAGES["invitation"], "organization_name": org.display_name},
    )
    assert "<script>alert(1)</script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert message.sender == '"<script>alert(1)</script>" <no-reply@localhost>'
    assert message.reply_to is None
    assert "url(x)" not in message.html


def test_sender_name_and_reply_to_from_branding(tenant, make_organization):
    org = make_organization(
        "globex",
        "Globex",
        branding={
            "email_sender_name": "Globex Security",
            "email_reply_to": "security@globex.example",
        },
    )
    message = render_email(
        "password_reset",
        to="a@example.com",
        tenant=tenant,
        organization=org,
        **MESSAGES["password_reset"],
    )
    assert message.sender == "Globex Security <no-reply@localhost>"
    assert message.reply_to == "security@globex.example"
    plain = render_email(
        "password_reset", to="a@example.com", tenant=tenant, **MESSAGES["password_reset"]
    )
    assert (plain.sender, plain.reply_to) == ('"Acme Inc." <no-reply@localhost>', None)


def test_links_use_the_organizations_vanity_host(tenant, make_organization):
    from app.tenancy.models import TenantDomain

    org = make_organization("globex", "Globex")
    tenant.domains.append(TenantDomain(hostname="globex.login.test", organization_id=org.id))
    session.commit()
    assert emails.tenant_url(tenant, "accounts.reset_request", org) == (
        "https://globex.login.test/password/reset"
    )
    assert emails.tenant_url(tenant, "accounts.reset_request") == (
        "https://login.test/password/reset"
    )
    other = make_organization("initech", "Initech")
    assert emails.tenant_url(tenant, "accounts.reset_request", other) == (
        "https://login.test/o/initech/password/reset"
    )


def test_account_blocked_notice(tenant, user, outbox):
    assert emails.send_account_blocked(user)
    (message,) = outbox
    assert message.purpose == "account_blocked" and "blocked" in message.subject


def test_failed_delivery_is_retried_then_recorded(
    foyer_app, tenant, user, register_plugin, recorded_events
):
    from app.accounts.background import wait_for_background
    from app.hookspecs import hookimpl
    from app.mail.models import OutgoingMail

    attempts = []

    class Flaky:
        @hookimpl(tryfirst=True)
        def deliver_email(self, message):
            attempts.append(message.to)
            return True if len(attempts) == 3 else None

    register_plugin(Flaky(), name="flaky")
    assert emails.send_password_changed(user, "change")  # queued
    assert wait_for_background(foyer_app)
    assert len(attempts) == 3
    row = session.scalar(sa.select(OutgoingMail))
    session.refresh(row)
    assert (row.status, row.attempts, row.body) == ("sent", 3, None)  # links not kept
    assert not recorded_events("email_failed")
    attempts.clear()
    attempts.extend(["x"] * 10)  # never reaches 3 again: every attempt fails
    assert emails.send_password_changed(user, "change")
    assert wait_for_background(foyer_app)
    assert len(attempts) == 13  # three more attempts, then given up
    assert recorded_events("email_failed")[0].data == {"purpose": "password_changed", "attempts": 3}
