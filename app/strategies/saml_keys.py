"""The service provider's key pairs of a SAML connection: made on first use, rotated in
two steps so that the customer's IdP never sees a request signed by a key it does not
know yet.

1. ``start``: a *next* key is added. The metadata publishes it beside the current one;
   the customer's IdP (or its administrator) picks it up.
2. ``finish``: the next key signs; the old one becomes *previous*, still published and
   still able to decrypt assertions encrypted for it.
3. ``retire``: the previous key is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
import typing as t

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from app.db import session
from app.db import utcnow
from app.strategies.saml_models import KEY_CURRENT
from app.strategies.saml_models import KEY_NEXT
from app.strategies.saml_models import KEY_PREVIOUS
from app.strategies.saml_models import SamlSpKey

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from app.connections.models import Connection

KEY_BITS = 2048
CERTIFICATE_DAYS = 3650
"""Self-signed: IdPs trust the certificate the metadata names, not a chain, so a long
validity avoids an outage on a date nobody watches; rotation is an explicit step."""
ORDER = {KEY_CURRENT: 0, KEY_NEXT: 1, KEY_PREVIOUS: 2}


class RotationError(Exception):
    """A rotation step that does not fit the keys the connection has."""


def new_key_pair(common_name: str, days: int = CERTIFICATE_DAYS) -> tuple[str, str, dt.datetime]:
    """(PEM private key, PEM self-signed certificate, its expiry)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = utcnow()
    not_after = now + dt.timedelta(days=days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode(), not_after


def _add(connection: Connection, state: str) -> SamlSpKey:
    key_pem, cert_pem, not_after = new_key_pair(f"{connection.name} SAML SP")
    row = SamlSpKey(
        connection_id=connection.id, state=state, certificate=cert_pem, not_after=not_after
    )
    row.private_key = key_pem
    session.add(row)
    return row


def sp_keys(connection: Connection) -> list[SamlSpKey]:
    """The connection's keys, the current one first; a first key is made (and committed)
    when it has none."""
    rows = list(
        session.scalars(sa.select(SamlSpKey).where(SamlSpKey.connection_id == connection.id))
    )
    if not any(row.state == KEY_CURRENT for row in rows):
        rows.append(_add(connection, KEY_CURRENT))
        session.commit()
    return sorted(rows, key=lambda row: (ORDER.get(row.state, 9), row.created_at))


def rotate(connection: Connection, step: str) -> list[SamlSpKey]:
    """Take one rotation step (``start``, ``finish`` or ``retire``), committed.

    :raises RotationError: when the step does not follow from the keys there are.
    """
    rows = sp_keys(connection)
    by_state = {row.state: row for row in rows}
    if step == "start":
        if KEY_NEXT in by_state:
            raise RotationError("a next key is already published; finish the rotation first")
        _add(connection, KEY_NEXT)
    elif step == "finish":
        if KEY_NEXT not in by_state:
            raise RotationError("no next key: start a rotation first")
        if KEY_PREVIOUS in by_state:
            session.delete(by_state[KEY_PREVIOUS])
        by_state[KEY_CURRENT].state = KEY_PREVIOUS
        by_state[KEY_NEXT].state = KEY_CURRENT
    elif step == "retire":
        if KEY_PREVIOUS not in by_state:
            raise RotationError("no previous key to retire")
        session.delete(by_state[KEY_PREVIOUS])
    else:
        raise RotationError(f"unknown rotation step {step!r}")
    session.commit()
    return sp_keys(connection)


@dataclasses.dataclass(frozen=True)
class KeyFiles:
    """Where the keys are while the SAML library works with them (it hands paths to
    ``xmlsec1``): the signing pair and every pair that may decrypt."""

    key_file: str
    cert_file: str
    published_cert_files: list[str]
    decryption_pairs: list[dict[str, str]]


@contextlib.contextmanager
def key_files(keys: list[SamlSpKey]) -> Iterator[KeyFiles]:
    """Write the keys to a private temporary folder (mode 0700, files 0600), removed when
    the block ends: the private keys stay encrypted at rest everywhere else."""
    with tempfile.TemporaryDirectory(prefix="foyer-saml-") as folder:
        yield write_key_files(keys, folder)


def write_key_files(keys: list[SamlSpKey], folder: str) -> KeyFiles:
    """Write the keys into ``folder`` (private: files 0600), the current one signing."""
    pairs = []
    for index, row in enumerate(keys):
        key_path = os.path.join(folder, f"{index}.key")
        cert_path = os.path.join(folder, f"{index}.crt")
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(row.private_key)
        with open(cert_path, "w") as out:
            out.write(row.certificate)
        pairs.append({"key_file": key_path, "cert_file": cert_path})
    signing = next(
        (pair for pair, row in zip(pairs, keys, strict=True) if row.state == KEY_CURRENT),
        pairs[0],
    )
    return KeyFiles(
        key_file=signing["key_file"],
        cert_file=signing["cert_file"],
        published_cert_files=[p["cert_file"] for p in pairs if p is not signing],
        decryption_pairs=pairs,
    )
