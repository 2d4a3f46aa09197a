"""argon2id computed in the process's kept block agrees with argon2-cffi both ways, and the
block is reused, private to its process and never grown by a foreign hash."""

from __future__ import annotations

import os
import signal
import time

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type
from argon2.low_level import hash_secret

from app.security import argon2_block

PARAMS = {"time_cost": 1, "memory_cost": 64, "parallelism": 1}


@pytest.fixture(autouse=True)
def small_block():
    argon2_block.set_memory_limit(PARAMS["memory_cost"])
    yield
    argon2_block._block.kept = None


def test_a_hash_written_here_is_verified_by_argon2_cffi():
    encoded = argon2_block.hash_password("correct horse", **PARAMS)
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert PasswordHasher(**PARAMS).verify(encoded, "correct horse")
    assert encoded != argon2_block.hash_password("correct horse", **PARAMS)  # salted


def test_a_hash_written_by_argon2_cffi_is_verified_here():
    for kind, name in ((Type.ID, "argon2id"), (Type.I, "argon2i"), (Type.D, "argon2d")):
        encoded = hash_secret(b"p\xc3\xa4ss", b"0123456789abcdef", 2, 32, 1, 24, kind).decode()
        assert encoded.startswith(f"${name}$")
        assert argon2_block.verify_password(encoded, "päss")
        assert not argon2_block.verify_password(encoded, "pass")
        assert not argon2_block.verify_password(encoded, "päss ")


def test_one_flipped_bit_of_the_digest_fails():
    encoded = argon2_block.hash_password("secret", **PARAMS)
    head, digest = encoded.rsplit("$", 1)
    flipped = ("A" if digest[0] != "A" else "B") + digest[1:]
    assert not argon2_block.verify_password(f"{head}${flipped}", "secret")


@pytest.mark.parametrize(
    "encoded",
    [
        "$argon2id$v=19$m=64,t=1$c2FsdHNhbHRzYWx0$aGFzaA",  # no p
        "$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHRzYWx0$aGFzaA",  # unknown parameter
        "$argon2id$v=19$m=sixty,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
        "$argon2id$v=19$m=64,t=1,p=1$c2Fsd!!$aGFzaA",  # not base64
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$",  # no digest
        "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",  # libargon2 refuses
        "$argon2id$v=19$m=64,t=1,p=1$c2E$aGFzaGhhc2hoYXNo",  # salt too short
        "bcrypt-ish",
        "$scrypt$x$y$z$w",
    ],
)
def test_a_malformed_hash_is_a_value_error_never_a_match(encoded):
    with pytest.raises(ValueError):
        argon2_block.verify_password(encoded, "anything")


def test_a_hash_without_version_is_left_to_argon2_cffi():
    with pytest.raises(argon2_block.Unparsed):
        argon2_block.verify_password("$argon2id$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "x")


def test_every_hash_uses_the_same_kept_block():
    argon2_block.hash_password("one", **PARAMS)
    kept = argon2_block._block.kept
    assert kept is not None and len(kept) == 64 * 1024
    assert argon2_block.verify_password(argon2_block.hash_password("two", **PARAMS), "two")
    assert argon2_block._block.kept is kept
    assert argon2_block._block.handed is None  # libargon2 gave it back


def test_the_block_is_wiped_after_each_hash():
    argon2_block.hash_password("leave no trace", **PARAMS)
    assert argon2_block._block.kept[:] == bytes(64 * 1024)


def test_a_costlier_foreign_hash_gets_a_mapping_of_its_own():
    foreign = hash_secret(b"pw", b"0123456789abcdef", 1, 256, 1, 32, Type.ID).decode()
    argon2_block.hash_password("first", **PARAMS)
    kept = argon2_block._block.kept
    assert argon2_block.verify_password(foreign, "pw")
    assert argon2_block._block.kept is kept and len(kept) == 64 * 1024
    assert argon2_block._block.oversized is None  # unmapped at once


def test_a_forked_child_maps_its_own_block_and_lock():
    argon2_block.hash_password("parent", **PARAMS)
    parent_block = argon2_block._block.kept
    read, write = os.pipe()
    with argon2_block.one_at_a_time:  # as if another thread of the parent were hashing
        pid = os.fork()
        if pid == 0:  # the child: hash, and say whether it took a block of its own
            try:
                ok = argon2_block.verify_password(argon2_block.hash_password("c", **PARAMS), "c")
                own = argon2_block._block.kept is not parent_block
                os.write(write, b"1" if ok and own else b"0")
            finally:
                os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 20
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:  # the child waits on the parent's lock forever
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child could not hash while the parent held the lock")
        time.sleep(0.05)
    assert os.read(read, 1) == b"1"
    assert argon2_block._block.kept is parent_block


def test_threads_hashing_at_once_take_turns_in_the_block():
    import threading

    params = {"time_cost": 2, "memory_cost": 4096, "parallelism": 1}  # long enough to overlap
    argon2_block.set_memory_limit(params["memory_cost"])
    results: list[bool] = []

    def work(n: int) -> None:
        for i in range(5):
            secret = f"thread {n} password {i}"
            results.append(
                argon2_block.verify_password(argon2_block.hash_password(secret, **params), secret)
            )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 20
