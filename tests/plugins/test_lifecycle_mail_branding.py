"""Password policy, user lifecycle, template variables and mail delivery hooks, each through
the code path that calls it for real."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from flask_babel import gettext as _

from app import hookimpl
from app.accounts.services import PasswordRejected
from app.accounts.services import create_user
from app.accounts.services import delete_user
from app.accounts.services import set_blocked
from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.hooks import PluginError
from app.mail.cli import register_commands as register_mail
from app.tenancy.models import TenantDomain
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login

if "mail" not in cli.commands:
    register_mail(cli)


class NoCompanyName:
    FOYER_SCOPED = True

    @hookimpl
    def check_password(self, password, tenant, email):
        if tenant.name in password.lower():
            return _("Do not use the company's name in your password.")
        return None


def test_password_plugin_refuses_where_enabled(
    foyer_app, tenant, connection, register_plugin, enable_plugin
):
    register_plugin(NoCompanyName(), name="no-company-name")
    create_user(connection, email="a@example.com", password="my acme password 2024")
    enable_plugin("no-company-name")
    with pytest.raises(PasswordRejected, match="company's name"):
        create_user(connection, email="b@example.com", password="my acme password 2024")
    create_user(connection, email="c@example.com", password="a long unrelated password")


class Provisioning:
    FOYER_SCOPED = True

    def __init__(self):
        self.events = []

    @hookimpl
    def prepare_user(self, user, connection):
        user.app_metadata = {
            **(user.app_metadata or {}),
            "plan": "trial",
            "source": connection.name,
        }

    @hookimpl
    def track_event(self, event):
        if event.type in (
            "user_created",
            "login_succeeded",
            "logout",
            "user_blocked",
            "user_deleted",
        ):
            self.events.append(event.type)


def test_lifecycle_prepare_user_and_events_through_real_paths(
    foyer_app, tenant, connection, register_plugin, enable_plugin
):
    plugin = register_plugin(Provisioning(), name="provisioning")
    enable_plugin("provisioning")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--tenant",
            "acme",
            "--connection",
            "users",
            "--email",
            "pat@example.com",
            "--password-stdin",
        ],
        obj=AppContext(foyer_app),
        input=USER_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    from app.connections.strategies import strategy_for

    user = strategy_for(connection).find_user("pat@example.com")
    assert user.app_metadata == {"plan": "trial", "source": "users"}
    browser = host_client(foyer_app)
    assert login(browser, "pat@example.com", USER_PASSWORD).status_code == 303
    set_blocked(user)
    delete_user(user)
    assert plugin.events == ["user_created", "login_succeeded", "user_blocked", "user_deleted"]


def test_raising_prepare_user_stores_nothing(
    foyer_app, tenant, connection, register_plugin, enable_plugin
):
    class Broken:
        FOYER_SCOPED = True

        @hookimpl
        def prepare_user(self, user):
            raise RuntimeError("crm down")

    register_plugin(Broken(), name="broken-crm")
    enable_plugin("broken-crm")
    with pytest.raises(PluginError):
        create_user(connection, email="q@example.com", password=USER_PASSWORD)
    session.rollback()
    from app.connections.strategies import strategy_for

    assert strategy_for(connection).find_user("q@example.com") is None


class Banner:
    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self, template, organization):
        return {"tenant": "hijacked", "banner": f"{template} for {organization.name}"}


def test_template_vars_reach_pages_of_the_enabling_organization(
    foyer_app, tenant, make_organization, register_plugin, enable_plugin
):
    west, east = make_organization("west"), make_organization("east")
    for org in (west, east):
        tenant.domains.append(
            TenantDomain(hostname=f"{org.name}.login.test", organization_id=org.id)
        )
    session.commit()
    register_plugin(Banner(), name="banner")
    enable_plugin("banner", organization=west)
    from flask import template_rendered

    contexts = []

    def capture(sender, template, context, **extra):
        contexts.append((template.name, context.get("banner"), context.get("tenant")))

    template_rendered.connect(capture, foyer_app)
    try:
        host_client(foyer_app, "west.login.test").get("/login", follow_redirects=True)
        host_client(foyer_app, "east.login.test").get("/login", follow_redirects=True)
    finally:
        template_rendered.disconnect(capture, foyer_app)
    west_ctx = [c for c in contexts if c[1] is not None]
    assert west_ctx and west_ctx[0][1] == f"{west_ctx[0][0]} for west"
    assert all(c[2] is not None and c[2] != "hijacked" for c in contexts)  # core names kept
    assert len([c for c in contexts if c[1] is None]) >= 1  # east's page has no banner


def test_outbox_collects_mail_test_command(foyer_app, tenant, outbox):
    result = CliRunner().invoke(
        cli,
        ["mail", "test", "--tenant", "acme", "--to", "ops@example.com"],
        obj=AppContext(foyer_app),
    )
    assert result.exit_code == 0, result.output
    [message] = outbox
    assert (message.to, message.purpose) == ("ops@example.com", "test")
    assert "https://login.test" in message.text


def test_no_delivery_fails_the_test_command(foyer_app, tenant):
    result = CliRunner().invoke(
        cli,
        ["mail", "test", "--tenant", "acme", "--to", "ops@example.com"],
        obj=AppContext(foyer_app),
    )
    assert result.exit_code == 1 and "no plugin delivered the email" in result.output


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_builtin_smtp_delivery_to_a_loopback_server(foyer_app, tenant):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session_, envelope):
            received.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        foyer_app.extensions["foyer.settings"].smtp_url = f"smtp://127.0.0.1:{port}"
        from app.mail.delivery import send_email
        from app.mail.message import EmailMessage

        message = EmailMessage(
            to="ops@example.com",
            subject="Hello",
            text="Body text",
            html="<p>Body</p>",
            purpose="test",
        )
        assert send_email(message, tenant) is True
    finally:
        controller.stop()
    [(recipients, content)] = received
    assert recipients == ["ops@example.com"]
    assert "Subject: Hello" in content and "Body text" in content


def test_failing_mail_plugin_falls_back_to_the_next(
    foyer_app, tenant, outbox, register_plugin, recorded_events
):
    class Broken:
        @hookimpl(tryfirst=True)
        def deliver_email(self, message):
            raise ConnectionRefusedError("provider down")

    register_plugin(Broken(), name="broken-mail")
    from app.mail.delivery import send_email
    from app.mail.message import EmailMessage

    assert send_email(EmailMessage(to="a@example.com", subject="s", text="t"), tenant)
    assert len(outbox) == 1
    [failed] = recorded_events("plugin_failed")
    assert failed.data["plugin"] == "broken-mail" and failed.data["hook"] == "deliver_email"
