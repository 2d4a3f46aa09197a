"""Email addresses are normalized before any lookup or storage (#13): a trailing dot, the
domain's case, an IDN domain or surrounding spaces never make a second account, miss the
existing one, or produce a mail with a malformed ``To:``. Emails are read from a real
SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.accounts.bulk import import_users
from app.accounts.models import User
from app.accounts.services import clean_email
from app.accounts.services import normalize_email
from app.cli import AppContext
from app.cli import cli
from app.db import session
from app.orgs import invitations
from app.orgs.models import Invitation
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import submit_form
from e2e.mailbox import code_in
from tests.security.conftest import enter_code
from tests.security.conftest import signup

PASSWORD = "quiet orange kettle"


@pytest.mark.parametrize(
    ("typed", "stored", "compared"),
    [
        ("user@example.com.", "user@example.com", "user@example.com"),
        ("user@example.com..", "user@example.com", "user@example.com"),
        ("  User@Example.COM \t", "User@example.com", "user@example.com"),
        ("Jürgen@Bücher.Example.", "Jürgen@xn--bcher-kva.example", "jürgen@xn--bcher-kva.example"),
        ("a.b+tag@SUB.Example.org", "a.b+tag@sub.example.org", "a.b+tag@sub.example.org"),
    ],
)
def test_one_function_cleans_every_address(typed, stored, compared):
    assert clean_email(typed) == stored
    assert normalize_email(typed) == compared == normalize_email(stored)


@pytest.mark.parametrize("typed", ["@example.com", "user@", "user", "user@exa mple.com", "u @x.io"])
def test_what_is_not_an_address_is_refused_for_storage_and_matches_nothing(typed):
    with pytest.raises(ValueError):
        clean_email(typed)
    assert normalize_email(typed) == typed.strip().lower()


def users(email: str) -> list[User]:
    return list(
        session.scalars(sa.select(User).where(User.email_normalized == normalize_email(email)))
    )


def test_a_trailing_dot_is_the_same_account_and_never_a_broken_mail(
    foyer_app, client, open_signup, user, mailbox
):
    assert signup(client, "Alice@EXAMPLE.com.", PASSWORD).status_code == 303
    notice = mailbox.wait_for("alice@example.com", "tried to")  # the owner, not a new account
    assert [str(a) for a in notice["To"].addresses] == ["alice@example.com"]
    assert len(users("alice@example.com")) == 1
    assert login(host_client(foyer_app), "alice@example.com.", USER_PASSWORD).status_code == 303
    page = client.get("/password/reset")
    submit_form(client, page, "reset-request-form", email=" ALICE@example.com. ")
    reset = mailbox.wait_for("alice@example.com", "Reset")
    assert reset["To"] == "alice@example.com"
    assert all(str(m["To"]) not in ("", "<>") for m in mailbox.messages)


def test_a_new_address_is_stored_clean_and_found_however_it_is_typed(
    foyer_app, client, open_signup, mailbox
):
    assert signup(client, " Bob@Bücher.Example. ", PASSWORD).status_code == 303
    message = mailbox.wait_for("Bob@xn--bcher-kva.example", "Your code")
    assert enter_code(client, code_in(message)).status_code == 303
    (bob,) = users("bob@bücher.example")
    assert (bob.email, bob.email_normalized) == (
        "Bob@xn--bcher-kva.example",
        "bob@xn--bcher-kva.example",
    )
    for typed in ("bob@bücher.example", "BOB@XN--BCHER-KVA.EXAMPLE.", " bob@Bücher.example "):
        assert login(host_client(foyer_app), typed, PASSWORD).status_code == 303, typed


def test_invitations_are_normalized(make_connection, make_organization, mailbox):
    org = make_organization("apollo", "Apollo", connections=[make_connection("apollo-users")])
    sent = invitations.invite(org, " Dora@Example.COM. ", ["member"])
    invitation = session.get(Invitation, sent.invitation.id)
    assert (invitation.email, invitation.email_normalized) == (
        "Dora@example.com",
        "dora@example.com",
    )
    assert mailbox.wait_for("Dora@example.com", "")["To"] == "Dora@example.com"
    again = invitations.invite(org, "dora@example.com", ["admin"])  # the same address
    session.expire_all()
    assert invitations.status(session.get(Invitation, invitation.id)) == "revoked"
    assert again.invitation.email_normalized == "dora@example.com"


def test_imports_commands_and_config_files_are_normalized(foyer_app, tenant, connection, tmp_path):
    from app.accounts.cli import register_commands as account_commands
    from app.configfile.cli import register_commands as config_commands

    lines = [{"email": "Eve@Example.com."}, {"email": "fay@example.com"}]
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(json.dumps(line) for line in lines))
    assert import_users(first, tenant, connection).imported == 2
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"email": " EVE@example.COM "}))
    assert import_users(again, tenant, connection).skipped == 1
    assert [u.email for u in users("eve@example.com")] == ["Eve@example.com"]

    account_commands(cli)
    config_commands(cli)
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["users", "create", "--tenant", "acme", "--connection", "users", "--email", "Gus@Ex.io."],
        obj=AppContext(foyer_app),
    )
    assert created.exit_code == 0, created.output
    assert [u.email for u in users("gus@ex.io")] == ["Gus@ex.io"]

    text = (
        "version: 1\ntenant:\n  name: acme\n  display_name: Acme Inc.\n  domains: [login.test]\n"
        "connections:\n  - name: users\n"
        "users:\n  - connection: users\n    email: Hal@Example.COM.\n"
    )
    path = Path(tmp_path / "acme.yaml")
    path.write_text(text)
    applied = runner.invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    assert applied.exit_code == 0, applied.output
    session.expire_all()
    assert [u.email for u in users("hal@example.com")] == ["Hal@example.com"]
    again = runner.invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app))
    assert again.output.strip() == "tenant acme: no changes"
