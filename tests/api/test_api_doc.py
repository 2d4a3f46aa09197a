"""The walk-through of docs/api.md works as written, with ``requests``, against a real
server."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import sqlalchemy as sa

from app.accounts.models import User
from app.api.policy import SCOPES
from app.db import session
from app.scim.models import ScimToken

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def walk_through() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [block for block in blocks if "FOYER_API_CLIENT_ID" in block]
    return source


def test_documented_walk_through_runs(live_server, make_client, monkeypatch, capsys):
    model, secret = make_client(
        name="Back office",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scope=" ".join(SCOPES),
        audience=f"{live_server}/api/v1/",
    )
    monkeypatch.setenv("FOYER_ISSUER", live_server)
    monkeypatch.setenv("FOYER_API_CLIENT_ID", model.client_id)
    monkeypatch.setenv("FOYER_API_CLIENT_SECRET", t.cast(str, secret))
    namespace: dict[str, t.Any] = {"__name__": "walk_through"}
    exec(compile(walk_through(), str(DOC), "exec"), namespace)  # noqa: S102

    assert namespace["org"]["name"] == "globex"
    assert namespace["user"]["has_password"] is False
    assert [u["id"] for u in namespace["found"]["items"]] == [namespace["user"]["id"]]
    assert namespace["updated"]["app_metadata"] == {
        "organizations": ["globex"],
        "plan": "enterprise",
    }
    assert namespace["scim"]["token"].startswith("scim_")
    assert namespace["blocked"]["blocked"] is True
    assert "user_blocked" in capsys.readouterr().out
    session.expire_all()
    user = session.scalar(sa.select(User).where(User.email == "ada@globex.example"))
    assert user is not None and user.blocked
    assert session.scalar(sa.select(sa.func.count()).select_from(ScimToken)) == 1
