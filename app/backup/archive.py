"""The archive container: a short plain header, then authenticated, encrypted frames.

Layout (format 1)::

    FOYER-BACKUP\\n
    {"format": 1, "cipher": "AES-256-GCM", "kdf": {...}, "nonce": ..., "check": ...}\\n
    frame*   4-byte big-endian length (top bit: last frame) + AES-GCM ciphertext

The key comes from a passphrase through scrypt (parameters and salt in the header). The
header is the additional data of every frame, so nothing in it can be changed unseen; each
frame's nonce holds its number and the last-frame flag, so frames cannot be reordered,
dropped or cut off without the reader noticing. ``check`` (an HMAC of the salt under a
second derived key) tells a wrong passphrase from a damaged archive. The plaintext is a
zlib stream of JSON lines, written and read one frame at a time (any size, little memory).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import typing as t
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"FOYER-BACKUP\n"
FORMAT = 1
"""The newest archive format this code writes and reads."""
FRAME = 64 * 1024
"""Plaintext bytes per frame."""
LAST = 0x8000_0000
SCRYPT_N = 2**17
"""scrypt cost: 128 MiB and a fraction of a second per backup or restore."""
MAX_SCRYPT_N = 2**20
"""A header asking for more is refused (it could make the reader swap for minutes)."""
MAX_HEADER = 4096


class ArchiveError(Exception):
    """An archive that cannot be read: the message says why, in one line."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: t.Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """The frame key and the passphrase-check key."""
    material = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return material[:32], material[32:]


def _check(check_key: bytes, salt: bytes) -> bytes:
    return hmac.new(check_key, b"foyer-backup-check" + salt, hashlib.sha256).digest()


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", number, 1 if last else 0)


class ArchiveWriter:
    """Encrypts JSON records into ``out`` frame by frame; :meth:`close` writes the last."""

    def __init__(self, out: t.BinaryIO, passphrase: str) -> None:
        salt = os.urandom(16)
        scrypt_n = SCRYPT_N
        self._prefix = os.urandom(7)
        key, check_key = _derive(passphrase, salt, scrypt_n, 8, 1)
        header = {
            "format": FORMAT,
            "cipher": "AES-256-GCM",
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": _b64(salt)},
            "nonce": _b64(self._prefix),
            "check": _b64(_check(check_key, salt)),
        }
        self._header = json.dumps(header, sort_keys=True).encode("ascii") + b"\n"
        self._out = out
        self._aead = AESGCM(key)
        self._zip = zlib.compressobj(6)
        self._buffer = bytearray()
        self._number = 0
        out.write(MAGIC + self._header)

    def write(self, record: t.Any) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        self._buffer += self._zip.compress(line.encode("utf-8"))
        while len(self._buffer) >= FRAME:
            self._frame(bytes(self._buffer[:FRAME]), last=False)
            del self._buffer[:FRAME]

    def close(self) -> None:
        self._buffer += self._zip.flush()
        while len(self._buffer) > FRAME:
            self._frame(bytes(self._buffer[:FRAME]), last=False)
            del self._buffer[:FRAME]
        self._frame(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _frame(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._number, last), plain, self._header)
        self._out.write(struct.pack(">I", len(sealed) | (LAST if last else 0)) + sealed)
        self._number += 1


def read_records(stream: t.BinaryIO, passphrase: str) -> t.Iterator[t.Any]:
    """The archive's records, one at a time, each checked before it is given.

    :raises ArchiveError: not an archive, a newer format, a wrong passphrase, or an archive
        altered or cut short (found at the first bad frame).
    """
    header_line = _read_header(stream)
    try:
        header = json.loads(header_line)
        kdf = header["kdf"]
        fmt = header["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError("this is not a Foyer backup (its header cannot be read)") from exc
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise ArchiveError(
            f"this backup has format {fmt}, newer than this Foyer reads ({FORMAT}): "
            "restore it with the Foyer version that made it, or a newer one"
        )
    try:
        salt, prefix, check = _unb64(kdf["salt"]), _unb64(header["nonce"]), _unb64(header["check"])
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        if kdf["name"] != "scrypt" or len(prefix) != 7 or not 2 <= n <= MAX_SCRYPT_N:
            raise ValueError("unsupported key derivation")
        key, check_key = _derive(passphrase, salt, n, r, p)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError("this is not a Foyer backup (its header cannot be read)") from exc
    if not hmac.compare_digest(check, _check(check_key, salt)):
        raise ArchiveError("wrong passphrase for this backup")
    aead = AESGCM(key)
    unzip = zlib.decompressobj()
    pending = b""
    number = 0
    while True:
        size_bytes = stream.read(4)
        if len(size_bytes) < 4:
            raise ArchiveError("the backup is truncated: it ends before its last part")
        (size,) = struct.unpack(">I", size_bytes)
        last = bool(size & LAST)
        size &= ~LAST
        if size > FRAME + 1024:
            raise ArchiveError("the backup is damaged (a part has an impossible length)")
        sealed = stream.read(size)
        if len(sealed) < size:
            raise ArchiveError("the backup is truncated: it ends before its last part")
        try:
            plain = aead.decrypt(_nonce(prefix, number, last), sealed, header_line)
        except InvalidTag as exc:
            raise ArchiveError(f"the backup is damaged: part {number + 1} was altered") from exc
        number += 1
        try:
            pending += unzip.decompress(plain)
        except zlib.error as exc:  # authenticated, so only a writer's bug gets here
            raise ArchiveError("the backup is damaged: its content cannot be unpacked") from exc
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield json.loads(line)
        if last:
            break
    if pending or stream.read(1):
        raise ArchiveError("the backup is damaged: something follows its last part")


def _read_header(stream: t.BinaryIO) -> bytes:
    if stream.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("this is not a Foyer backup")
    line = stream.readline(MAX_HEADER)
    if not line.endswith(b"\n"):
        raise ArchiveError("this is not a Foyer backup (its header cannot be read)")
    return line
