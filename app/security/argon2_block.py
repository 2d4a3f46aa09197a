"""argon2id in one memory block per process, reused by every hash.

argon2-cffi's high-level functions let libargon2 ``malloc`` its ``memory_cost`` block (19
MiB) for each hash and free it afterwards. glibc then hands the freed block out piece by
piece to the objects the next requests create, so the next hash cannot reuse it and takes
another 19 MiB: a worker's peak grew by a whole block after a few hundred requests. Where
the block is a fresh mapping each time instead (a fixed ``MALLOC_MMAP_THRESHOLD_``), every
hash pays 4,864 page faults. Here libargon2 receives, through its context API's allocation
callbacks, one private anonymous mapping that this process keeps: the same pages for every
hash, no page faults after the first, and nothing else ever placed in them.

libargon2 wipes the block before handing it back (``clear_internal_memory``), as it does
before ``free``; the mapping is also left out of core dumps. The block belongs to the
process that mapped it: a forked child maps its own. Hashes run one at a time per process
(:data:`one_at_a_time`), so the block is never used twice at once.

A hash whose parameters ask for more memory than the configured ``memory_cost`` (a hash
imported from elsewhere) gets a mapping of its own, unmapped at once, so the block kept
never grows beyond what the settings ask. argon2-cffi reads each hash's parameters; hashes
of argon2 1.0 (without ``v=``, which Foyer never wrote nor imports) are left to its own
verification.

The context is libargon2's public ``argon2_context`` (its allocation callbacks included),
reached through argon2-cffi's ``core`` binding; the tests hold every hash written here
verifiable by argon2-cffi and the other way round, so a change of that structure in a
later release fails them rather than a sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import mmap
import os
import secrets
import threading
import typing as t

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError
from argon2.low_level import ARGON2_VERSION
from argon2.low_level import Type
from argon2.low_level import core
from argon2.low_level import error_to_str
from argon2.low_level import ffi
from argon2.low_level import lib

SALT_LEN = 16
HASH_LEN = 32

one_at_a_time = threading.Lock()
"""argon2 hashes of this process run one at a time: they share the block, and each holds
``memory_cost`` (19 MiB) while it runs and releases the GIL, so a threaded server (gthread,
granian with more threads) would otherwise hold one per busy thread. Processes still hash
side by side: one per core where a server runs a worker per core."""


class Unparsed(ValueError):
    """An argon2 1.0 hash, left to argon2-cffi."""


class _Block:
    """The process's argon2 memory: one private anonymous mapping, kept."""

    def __init__(self) -> None:
        self.kept: mmap.mmap | None = None
        self.limit = 0
        self.oversized: mmap.mmap | None = None
        self.handed: t.Any = None
        """The cffi view of the mapping last handed to libargon2 (kept alive while it works)."""

    def take(self, size: int) -> t.Any:
        if size > self.limit:
            self.oversized = _mapping(size)
            self.handed = ffi.from_buffer(self.oversized)
            return self.handed
        if self.kept is None or len(self.kept) < size:
            self.kept = _mapping(self.limit)
        self.handed = ffi.from_buffer(self.kept)
        return self.handed

    def give_back(self) -> None:
        self.handed = None
        if self.oversized is not None:
            self.oversized.close()
            self.oversized = None


def _mapping(size: int) -> mmap.mmap:
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_DONTDUMP"):
        block.madvise(mmap.MADV_DONTDUMP)
    return block


_block = _Block()


def _after_fork_in_child() -> None:
    """A forked child hashes in a block and under a lock of its own: the parent's mapping
    is copy-on-write shared, and its lock may have been held by a thread that did not fork."""
    global one_at_a_time
    one_at_a_time = threading.Lock()
    _block.kept = None
    _block.oversized = None
    _block.handed = None


os.register_at_fork(after_in_child=_after_fork_in_child)


@ffi.callback("int(uint8_t **, size_t)", onerror=lambda *_: None)
def _allocate(memory: t.Any, size: int) -> int:
    memory[0] = ffi.NULL  # libargon2 reports an allocation error if this stays NULL
    memory[0] = ffi.cast("uint8_t *", _block.take(size))
    return 0


@ffi.callback("void(uint8_t *, size_t)", onerror=lambda *_: None)
def _release(memory: t.Any, size: int) -> None:
    _block.give_back()


def set_memory_limit(memory_cost_kib: int) -> None:
    """The size of the block kept: the configured ``memory_cost``."""
    _block.limit = memory_cost_kib * 1024


def raw_hash(
    password: bytes,
    salt: bytes,
    *,
    type_: Type,
    version: int,
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    hash_len: int,
) -> bytes:
    """libargon2's raw output for these inputs, computed in the process's block.

    :raises ValueError: libargon2 refused the parameters (its message).
    """
    out = ffi.new("uint8_t[]", hash_len)
    pwd = ffi.from_buffer(password)
    salt_buffer = ffi.from_buffer(salt)
    context = ffi.new("argon2_context *")
    context.out = out
    context.outlen = hash_len
    context.pwd = ffi.cast("uint8_t *", pwd)
    context.pwdlen = len(password)
    context.salt = ffi.cast("uint8_t *", salt_buffer)
    context.saltlen = len(salt)
    context.secret = ffi.NULL
    context.secretlen = 0
    context.ad = ffi.NULL
    context.adlen = 0
    context.t_cost = time_cost
    context.m_cost = memory_cost
    context.lanes = parallelism
    context.threads = parallelism
    context.version = version
    context.allocate_cbk = _allocate
    context.free_cbk = _release
    context.flags = lib.ARGON2_DEFAULT_FLAGS
    with one_at_a_time:
        code = core(context, type_.value)
    if code != lib.ARGON2_OK:
        raise ValueError(error_to_str(code))
    return bytes(out)


def hash_password(password: str, *, time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A new argon2id hash of ``password`` in the PHC string format argon2-cffi writes."""
    salt = secrets.token_bytes(SALT_LEN)
    digest = raw_hash(
        password.encode(),
        salt,
        type_=Type.ID,
        version=ARGON2_VERSION,
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=HASH_LEN,
    )
    return (
        f"$argon2id$v={ARGON2_VERSION}"
        f"$m={memory_cost},t={time_cost},p={parallelism}${_b64(salt)}${_b64(digest)}"
    )


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time comparison of the digests).
    The parameters are read by argon2-cffi's own parser.

    :raises Unparsed: a hash of argon2 1.0 (no ``v=``), left to argon2-cffi: its parser
        reports such hashes as another version than libargon2 computes them with.
    :raises ValueError: a malformed hash, or parameters libargon2 refuses.
    """
    if encoded.count("$") == 4:
        raise Unparsed(encoded[:10])
    try:
        params = extract_parameters(encoded)
        salt, digest = (_unb64(part) for part in encoded.rsplit("$", 2)[1:])
    except (InvalidHashError, binascii.Error) as exc:
        raise ValueError("malformed argon2 hash") from exc
    if not digest:
        raise ValueError("malformed argon2 hash")
    computed = raw_hash(
        password.encode(),
        salt,
        type_=params.type,
        version=params.version,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=len(digest),
    )
    return hmac.compare_digest(computed, digest)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
