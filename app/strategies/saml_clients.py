"""The SAML library's client of a connection, kept per worker while nothing it is built
from changes.

Building one costs far more than using it: the library parses the IdP's metadata and
imports the service provider's RSA key twice (each import checks the key, tens to hundreds
of milliseconds), every time. A client is therefore kept, keyed by everything it is built
from (the connection's options, the IdP metadata document, the SP keys and their states,
the ACS URLs, whether unsolicited answers are allowed): a metadata refresh, a key rotation
or an option change builds a new one. Its key files live in a private folder (mode 0700,
files 0600; in memory under ``/dev/shm`` where there is one) for at most
:data:`MAX_AGE` seconds, removed when the entry leaves the cache.

The library also asks ``xmlsec1 --version`` twice per signature it checks (two more
processes per answer): the clients here ask it once per worker.

A client serves one request at a time; a request that finds it busy builds its own for
that request, as before. What the library remembers between calls (the people it saw,
the requests it sent) is dropped after each use: every check Foyer needs is passed in.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import typing as t

from saml2.population import Population
from saml2.sigver import CryptoBackendXmlSec1

from app.strategies.saml_keys import KeyFiles
from app.strategies.saml_keys import key_files
from app.strategies.saml_keys import write_key_files

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

    from saml2.client import Saml2Client

    from app.connections.models import Connection
    from app.strategies.saml_models import SamlSpKey

MAX_ENTRIES = 64
"""Clients a worker keeps (one per connection and host in use, typically)."""
MAX_AGE = 600.0
"""Seconds a client (and its key files) is kept."""
MEMORY_FOLDER = "/dev/shm"

Build = t.Callable[[KeyFiles], tuple["Saml2Client", str]]


@dataclasses.dataclass
class _Entry:
    client: Saml2Client
    idp: str
    folder: str
    built_at: float
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


_entries: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
_guard = threading.Lock()
builds = 0
"""Clients built since start (cached or not): what the ACS benchmark and tests read."""


def cache_key(
    connection: Connection,
    metadata: str,
    keys: list[SamlSpKey],
    acs_urls: list[str],
    allow_unsolicited: bool,
) -> str:
    return json.dumps(
        [
            connection.id,
            connection.options,
            hashlib.sha256(metadata.encode()).hexdigest(),
            [(k.id, k.state) for k in keys],
            acs_urls,
            allow_unsolicited,
        ],
        sort_keys=True,
        default=str,
    )


@contextlib.contextmanager
def saml_client(
    connection: Connection,
    metadata: str,
    keys: list[SamlSpKey],
    acs_urls: list[str],
    allow_unsolicited: bool,
    build: Build,
) -> Iterator[tuple[Saml2Client, str]]:
    """The connection's client and the entity ID of its IdP, for the block's use.

    :param build: makes a client from written key files (raises what it raises).
    """
    key = cache_key(connection, metadata, keys, acs_urls, allow_unsolicited)
    entry = _take(key)
    if entry is None:
        entry = _build(keys, build)
        entry.lock.acquire()
        _put(key, entry)
    elif not entry.lock.acquire(blocking=False):  # busy: one of its own, as before
        with key_files(keys) as files:
            yield _counted(build)(files)
        return
    try:
        yield entry.client, entry.idp
    finally:
        entry.client.users = Population()
        entry.client.state.clear()
        entry.lock.release()


@atexit.register
def clear() -> None:
    """Forget every client (their key files are removed); also when the worker exits."""
    with _guard:
        entries = list(_entries.values())
        _entries.clear()
    for entry in entries:
        _remove(entry)


def _take(key: str) -> _Entry | None:
    with _guard:
        entry = _entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.built_at > MAX_AGE:
            del _entries[key]
            stale = entry
        else:
            _entries.move_to_end(key)
            return entry
    _remove(stale)
    return None


def _put(key: str, entry: _Entry) -> None:
    evicted = []
    with _guard:
        previous = _entries.pop(key, None)
        if previous is not None:
            evicted.append(previous)
        _entries[key] = entry
        while len(_entries) > MAX_ENTRIES:
            evicted.append(_entries.popitem(last=False)[1])
    for old in evicted:
        _remove(old)


def _build(keys: list[SamlSpKey], build: Build) -> _Entry:
    parent = MEMORY_FOLDER if os.path.isdir(MEMORY_FOLDER) else None
    folder = tempfile.mkdtemp(prefix="foyer-saml-", dir=parent)
    try:
        client, idp = _counted(build)(write_key_files(keys, folder))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _Entry(client, idp, folder, time.monotonic())


def _remove(entry: _Entry) -> None:
    """Remove the entry's key files once no request uses its client."""
    with entry.lock:
        shutil.rmtree(entry.folder, ignore_errors=True)


def _counted(build: Build) -> Callable[[KeyFiles], tuple[Saml2Client, str]]:
    def counted(files: KeyFiles) -> tuple[Saml2Client, str]:
        global builds
        builds += 1
        client, idp = build(files)
        crypto = client.sec.crypto
        if type(crypto) is CryptoBackendXmlSec1:
            client.sec.crypto = XmlSec1(crypto.xmlsec, delete_tmpfiles=crypto.delete_tmpfiles)
        return client, idp

    return counted


class XmlSec1(CryptoBackendXmlSec1):
    """The library's ``xmlsec1`` backend, its version asked once per worker."""

    @property
    def version(self) -> str:
        return _xmlsec_version(self.xmlsec)


@functools.cache
def _xmlsec_version(binary: str) -> str:
    return str(CryptoBackendXmlSec1(binary).version)
