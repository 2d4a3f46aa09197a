"""The demo's banner lines up, and starting the demo again keeps what was applied on top."""

from __future__ import annotations

import sqlalchemy as sa

from app.configfile.apply import apply_text
from app.db import session
from app.demo.cli import account_lines
from app.demo.cli import banner_lines
from app.demo.seed import seed
from app.orgs.models import Organization


def test_the_banner_columns_line_up(foyer_app):
    demo = seed(foyer_app)
    rows = account_lines(demo)[1:]
    for marker in ("signs in to", "connection"):
        column = rows[0].index(marker)
        assert all(row[column - 2 : column] == "  " and row[column] != " " for row in rows), rows
    lines = banner_lines(demo)
    urls = [line.index("http://") for line in lines if "http://localhost" in line]
    assert len(set(urls)) == 1 and len(urls) == 3  # Foyer, the demo application, the mailbox


def acme() -> Organization:
    session.expire_all()
    return session.scalar(sa.select(Organization).where(Organization.name == "acme"))


def test_starting_again_keeps_what_an_integrator_applied(foyer_app):
    seed(foyer_app)
    text = "version: 1\ntenant: {name: demo, display_name: Foyer Demo, "
    text += 'domains: ["http://localhost:5000"]}\n'
    text += "organizations:\n  - {name: acme, display_name: Acme Corporation, "
    text += "metadata: {plan: trial}, connections: [acme-staff], theme: harbor}\n"
    apply_text(text, "mine.yaml")
    session.commit()
    again = seed(foyer_app)
    assert acme().metadata == {"plan": "trial"} and acme().theme == "harbor"
    assert "kept as it is" in again.changes
    assert "organization acme" in again.kept and "theme" in again.kept
    reset = seed(foyer_app, reset=True)
    assert acme().theme == "ember" and not reset.kept
    assert seed(foyer_app).kept == ""


def test_new_ports_apply_the_file_again(foyer_app):
    seed(foyer_app)
    demo = seed(foyer_app, 5200, 5201)
    assert demo.foyer_url == "http://localhost:5200" and not demo.kept
