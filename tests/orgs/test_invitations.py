"""Invitations into an organization: single-use link bound to the email and the org, expiring,
revocable; of two concurrent accepts exactly one wins; new and existing users; isolated and
shared pools; the email goes through a real SMTP server, in the invitee's language."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
import threading
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts.background import wait_for_background
from app.accounts.models import User
from app.db import session
from app.db import utcnow
from app.orgs import invitations
from app.orgs.models import Invitation
from app.orgs.models import Membership
from app.testing import USER_PASSWORD
from app.testing import submit_form

PASSWORD = "an invited person's passphrase"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def token_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["token"]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; yields the received messages."""
    from aiosmtpd.controller import Controller

    received: list[email.message.EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server, smtp_session, envelope):  # noqa: N802
            received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def acme_org(make_organization, make_connection):
    """An organization with its own (isolated) database connection."""
    own = make_connection("acme-users")
    return make_organization("initech", "Initech", connections=[own])


def invite(org, outbox, email_address="new.hire@example.com", roles=("member",), **kwargs):
    sent = invitations.invite(org, email_address, list(roles), invited_by="Olivia Admin", **kwargs)
    assert sent.delivered
    return sent, outbox[-1]


def test_invitation_email_goes_through_smtp_in_the_org_brand(foyer_app, acme_org, smtp_server):
    port, received = smtp_server
    foyer_app.extensions["foyer.settings"].smtp_url = f"smtp://127.0.0.1:{port}"
    acme_org.branding = {
        "email_sender_name": "Initech People",
        "email_reply_to": "people@initech.example",
        "support_email": "help@initech.example",
    }
    session.commit()
    sent = invitations.invite(
        acme_org, "new.hire@example.com", ["member"], invited_by="Olivia Admin", locale="fr"
    )
    assert sent.delivered
    assert wait_for_background(foyer_app)
    (message,) = received
    assert message["To"] == "new.hire@example.com"
    assert message["Reply-To"] == "people@initech.example"
    assert message["From"] == "Initech People <no-reply@localhost>"
    assert message["Subject"] and "\n" not in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert sent.link in text and sent.link in html
    assert sent.link.startswith("https://login.test/o/initech/invitation?token=")
    assert "Olivia Admin" in text and "help@initech.example" in html
    assert 'lang="fr"' in html


def test_new_user_accepts_and_gets_an_account_in_the_org_connection(
    client, acme_org, outbox, recorded_events
):
    sent, message = invite(acme_org, outbox)
    assert message.purpose == "invitation" and sent.link in message.text
    page = client.get(path_of(sent.link))
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Join" in body and "new.hire@example.com" in body
    assert 'autocomplete="new-password"' in body
    done = submit_form(
        client, page, "accept-invitation-form", name="New Hire", new_password=PASSWORD
    )
    assert done.status_code == 303
    user = session.scalar(sa.select(User).where(User.email_normalized == "new.hire@example.com"))
    connection = invitations.target_connection(acme_org)
    assert user.connection_id == connection.id and user.email_verified and user.name == "New Hire"
    assert session.get(Membership, (user.id, acme_org.id)).roles == ["member"]
    assert recorded_events("invitation_accepted")[0].data["new_user"] is True
    assert client.get(path_of(sent.link)).status_code == 400  # used
    assert client.get("/account").status_code == 302  # no sign-in without the login pages
    welcome = client.get(done.headers["Location"])
    assert done.headers["Location"].startswith("/o/initech/")
    sign_in_link = re.search(r'id="sign-in" href="([^"]+)"', welcome.get_data(as_text=True))
    assert sign_in_link.group(1) == "/o/initech/login"
    page = client.get("/o/initech/login", follow_redirects=True)
    step = submit_form(client, page, "login-identifier-form", identifier="new.hire@example.com")
    page = client.get(step.headers["Location"])
    assert submit_form(client, page, "login-password-form", password=PASSWORD).status_code == 303


def test_existing_user_joins_a_shared_pool_with_their_password(
    client, tenant, connection, user, make_organization, outbox
):
    first = make_organization("globex", "Globex", connections=[connection])
    second = make_organization("umbrella", "Umbrella", connections=[connection])
    sent, _message = invite(second, outbox, "alice@example.com", roles=("admin", "billing"))
    page = client.get(path_of(sent.link))
    assert 'id="password"' in page.get_data(as_text=True)
    wrong = submit_form(client, page, "accept-invitation-form", password="wrong password!")
    assert wrong.status_code == 400
    ok = submit_form(client, page, "accept-invitation-form", password=USER_PASSWORD)
    assert ok.status_code == 303
    membership = session.get(Membership, (user.id, second.id))
    assert membership.roles == ["admin", "billing"]
    assert session.get(Membership, (user.id, first.id)) is None
    session.refresh(user)
    assert "umbrella" in user.app_metadata["organizations"]


def test_shared_pool_invitee_gets_a_membership_even_without_roles(
    client, connection, make_organization, outbox
):
    make_organization("globex", "Globex", connections=[connection])
    shared = make_organization("umbrella", "Umbrella", connections=[connection])
    sent, _ = invite(shared, outbox, roles=())
    submit_form(
        client, client.get(path_of(sent.link)), "accept-invitation-form", new_password=PASSWORD
    )
    user = session.scalar(sa.select(User).where(User.email_normalized == "new.hire@example.com"))
    assert user.connection_id == connection.id
    assert session.get(Membership, (user.id, shared.id)) is not None


def test_of_two_concurrent_accepts_exactly_one_wins(foyer_app, tenant, acme_org, outbox):
    sent, _ = invite(acme_org, outbox)
    value = token_of(sent.link)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def accept(name: str) -> None:
        with foyer_app.app_context():
            found = invitations.pending_by_token(tenant, value)
            barrier.wait()
            if found is None:
                results.append(False)
                return
            user = invitations.accept_as_new_user(tenant, value, found[1], PASSWORD, name)
            results.append(user is not None)

    threads = [threading.Thread(target=accept, args=(f"Racer {i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [False, True]
    session.expire_all()
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(User.email_normalized == "new.hire@example.com")
        )
        == 1
    )


def test_revoked_invitation_no_longer_works(client, acme_org, outbox, recorded_events):
    sent, _ = invite(acme_org, outbox)
    assert invitations.revoke(sent.invitation)
    assert not invitations.revoke(sent.invitation)
    page = client.get(path_of(sent.link))
    assert page.status_code == 400 and 'id="next-step"' in page.get_data(as_text=True)
    assert recorded_events("invitation_revoked")


def test_expired_invitation_no_longer_works(client, acme_org, outbox):
    sent, _ = invite(acme_org, outbox)
    session.execute(sa.update(Invitation).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    assert client.get(path_of(sent.link)).status_code == 400
    assert invitations.status(session.get(Invitation, sent.invitation.id)) == "expired"


def test_invitation_is_bound_to_its_tenant_and_default_lifetime_is_7_days(
    foyer_app, client, acme_org, outbox
):
    from app.tenancy.services import create_tenant
    from app.testing import host_client

    sent, _ = invite(acme_org, outbox)
    lifetime = sent.invitation.expires_at - sent.invitation.created_at
    assert dt.timedelta(days=6, hours=23) < lifetime <= dt.timedelta(days=7)
    create_tenant("other", "Other", ["https://other.test"])
    session.commit()
    other = host_client(foyer_app, host="other.test")
    assert other.get(path_of(sent.link)).status_code == 404  # no such organization there
    assert other.get(f"/invitation?token={token_of(sent.link)}").status_code == 400


def test_inviting_again_revokes_the_older_invitation(client, acme_org, outbox):
    first, _ = invite(acme_org, outbox)
    second, _ = invite(acme_org, outbox)
    assert client.get(path_of(first.link)).status_code == 400
    assert client.get(path_of(second.link)).status_code == 200


def test_password_policy_applies_and_keeps_the_invitation(client, acme_org, outbox):
    sent, _ = invite(acme_org, outbox)
    page = client.get(path_of(sent.link))
    short = submit_form(client, page, "accept-invitation-form", new_password="short")
    assert short.status_code == 400
    assert client.get(path_of(sent.link)).status_code == 200


def test_invitation_page_is_in_the_invitees_language(client, acme_org, outbox):
    sent, message = invite(acme_org, outbox, locale="fr")
    page = client.get(path_of(sent.link))
    assert '<html lang="fr"' in page.get_data(as_text=True)
    assert 'lang="fr"' in message.html


def test_bad_invitations_are_refused(acme_org, outbox):
    with pytest.raises(invitations.InvitationError):
        invitations.invite(acme_org, "not an email")
    with pytest.raises(invitations.InvitationError):
        invitations.invite(acme_org, "a@example.com", ["bad role!"])
    with pytest.raises(invitations.InvitationError):
        invitations.invite(acme_org, "a@example.com", ttl=dt.timedelta(days=31))


def test_cli_invites_lists_and_revokes(foyer_app, tenant, acme_org, outbox):
    from app.cli import AppContext
    from app.cli import cli
    from app.orgs.cli import register_commands

    if "orgs" not in cli.commands:
        register_commands(cli)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "orgs",
            "invite",
            "--tenant",
            "acme",
            "--org",
            "initech",
            "--email",
            "cli.person@example.com",
            "--roles",
            "a,b",
        ],
        obj=AppContext(foyer_app),
    )
    assert result.exit_code == 0, result.output
    invitation_id = result.output.split("invitation: ")[1].split()[0]
    assert outbox[-1].to == "cli.person@example.com"
    listed = runner.invoke(
        cli,
        ["orgs", "invitations", "list", "--tenant", "acme", "--org", "initech"],
        obj=AppContext(foyer_app),
    )
    assert f"{invitation_id}\tpending\tcli.person@example.com\ta,b" in listed.output
    revoked = runner.invoke(
        cli,
        ["orgs", "invitations", "revoke", "--tenant", "acme", invitation_id],
        obj=AppContext(foyer_app),
    )
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = runner.invoke(
        cli,
        ["orgs", "invitations", "revoke", "--tenant", "acme", invitation_id],
        obj=AppContext(foyer_app),
    )
    assert again.exit_code == 1 and "revoked" in again.output
    unknown = runner.invoke(
        cli,
        ["orgs", "invite", "--tenant", "acme", "--org", "nope", "--email", "x@example.com"],
        obj=AppContext(foyer_app),
    )
    assert unknown.exit_code == 1
    wait_for_background(foyer_app)


def test_existing_users_language_is_used_when_the_inviter_gives_none(
    connection, make_user, make_organization, outbox
):
    make_user(email="jp@example.com", locale="ja")
    org = make_organization("globex", "Globex", connections=[connection])
    _sent, message = invite(org, outbox, "jp@example.com")
    assert 'lang="ja"' in message.html
