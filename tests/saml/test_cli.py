"""``foyer connections test`` and ``foyer connections saml-keys`` for a SAML connection."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner

from app.cli import cli
from app.clikit import AppContext
from app.connections.cli import register_commands
from app.db import session
from app.strategies.saml_cli import register_commands as register_saml_commands

register_commands(cli)
register_saml_commands(cli)


def run(foyer_app, *args):
    return CliRunner().invoke(cli, list(args), obj=AppContext(foyer_app))


def test_connections_test_prints_what_to_give_the_idp_and_checks_it(foyer_app, corp, idp):
    result = run(foyer_app, "connections", "test", "--tenant", "acme", "corp-saml")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "SP entity ID: urn:foyer:acme:corp-saml" in out
    assert "SP metadata URL: https://login.test/saml/corp-saml/metadata" in out
    assert "ACS URL (HTTP-POST): https://login.test/saml/corp-saml/acs" in out
    assert "ACS URL (HTTP-POST): https://login.test/o/corp/saml/corp-saml/acs" in out
    assert f"✓ IdP metadata: fetched from {idp.metadata_url}" in out
    assert f"✓ IdP entity ID: {idp.entity_id}" in out
    assert f"✓ SSO URL: {idp.base}/sso/redirect" in out
    assert "✓ IdP certificate 1: valid until" in out
    assert "✓ clock:" in out
    assert "✓ xmlsec1: xmlsec1" in out
    assert "0 error(s)" in out


def test_connections_test_fails_when_the_idp_metadata_is_unreachable(foyer_app, make_connection):
    make_connection("down-saml", "saml", options={"idp_metadata_url": "http://127.0.0.1:9/md"})
    result = run(foyer_app, "connections", "test", "--tenant", "acme", "down-saml")
    assert result.exit_code == 1
    assert "✗ IdP metadata: IdP metadata unreachable" in result.output


def test_connections_test_flags_an_expired_idp_certificate(foyer_app, make_connection, idp):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "old IdP")])
    now = dt.datetime.now(dt.UTC)
    old = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=35))
        .sign(key, hashes.SHA256())
    )
    pem = old.public_bytes(serialization.Encoding.PEM).decode()
    body = "".join(pem.strip().splitlines()[1:-1])
    current = idp.metadata_xml
    start = current.index("<ns1:X509Certificate>") + len("<ns1:X509Certificate>")
    end = current.index("</ns1:X509Certificate>")
    make_connection(
        "old-saml", "saml", options={"idp_metadata_xml": current[:start] + body + current[end:]}
    )
    result = run(foyer_app, "connections", "test", "--tenant", "acme", "old-saml")
    assert result.exit_code == 1, result.output
    assert "✗ IdP certificate 1: expired on" in result.output


def test_connections_test_of_a_database_connection_has_nothing_to_test(foyer_app, tenant):
    result = run(foyer_app, "connections", "test", "--tenant", "acme", "users")
    assert result.exit_code == 1
    assert "has nothing to test" in result.output


def test_saml_keys_rotation_from_the_command_line(foyer_app, corp):
    first = run(foyer_app, "connections", "saml-keys", "--tenant", "acme", "corp-saml")
    assert first.output.startswith("current")
    started = run(
        foyer_app, "connections", "saml-keys", "--tenant", "acme", "corp-saml", "--rotate", "start"
    )
    assert [line.split()[0] for line in started.output.splitlines()] == ["current", "next"]
    wrong = run(
        foyer_app, "connections", "saml-keys", "--tenant", "acme", "corp-saml", "--rotate", "retire"
    )
    assert wrong.exit_code == 1 and "no previous key" in wrong.output
    session.rollback()
