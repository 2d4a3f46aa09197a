"""The ``name`` filter of ``GET /api/v1/users`` answers the same through the trigram index
(SQLite's FTS5 table, PostgreSQL's pg_trgm; terms of three characters or more) as through
the plain ``LIKE`` it narrows: special characters, quotes, FTS5 query syntax, non-ASCII,
any case, cursor pages."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app import textsearch
from app.accounts.models import User
from app.accounts.services import anonymize_user
from app.accounts.services import delete_user
from app.db import session

NAMES = (
    "Ada Lovelace", "ADA LOVELACE", "ada lovelace", "100% Corp", "a_b_c", "abc", "O'Brien",
    'Quote "Q" Inc', "back\\slash", "Zoë Ünal", "ZOË ÜNAL", "École Polytechnique",
    "école polytechnique", "İstanbul", "日本語テスト", "🙂 smile", "NEAR(a b)", "x* OR y",
    "^start -minus", "ΣΊΣΥΦΟΣ", "σίσυφος",
)  # fmt: skip
TERMS = (
    "a", "ad", "ada", "ADA", "da lov", "%", "_", "%_", "100%", "0% c", "a_b", "_b_", "'",
    "O'B", "'br", '"', '"Q"', 'te "q', "\\", "k\\s", "back\\", "zoë", "ZOË", "Ünal", "ünal",
    "école", "ÉCOLE", "cole p", "istanbul", "İst", "ist", "日本", "日本語", "本語テ", "🙂 s",
    "NEAR(", "near(a", "* OR", "x*", "^st", "-minus", "AND", "OR y", "σίσ", "ΣΊΣ", "xyz",
    "lovelace", "ovel",
)  # fmt: skip


@pytest.fixture
def named_users(make_user):
    for n, name in enumerate(NAMES):
        make_user(email=f"user{n}@example.com", name=name)
    make_user(email="nameless@example.com")


def search(client: t.Any, headers: dict[str, str], term: str, limit: int = 100) -> list[str]:
    found, cursor = [], None
    while True:
        query = {"name": term, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/users", query_string=query, headers=headers)
        assert page.status_code == 200, page.get_json()
        found += [u["email"] for u in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            return found


def test_the_index_and_the_scan_give_the_same_answers(
    foyer_app, client, auth, named_users, monkeypatch
):
    sent: list[str] = []
    engine = foyer_app.extensions["foyer.db"].engine

    def record(_conn: t.Any, _cursor: t.Any, statement: str, *_args: t.Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        indexed = {term: search(client, auth, term) for term in TERMS}
        paged = {term: search(client, auth, term, limit=2) for term in TERMS}
    finally:
        event.remove(engine, "before_cursor_execute", record)
    with monkeypatch.context() as patched:
        patched.setattr(textsearch, "MIN_LENGTH", 10_000)  # every term: the scan
        scanned = {term: search(client, auth, term) for term in TERMS}
    assert indexed == scanned
    assert paged == scanned
    assert indexed["100%"] == ["user3@example.com"]
    assert indexed['"Q"'] == ["user7@example.com"]
    assert indexed["x*"] == ["user17@example.com"]
    both = {"name": "lovelace", "connection": "users", "blocked": "false"}
    answer = client.get("/api/v1/users", query_string=both, headers=auth).get_json()
    assert [u["email"] for u in answer["items"]] == indexed["lovelace"]
    # on SQLite, read from the index first (its planner would otherwise walk the tenant)
    matched = any("user_name_search CROSS JOIN" in statement for statement in sent)
    assert matched == (engine.dialect.name == "sqlite")


def test_the_index_follows_changes_and_deletions(client, auth, make_user):
    user = make_user(email="grace@example.com", name="Grace Hopper")
    assert search(client, auth, "Hopper") == ["grace@example.com"]
    user.name = "Grace Brewster"
    session.commit()
    assert search(client, auth, "Hopper") == []
    assert search(client, auth, "Brewster") == ["grace@example.com"]
    user.last_login_at = user.created_at  # not a name: the index is not touched
    session.commit()
    assert search(client, auth, "Brewster") == ["grace@example.com"]
    anonymize_user(user)
    session.commit()
    assert search(client, auth, "Brewster") == []
    other = make_user(email="ada@example.com", name="Ada Lovelace")
    assert search(client, auth, "Lovelace") == ["ada@example.com"]
    delete_user(other)
    session.commit()
    assert search(client, auth, "Lovelace") == []


def test_compacting_folds_in_what_the_inserts_left_and_keeps_the_answers(client, auth, named_users):
    """Each user above was committed on its own: on SQLite one index segment each (merged
    four at a time), on PostgreSQL entries queued in the GIN index's pending list."""
    before = {term: search(client, auth, term) for term in TERMS}
    if not textsearch.has_trigram_index("user"):
        assert textsearch.compact("user") == 0
        pytest.skip("no trigram index here: nothing to fold in")
    if session.get_bind().dialect.name == "postgresql":
        assert textsearch.compact("user") > 0  # the pending pages the users above queued
        assert textsearch.compact("user") == 0
    else:
        assert textsearch.compact("user") >= 2  # merged in steps, the last finding nothing
        assert textsearch.compact("user") == 1  # one segment: nothing left to merge
        session.execute(
            sa.text("INSERT INTO user_name_search(user_name_search) VALUES ('integrity-check')")
        )
    assert {term: search(client, auth, term) for term in TERMS} == before


def test_postgresql_looks_up_the_runs_of_three_and_not_the_whole_term(
    foyer_app, client, auth, named_users
):
    """pg_trgm would look every trigram of the term up (a full name: about fifteen lists,
    several of them long); the index is asked for the term's runs of three only, and the
    deciding ``LIKE``, on ``name || ''``, is left to the rows it finds."""
    engine = foyer_app.extensions["foyer.db"].engine
    if engine.dialect.name != "postgresql" or not textsearch.has_trigram_index("user"):
        pytest.skip("PostgreSQL with pg_trgm only (SQLite: the FTS5 table, tested above)")
    sent: list[tuple[str, t.Any]] = []

    def record(_conn: t.Any, _cursor: t.Any, statement: str, parameters: t.Any, *_: t.Any):
        if " LIKE " in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert search(client, auth, "Ada Lovelace") == ["user0@example.com"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    ((statement, parameters),) = sent  # what the API sent
    assert {"Ada", " Lo", "vel", "ace", "Ada Lovelace"} <= set(parameters.values())
    assert statement.count('"user".name LIKE') == 4  # the runs, which the index answers
    assert statement.count('"user".name || ') == 1  # the whole term, which it does not
    # the same conditions alone, planned as for a large table: the index gets the runs only
    term = "Ada Lovelace"
    alone = textsearch.narrowed(sa.select(User.id), User.__table__, term).where(
        textsearch.unindexed(User.name).contains(term, autoescape=True)
    )
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        compiled = alone.compile(engine, compile_kwargs={"literal_binds": True})
        plan = [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}")]
    looked_up = [line for line in plan if "Index Cond" in line]
    assert any("ix_user_name_trgm" in line for line in plan), plan
    assert looked_up and "%Ada%" in looked_up[0] and "%ace%" in looked_up[0], plan
    assert not any("Lovelace" in line for line in looked_up), plan


def test_a_long_term_asks_the_index_for_some_runs_and_the_like_decides(client, auth, make_user):
    """A term of 255 characters would be 85 runs: the index gets eight of them, spread over
    the term, and a name that differs from the term only between them is still refused."""
    long_name = "".join(f"{n:03d}" for n in range(85))  # 255 characters, no run twice
    make_user(email="long@example.com", name=long_name)
    other = long_name[:120] + "x" + long_name[121:]  # one character off, mid-term
    make_user(email="other@example.com", name=other)
    assert len(textsearch._spread([long_name[i : i + 3] for i in range(0, 255, 3)])) == 8
    assert search(client, auth, long_name) == ["long@example.com"]
    assert search(client, auth, other) == ["other@example.com"]
    assert search(client, auth, long_name[30:200]) == ["long@example.com"]
