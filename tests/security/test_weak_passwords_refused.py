"""Common, guessable and personal passwords are refused wherever a password is chosen (#13,
A-08, ASVS 6.2.4, 6.2.11): sign-up, reset, change and invitation acceptance, with the
reason in the user's language; the tenant sets the minimum zxcvbn score; the
``check_password`` hook stays the way to add a rule, such as the online breach check of
docs/accounts.md (run here against a local range API: no network)."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import re
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.password_strength import weakness
from app.db import session
from app.orgs import invitations
from app.testing import sign_in
from app.testing import submit_form
from e2e.mailbox import link_in
from tests.security.conftest import signup

DOCS = Path(__file__).resolve().parents[2] / "docs"
EMAIL = "margaret.hamilton@example.com"
NAME = "Margaret Hamilton"
WEAK = {
    "123456789012": "too close to passwords that many people use",
    "passwordpassword": "Repeated words, sequences like 1234",
    EMAIL: "Leave your email address, your name",
    "margaret.hamilton": "Leave your email address, your name",
    NAME: "Leave your email address, your name",
    f"{EMAIL}!2024": "Leave your email address, your name",
}
STRONG = "quiet orange kettle"


def refused(response, reason: str) -> bool:
    body = response.get_data(as_text=True).replace("&#39;", "'")
    return response.status_code == 400 and reason in body


@pytest.fixture
def margaret(make_user):
    return make_user(email=EMAIL, password=STRONG, name=NAME, email_verified=True)


def test_signup_refuses_weak_and_personal_passwords(client, open_signup, mailbox):
    for password, reason in WEAK.items():
        response = signup(client, EMAIL, password, name=NAME)
        assert refused(response, reason), password
    assert signup(client, EMAIL, STRONG, name=NAME).status_code == 303
    assert mailbox.count() <= 1  # only the accepted one sends anything


def test_reset_refuses_weak_and_personal_passwords(client, margaret, mailbox):
    page = client.get("/password/reset")
    submit_form(client, page, "reset-request-form", email=EMAIL)
    form = client.get(link_in(mailbox.wait_for(EMAIL, "Reset")).removeprefix("https://login.test"))
    for password, reason in WEAK.items():
        assert refused(
            submit_form(client, form, "reset-password-form", new_password=password), reason
        )
    session.expire_all()
    assert session.get(User, margaret.id).password_hash == margaret.password_hash
    assert (
        submit_form(client, form, "reset-password-form", new_password=STRONG + "!").status_code
        == 303
    )


def test_change_refuses_weak_and_personal_passwords(client, margaret):
    sign_in(client, margaret)
    page = client.get("/account/password")
    for password, reason in WEAK.items():
        response = submit_form(
            client, page, "change-password-form", current_password=STRONG, new_password=password
        )
        assert refused(response, reason), password
    session.expire_all()
    assert session.get(User, margaret.id).password_hash == margaret.password_hash


def test_invitation_acceptance_refuses_weak_and_personal_passwords(
    client, make_connection, make_organization, mailbox
):
    org = make_organization("apollo", "Apollo", connections=[make_connection("apollo-users")])
    invitations.invite(org, EMAIL, ["member"])
    page = client.get(link_in(mailbox.wait_for(EMAIL, "")).removeprefix("https://login.test"))
    for password, reason in WEAK.items():
        response = submit_form(
            client, page, "accept-invitation-form", name=NAME, new_password=password
        )
        assert refused(response, reason), password
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    accepted = submit_form(client, page, "accept-invitation-form", name=NAME, new_password=STRONG)
    assert accepted.status_code == 303


def test_the_reason_is_in_the_users_language(client, open_signup, margaret):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    response = signup(client, "x@example.com", "passwordpassword")
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and '<html lang="fr"' in body
    assert "Essayez quelques mots sans rapport entre eux." in body
    assert "Try a few unrelated words." not in body
    sign_in(client, margaret)
    page = client.get("/account/password")
    response = submit_form(
        client, page, "change-password-form", current_password=STRONG, new_password=EMAIL
    )
    assert "Laissez votre adresse e-mail" in response.get_data(as_text=True)


def test_the_minimum_score_is_a_tenant_setting(client, tenant, open_signup, mailbox):
    assert signup(client, "ann@example.com", "Summer2024!!").status_code == 303  # score 3
    tenant.settings = {**tenant.settings, "passwords": {"min_score": 4}}
    session.commit()
    assert refused(signup(client, "ann@example.com", "Summer2024!!"), "too close to passwords")
    tenant.settings = {**tenant.settings, "passwords": {"min_score": 0}}
    session.commit()
    assert signup(client, "ann@example.com", "passwordpassword").status_code == 303
    # the address itself stays refused whatever the score asked for
    assert refused(signup(client, "ann.lovelace@example.com", "ann.lovelace@example.com"), "")


def test_a_config_file_checks_its_users_against_its_own_minimum(foyer_app, tenant):
    from click.testing import CliRunner

    from app.cli import AppContext
    from app.cli import cli
    from app.configfile.cli import register_commands

    register_commands(cli)

    def apply(min_score: int) -> str:
        text = (
            "version: 1\ntenant:\n  name: acme\n  display_name: Acme Inc.\n"
            "  domains: [login.test]\n"
            f"  passwords: {{min_score: {min_score}}}\n"
            "connections:\n  - name: users\n"
            "users:\n  - connection: users\n    email: ops@example.com\n"
            "    password: ${OPS_PASSWORD}\n"
        )
        path = Path(foyer_app.instance_path) / "acme.yaml"
        path.write_text(text)
        env = {"OPS_PASSWORD": "passwordpassword"}
        return (
            CliRunner().invoke(cli, ["apply", str(path)], obj=AppContext(foyer_app), env=env).output
        )

    assert "users[0].password: the password is refused: Repeated words" in apply(3)
    assert "1 to create" in apply(0)


def test_a_check_password_plugin_still_adds_rules(client, open_signup, register_plugin):
    from app.hookspecs import hookimpl

    class NoKettles:
        @hookimpl
        def check_password(self, password):
            return "No kettles." if "kettle" in password else None

    register_plugin(NoKettles(), name="no-kettles")
    assert refused(signup(client, "kim@example.com", STRONG), "No kettles.")
    # Foyer's own rules run first: the plugin is not asked about a weak password
    assert refused(signup(client, "kim@example.com", "kettlekettlekettle"), "Repeated words")


def test_the_docs_breach_check_plugin_refuses_a_breached_password(
    foyer_app, client, open_signup, register_plugin, enable_plugin, mailbox
):
    breached = "a leaked but long passphrase"
    digest = hashlib.sha1(breached.encode()).hexdigest().upper()
    asked: list[str] = []

    class RangeApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            lines = [f"{digest[5:]}:42", "0" * 35 + ":0"] if self.path.endswith(digest[:5]) else []
            body = "\r\n".join(lines + [f"{'F' * 35}:3"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plugin = docs_plugin("plugins/pwned_passwords.py")
        plugin.RANGE_API = f"http://127.0.0.1:{server.server_address[1]}/range/"
        register_plugin(plugin, name="pwned_passwords")
        enable_plugin("pwned_passwords")
        assert refused(signup(client, "lee@example.com", breached), "appeared in a data breach")
        assert asked == [f"/range/{digest[:5]}"]  # only the first five characters left
        assert signup(client, "lee@example.com", STRONG).status_code == 303
    finally:
        server.shutdown()
        server.server_close()
    # the service down: the sign-up goes on, on Foyer's own checks
    assert signup(client, "lee@example.com", "purple tulip garden").status_code == 303


def test_scoring_stays_fast_whatever_is_typed():
    """zxcvbn's l33t matching costs seconds on 72 characters full of l33t characters."""
    l33t = "4@8({[<3610!|7$5+%29"
    weakness("zxcvbn loads its lists at the first check", minimum=3, personal=[])
    for password in ((l33t * 7)[:128], "a" * 32 + (l33t * 5)[:96], ("+17|!" * 30)[:128]):
        started = time.monotonic()
        weakness(password, minimum=3, personal=["x@example.com"])
        assert time.monotonic() - started < 1.0


def docs_plugin(name: str):
    """The plugin of docs/accounts.md whose first line is ``# name``, as a module."""
    text = (DOCS / "accounts.md").read_text()
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith(f"# {name}\n")
    ]
    assert len(blocks) == 1, name
    spec = importlib.util.spec_from_loader("pwned_passwords", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(blocks[0], str(DOCS / "accounts.md"), "exec"), module.__dict__)  # noqa: S102
    return module


def test_the_l33t_characters_are_zxcvbns_own():
    from zxcvbn.matching import L33T_TABLE

    from app.accounts.password_strength import L33T_CHARACTERS

    assert {ch for subs in L33T_TABLE.values() for ch in subs} == L33T_CHARACTERS


def test_a_worker_loads_zxcvbn_only_to_check_a_password():
    """Its frequency lists take about 13 MiB: a worker that never checks a new password
    never pays for them."""
    import subprocess
    import sys

    code = (
        "import os, sys, tempfile; d = tempfile.mkdtemp();"
        "os.environ.update(FOYER_INSTANCE_PATH=d, FOYER_PLUGINS_DIR=d);"
        "from app import create_app; create_app();"
        "print('zxcvbn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
