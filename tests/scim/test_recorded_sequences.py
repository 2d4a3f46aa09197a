"""Okta's and Entra ID's recorded request sequences, replayed: create, update, deactivate,
reactivate, group push, delete. Each deactivation and deletion is checked end to end: the
user's sessions and refresh tokens end at once and the application registered for
back-channel logout receives a logout token for the session."""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.db import session
from app.oidc.models import TokenGrant
from app.orgs.models import Membership
from app.scim.models import ScimUser
from app.sessions.models import SsoSession
from app.sessions.services import new_sso_session
from app.testing import CLIENT_REDIRECT_URI
from app.testing import decode_jwt
from tests.api.world import grant_for
from tests.security.test_backchannel_logout import RelyingParty

RECORDINGS = Path(__file__).parent / "recordings"


@pytest.fixture
def relying_party() -> t.Iterator[RelyingParty]:
    rp = RelyingParty()
    yield rp
    rp.close()


def fill(value: t.Any, captured: dict[str, str]) -> t.Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: captured.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [fill(v, captured) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, captured) for k, v in value.items()}
    return value


def contains(actual: t.Any, expected: t.Any) -> bool:
    """``expected`` is a part of ``actual`` (objects by key, lists item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def signed_in(user: User, client: t.Any) -> tuple[SsoSession, TokenGrant]:
    """A browser session of the user and a refresh-token family from it."""
    sso = new_sso_session(user, ["pwd"])
    session.flush()
    grant = grant_for(user, client.client_id)
    grant.sso_session_id = sso.id
    session.commit()
    return sso, grant


@pytest.mark.parametrize("name", ["okta", "entra"])
def test_replay(name, client, scim, make_client, relying_party):
    recording = json.loads((RECORDINGS / f"{name}.json").read_text())
    rp_client, _secret = make_client(
        name="Back-channel app",
        redirect_uris=[CLIENT_REDIRECT_URI],
        settings={"backchannel_logout_uri": relying_party.uri},
    )
    captured: dict[str, str] = {}
    user_id = None
    for number, step in enumerate(recording["steps"], start=1):
        then = step.get("then", "")
        before = None
        if then in ("deactivated", "deleted"):
            user = session.get(User, user_id)
            sso_row, grant_row = signed_in(user, rp_client)
            before = (sso_row.id, grant_row.id)
            relying_party.received.clear()
        response = scim(
            step["method"], fill(step["path"], captured), fill(step.get("body"), captured)
        )
        where = f"{name} step {number}: {step['method']} {step['path']}"
        assert response.status_code == step["status"], (where, response.get_data(as_text=True))
        if response.status_code != 204:
            assert response.headers["Content-Type"].startswith("application/scim+json"), where
        body = response.get_json(silent=True)
        if "expect" in step:
            assert contains(body, fill(step["expect"], captured)), (where, body)
        for key, attribute in step.get("capture", {}).items():
            captured[key] = body[attribute]
            if key == "user":
                user_id = session.scalar(
                    sa.select(ScimUser.user_id).where(ScimUser.id == body[attribute])
                )
        session.expire_all()
        if then.startswith("role:"):
            membership = session.get(Membership, (user_id, scim.organization.id))
            assert then.removeprefix("role:") in membership.roles, where
        elif then == "no-role":
            assert session.get(Membership, (user_id, scim.organization.id)).roles == [], where
        elif then in ("deactivated", "deleted"):
            sso_id, grant_id = before
            if then == "deactivated":
                assert session.get(User, user_id).blocked is True
                assert session.get(SsoSession, sso_id).ended_at is not None, where
                assert session.get(TokenGrant, grant_id).revoked_at is not None, where
            else:
                assert session.get(User, user_id) is None, where
                assert session.get(SsoSession, sso_id) is None, where
            assert relying_party.received.wait(10), f"{where}: no back-channel logout"
            logout = decode_jwt(client, relying_party.tokens[-1])
            assert logout["sub"] == user_id and logout["sid"] == sso_id, where
