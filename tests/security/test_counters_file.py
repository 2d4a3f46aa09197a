"""Beside an SQLite file, the shared counters live in a file of their own: counting, which
nearly every request does, must not make the database's other connections read their pages
again (SQLite empties a connection's page cache when another one has written the file)."""

from __future__ import annotations

import sqlalchemy as sa

from app.db import Database
from app.db import counters_url
from app.security.counters import DatabaseCounters
from app.testing import token_request


def test_an_sqlite_file_counts_in_a_file_beside_it():
    assert counters_url("sqlite:////srv/foyer/foyer.db").database == "/srv/foyer/foyer-counters.db"
    assert counters_url("sqlite:///instance/foyer.sqlite3").database == (
        "instance/foyer-counters.sqlite3"
    )
    assert counters_url("sqlite:////srv/a.b/foyer").database == "/srv/a.b/foyer-counters"


def test_other_databases_count_in_themselves():
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:foyer?mode=memory&cache=shared&uri=true",
        "postgresql+psycopg://foyer@db.internal/foyer",
    ):
        assert counters_url(url) == sa.make_url(url), url


def test_workers_starting_together_share_one_new_counters_file(tmp_path):
    """Each process creates the table when it is not there; their counts add up."""
    first, second = (
        Database(f"sqlite:///{tmp_path / 'foyer.db'}"),
        Database(f"sqlite:///{tmp_path / 'foyer.db'}"),
    )
    try:
        assert first.counters_apart
        one, two = DatabaseCounters(first), DatabaseCounters(second)
        assert one.add("k", 60, now=1000.0).value == 1
        assert two.add("k", 60, now=1001.0).value == 2
        assert two.peek("k", now=1002.0).value == 2
        assert (tmp_path / "foyer-counters.db").is_file()
        assert not (tmp_path / "foyer.db").exists()  # nothing else was asked of it
    finally:
        first.dispose()
        second.dispose()


def test_a_counted_request_leaves_the_database_file_alone(foyer_app, client, make_client):
    """The token endpoint counts every request; another connection to the database sees no
    change of the file (``PRAGMA data_version``), and the count is in the counters' file."""
    database = foyer_app.extensions["foyer.db"]
    if not database.counters_apart:
        assert database.engine.dialect.name != "sqlite" or ":memory:" in str(database.url)
        return  # PostgreSQL counts in its own database: its caches are not SQLite's
    model, secret = make_client(grant_types=["client_credentials"], redirect_uris=[])
    token_request(client, model, secret, grant_type="client_credentials")  # tables warm
    with database.engine.connect() as reader:
        before = reader.exec_driver_sql("PRAGMA data_version").scalar()
        answer = token_request(client, model, secret, grant_type="client_credentials")
        assert answer.status_code == 200
        after = reader.exec_driver_sql("PRAGMA data_version").scalar()
    assert after == before
    with database.counters_engine.connect() as counters:
        assert counters.exec_driver_sql("SELECT count(*) FROM counter").scalar() >= 1
    with database.engine.connect() as main:
        assert main.exec_driver_sql("SELECT count(*) FROM counter").scalar() == 0
