"""Plugin tests run with the example plugins of ``plugins/`` installed (all inert until enabled)."""

from __future__ import annotations

import sqlite3
import typing as t
from pathlib import Path

import bcrypt
import pytest

from app.strategies.legacy_hashes import pbkdf2_sha256

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture
def foyer_config(foyer_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**foyer_config, "plugins_dir": str(EXAMPLES), "plugin_timeout": 2.0}


BOB_PASSWORD = "bob's old password"
CAROL_PASSWORD = "carol's old password"


def make_legacy_db(path):
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, username TEXT, "
        "password_hash TEXT, email_verified INTEGER, name TEXT)"
    )
    db.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                1,
                "Bob@Old.test",
                "bob",
                bcrypt.hashpw(BOB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
                1,
                "Bob",
            ),
            (
                2,
                "carol@old.test",
                "carol",
                "pbkdf2_sha256$" + pbkdf2_sha256(CAROL_PASSWORD, "s4lt", 1000),
                0,
                "Carol",
            ),
            (3, "dave@old.test", "dave", "md5$whatever", 1, "Dave"),
        ],
    )
    db.commit()
    db.close()


@pytest.fixture
def legacy_db(tmp_path):
    path = tmp_path / "old-app.db"
    make_legacy_db(path)
    return path
