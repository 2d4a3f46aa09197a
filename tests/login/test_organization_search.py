"""The organization picker's search answers the same, in the same order, through SQLite's
trigram index (queries of three characters or more) as through the plain ``LIKE`` it
narrows: special characters, quotes, FTS5 query syntax, non-ASCII, any case."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import textsearch
from app.db import session
from app.login.organization_picker import search
from app.tenancy.models import Tenant

DISPLAY_NAMES = (
    "Acme Corporation", "ACME Widgets", "100% Organic", "a_b_c Labs", "O'Reilly Media",
    'The "Quoted" Co', "Back\\slash Ltd", "Zoë Ünal GmbH", "École Polytechnique",
    "ÉCOLE NORMALE", "İstanbul Teknik", "日本語テスト株式会社", "🙂 Smile Inc", "NEAR(a b)",
    "x* OR y", "Σίσυφος ΑΕ", "zeta", "Zeta",
)  # fmt: skip
QUERIES = (
    "a", "ac", "acm", "ACME", "me w", "%", "_", "%_", "100%", "a_b", "'", "o're", '"', '"quoted"',
    "\\", "k\\s", "zoë", "ZOË", "ünal", "école", "ÉCOLE", "cole", "istanbul", "İst", "日本語",
    "本語テ", "🙂 s", "near(", "* or", "x*", "σίσ", "ΣΊΣ", "zeta", "org-1", "org", "xyz",
)  # fmt: skip


@pytest.fixture
def organizations(make_organization):
    for n, display_name in enumerate(DISPLAY_NAMES):
        make_organization(f"org-{n}", display_name)


def test_the_index_and_the_scan_give_the_same_answers(tenant, organizations, monkeypatch):
    indexed = {q: [o.name for o in search(tenant, q, 20)] for q in QUERIES}
    few = {q: [o.name for o in search(tenant, q, 2)] for q in QUERIES}
    with monkeypatch.context() as patched:
        patched.setattr(textsearch, "MIN_LENGTH", 10_000)  # every query: the scan
        scanned = {q: [o.name for o in search(tenant, q, 20)] for q in QUERIES}
    assert indexed == scanned
    assert few == {q: names[:2] for q, names in scanned.items()}
    assert indexed["100%"] == ["org-2"]
    assert sorted(indexed["zeta"]) == ["org-16", "org-17"]


def test_the_index_follows_renames_and_deletions(tenant, make_organization):
    org = make_organization("initech", "Initech Software")
    assert [o.name for o in search(tenant, "software", 20)] == ["initech"]
    org.display_name = "Initech Holdings"
    session.commit()
    assert search(tenant, "software", 20) == []
    assert [o.name for o in search(tenant, "holdings", 20)] == ["initech"]
    session.delete(org)
    session.commit()
    assert search(tenant, "holdings", 20) == []


def test_the_index_stays_whole_when_a_tenant_goes(foyer_app, tenant, organizations, make_user):
    make_user(email="ada@example.com", name="Ada Lovelace")
    session.execute(sa.delete(Tenant).where(Tenant.id == tenant.id))
    session.commit()
    if foyer_app.extensions["foyer.db"].engine.dialect.name != "sqlite":
        return
    for table in ("organization_name_search", "user_name_search"):
        session.execute(
            sa.text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
        )
        assert session.scalar(sa.text(f"SELECT count(*) FROM {table}_docsize")) == 0
