"""docs/config.md stays true: its example applies, and its field reference is the code's."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from app.clients.models import Client
from app.configfile.spec import reference
from app.db import session
from app.tenancy.services import find_tenant

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def test_the_field_reference_is_generated_from_the_schema():
    text = DOC.read_text()
    match = re.search(
        r"<!-- config-reference:.*?-->\n(.*?)<!-- end config-reference -->", text, re.S
    )
    assert match, "docs/config.md lost its config-reference markers"
    assert match.group(1) == reference(), (
        "docs/config.md is stale: paste app.configfile.spec.reference() between the markers"
    )


def test_the_example_applies_in_every_environment(foyer):
    example, users = yaml_blocks(DOC.read_text())[:2]
    for stage in ("dev", "qa"):
        env = {
            "STAGE": stage,
            "BASE_DOMAIN": f"{stage}.example.com",
            "ACME_CRM_TOKEN": f"crm-token-{stage}",
            "PORTAL_CLIENT_SECRET": f"portal-secret-{stage}-0123456789abcdef0123456789",
            "REPORTS_CLIENT_SECRET": f"reports-secret-{stage}-0123456789abcdef012345678",
            "FIRST_ADMIN_PASSWORD": "first admin password",
        }
        result = foyer.apply(example + users, env=env, name=f"{stage}.yaml")
        assert result.exit_code == 0, result.output
        tenant = find_tenant(f"saas-{stage}")
        assert tenant.base_url == f"https://login.{stage}.example.com"
        assert foyer.apply(example + users, env=env, name=f"{stage}.yaml").stdout.strip() == (
            f"tenant saas-{stage}: no changes"
        )
    client_ids = session.scalars(sa.select(Client.client_id).order_by(Client.client_id)).all()
    assert client_ids == ["portal-dev", "portal-qa", "reports-dev", "reports-qa"]
