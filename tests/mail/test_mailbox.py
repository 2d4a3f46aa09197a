"""The development mailbox: off unless enabled; lists the tenant's emails from the outbox;
a reset is finished in the browser by following the link it shows."""

from __future__ import annotations

import re
import typing as t
from html import unescape

import pytest

from app.accounts.background import wait_for_background
from app.db import session
from app.mail import outbox
from app.mail.message import EmailMessage
from app.tenancy.services import create_tenant
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import submit_form

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "dev_mailbox": True}


def request_reset(client, email: str):
    page = client.get("/password/reset")
    return submit_form(client, page, "reset-request-form", email=email)


def links(html: str) -> list[str]:
    return [unescape(x) for x in re.findall(r'<a [^>]*?href="([^"]+)"', html)]


def test_a_reset_is_finished_from_the_mailbox(foyer_app, client, user):
    request_reset(client, user.email)
    assert wait_for_background(foyer_app)
    inbox = client.get("/_mailbox/")
    assert inbox.status_code == 200
    body = inbox.get_data(as_text=True)
    assert 'id="mailbox"' in body and user.email in body
    assert "Kept here (no delivery configured)" in body  # no SMTP, no plugin: held
    (read,) = [x for x in links(body) if re.fullmatch(r"/_mailbox/[0-9a-f]{32}", x)]
    page = client.get(read)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="mail-html"' in text
    (reset_link,) = [link for link in links(text) if "token=" in link]
    assert reset_link.startswith("https://login.test/password/reset/new?token=")
    form = client.get(reset_link.removeprefix("https://login.test"))
    done = submit_form(client, form, "reset-password-form", new_password=NEW_PASSWORD)
    assert done.status_code == 303
    assert login(client, user.email, NEW_PASSWORD).status_code == 303

    html_part = client.get(read + "/html")
    assert html_part.status_code == 200 and "token=" in html_part.get_data(as_text=True)
    assert '<base target="_top">' in html_part.get_data(as_text=True)
    csp = html_part.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    # the reset's "password changed" notice is in the mailbox too
    assert "password was changed" in client.get("/_mailbox/").get_data(as_text=True).lower()


def test_a_sent_email_keeps_its_content_for_the_mailbox(foyer_app, client, user, outbox):
    request_reset(client, user.email)
    assert len(outbox) == 1  # delivered by the plugin
    body = client.get("/_mailbox/").get_data(as_text=True)
    assert ">Sent<" in body.replace("\n", "").replace(" ", "") or "Sent" in body
    (read,) = [x for x in links(body) if re.fullmatch(r"/_mailbox/[0-9a-f]{32}", x)]
    assert "token=" in client.get(read).get_data(as_text=True)


def test_only_the_tenants_own_emails_are_shown(foyer_app, client, tenant):
    other = create_tenant("globex", "Globex", ["https://login.globex.test"])
    session.commit()
    theirs = outbox.queue_email(
        EmailMessage(to="bob@globex.test", subject="Globex secret", text="t"), other
    )
    session.commit()
    assert wait_for_background(foyer_app)
    assert "Globex secret" not in client.get("/_mailbox/").get_data(as_text=True)
    assert client.get(f"/_mailbox/{theirs.id}").status_code == 404
    assert client.get(f"/_mailbox/{theirs.id}/html").status_code == 404
    globex = host_client(foyer_app, "login.globex.test")
    assert "Globex secret" in globex.get("/_mailbox/").get_data(as_text=True)


def test_unknown_ids_are_the_404_page(client, tenant):
    assert client.get("/_mailbox/nope").status_code == 404
    assert client.get("/_mailbox/" + "x" * 300).status_code == 404


def test_the_mailbox_is_translated(foyer_app, client, tenant):
    page = client.get("/_mailbox/", headers={"Accept-Language": "fr"})
    assert "Boîte" in page.get_data(as_text=True)


class TestOff:
    @pytest.fixture
    def foyer_config(self, foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
        return {**foyer_config, "dev_mailbox": False}

    def test_the_mailbox_is_off_by_default(self, foyer_app, client, user, outbox):
        request_reset(client, user.email)
        assert len(outbox) == 1
        assert client.get("/_mailbox/").status_code == 404
        assert login(client, user.email, USER_PASSWORD).status_code == 303
