"""Redirect URIs are registered by allow-list (RFC 9700 §2.1, RFC 8252 §7; SECURITY.md
P-17, F-12): https; http only for loopback; a native app's private-use scheme in
reverse-domain form. Never userinfo, a fragment, whitespace, control or non-ASCII
characters. The same rules hold for post-logout redirect URIs, through the service, the
config file (file:line:col) and the CLI, and a refused registration writes nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.cli import AppContext
from app.cli import cli
from app.clients.models import Client
from app.clients.services import LOOPBACK_HOSTS
from app.clients.services import PRIVATE_USE_SCHEME
from app.clients.services import ClientInvalid
from app.clients.services import create_client
from app.clients.services import validate_redirect_uri
from app.db import session
from app.oidc.cli import register_commands
from tests.configfile.conftest import BASE
from tests.configfile.conftest import Foyer

register_commands(cli)

ACCEPTED = [
    "https://app.example.com/callback",
    "https://app.example.com:8443/cb?tenant=a&x=%20y",
    "https://[2001:db8::1]/cb",
    "http://127.0.0.1:8765/callback",
    "http://[::1]:8765/callback",
    "http://localhost:3000/callback",
    "com.example.app:/oauth2redirect",
    "com.example.app://callback",
]

REFUSED = {
    "https://user:pw@app.example.com/cb": "user name or password",
    "https://user@app.example.com/cb": "user name or password",
    "http://user@localhost/cb": "user name or password",
    "https://app.example.com\\@evil.example/cb": "character a URI cannot",
    "https://app.example.com/c b": "character a URI cannot",
    " https://app.example.com/cb": "character a URI cannot",
    "https://app.example.com/cb\n": "character a URI cannot",
    "https://app.example.com/cb\t": "character a URI cannot",
    "https://app.example.com/cb\x00": "character a URI cannot",
    "https://app.example.com/cb\u2028": "character a URI cannot",
    "https://exämple.com/cb": "character a URI cannot",
    'https://app.example.com/"><script>': "character a URI cannot",
    "https://app.example.com/%zz": "character a URI cannot",
    "https://app.example.com/cb#frag": "fragment",
    "https://app.example.com/cb#": "fragment",
    "http://app.example.com/cb": "must be https",
    "HTTP://app.example.com/cb": "must be https",
    "http://localhost.evil.example/cb": "must be https",
    "http://127.0.0.1.nip.io/cb": "must be https",
    "https:///cb": "has no host",
    "https://app.example.com:99999/cb": "not a valid URI",
    "https://[::1/cb": "not a valid URI",
    "javascript:alert(1)": "private-use scheme",
    "JavaScript://%0aalert(1)": "private-use scheme",
    "data:text/html,<b>x</b>": "character a URI cannot",
    "data:text/html;base64,PHNjcmlwdD4=": "private-use scheme",
    "vbscript:msgbox(1)": "private-use scheme",
    "file:///etc/passwd": "private-use scheme",
    "myapp:/callback": "private-use scheme",
    "//app.example.com/cb": "private-use scheme",
    "/callback": "private-use scheme",
    "https://" + "a" * 2100 + ".example/cb": "longer than 2048",
}


@pytest.mark.parametrize("uri", ACCEPTED)
def test_allowed_uris_register(tenant, uri):
    client, _secret = create_client(
        tenant, "App", redirect_uris=[uri], post_logout_redirect_uris=[uri]
    )
    assert client.redirect_uris == [uri] and client.post_logout_redirect_uris == [uri]


@pytest.mark.parametrize("field", ["redirect_uris", "post_logout_redirect_uris"])
@pytest.mark.parametrize(("uri", "reason"), list(REFUSED.items()))
def test_refused_uris_do_not_register(tenant, field, uri, reason):
    uris = {"redirect_uris": ["https://app.example.com/ok"], field: [uri]}
    with pytest.raises(ClientInvalid, match=reason) as refused:
        create_client(tenant, "App", **uris)
    assert str(refused.value).startswith(f"{field}: ")
    session.rollback()
    assert session.scalar(sa.select(Client)) is None


def test_cli_names_the_option_and_writes_nothing(foyer_app, tenant):
    base = ["clients", "create", "--tenant", "acme", "--name", "App"]
    runner = CliRunner()
    userinfo = runner.invoke(
        cli,
        [*base, "--redirect-uri", "https://user:pw@app.example.com/cb"],
        obj=AppContext(foyer_app),
    )
    assert userinfo.exit_code == 1
    assert (
        "--redirect-uri: 'https://user:pw@app.example.com/cb' must not contain a user name"
        in userinfo.output
    )
    logout = runner.invoke(
        cli,
        [
            *base,
            "--redirect-uri",
            "https://app.example.com/cb",
            "--post-logout-redirect-uri",
            "https://app.example.com/bye#top",
        ],
        obj=AppContext(foyer_app),
    )
    assert logout.exit_code == 1
    assert "--post-logout-redirect-uri: 'https://app.example.com/bye#top' must not contain" in (
        logout.output
    )
    assert session.scalar(sa.select(Client)) is None


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_config_file_errors_name_file_line_and_field(foyer_app, tmp_path):
    foyer = Foyer(foyer_app, tmp_path)
    text = BASE.replace(
        "https://portal.acme.test/callback", "'https://u:p@portal.acme.test/callback'"
    ).replace(
        "post_logout_redirect_uris: [https://portal.acme.test/]",
        ("post_logout_redirect_uris: ['https://portal.acme.test/ bye']"),
    )
    result = foyer.apply(text)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, errors
    assert f"tenant.yaml:{line_of(text, 'u:p@')}:21: clients[0].redirect_uris[0]: " in errors[0]
    assert "must not contain a user name or password" in errors[0]
    assert (
        f"tenant.yaml:{line_of(text, ' bye')}:33: clients[0].post_logout_redirect_uris[0]: "
        in errors[1]
    )
    assert "holds a character a URI cannot" in errors[1]
    assert session.scalar(sa.select(Client)) is None


URI_LIKE = st.one_of(
    st.text(max_size=80),
    st.builds(
        "{}:{}{}".format,
        st.sampled_from(["https", "http", "HTTP", "com.example.app", "javascript", "data", ""]),
        st.sampled_from(["//", "/", "", "///"]),
        st.text(alphabet="abc.:@/?#%[]\\ \t\n\x00é127.0.0.1localhost", max_size=40),
    ),
)


@settings(max_examples=200, deadline=None, database=None)
@given(uri=URI_LIKE)
def test_any_accepted_uri_keeps_the_rules(uri):
    """Whatever the input: ClientInvalid or a URI that keeps every rule, never a crash."""
    try:
        validate_redirect_uri(uri)
    except ClientInvalid:
        return
    parts = urlsplit(uri)
    assert uri.isascii() and uri.isprintable() and " " not in uri and "\\" not in uri
    assert "#" not in uri and "@" not in parts.netloc
    if parts.scheme == "https":
        assert parts.hostname
    elif parts.scheme == "http":
        assert parts.hostname in LOOPBACK_HOSTS
    else:
        assert PRIVATE_USE_SCHEME.fullmatch(parts.scheme)
