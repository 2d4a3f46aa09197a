"""Plugins read organization, application and user metadata the obvious way, and the kit
builds the same rows the server does."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import organization_metadata
from app.db import session
from app.hookspecs import hookimpl
from app.models import metadata as catalog
from app.orgs.models import Organization
from app.testing import USER_PASSWORD
from app.testing import run_authorization_code_flow


class PlanClaim:
    """Reads the organization's and the application's metadata as a plugin author would."""

    @hookimpl
    def extra_token_claims(self, target, organization, client):
        if organization is None:
            return None
        return {"plan": organization.metadata.get("plan"), "tier": client.metadata.get("tier")}


def test_the_kit_stores_organization_metadata_as_the_server_does(make_organization):
    org = make_organization("globex", metadata={"plan": "enterprise"})
    session.expire_all()
    stored = session.scalar(sa.select(Organization).where(Organization.id == org.id))
    assert stored.metadata == {"plan": "enterprise"} == dict(organization_metadata(stored))
    assert stored.metadata_ == {"plan": "enterprise"}


def test_the_kit_refuses_fields_an_organization_does_not_have(make_organization):
    with pytest.raises(TypeError, match="plan"):
        make_organization("globex", plan="enterprise")


def test_the_class_still_holds_the_table_catalog():
    assert Organization.metadata is catalog
    assert "organization" in catalog.tables


def test_user_metadata_is_a_clear_error(user):
    with pytest.raises(AttributeError, match="app_metadata.*user_metadata"):
        user.metadata  # noqa: B018


def test_a_claim_from_organization_and_client_metadata(
    client, user, make_client, make_organization, register_plugin
):
    make_organization("globex", metadata={"plan": "enterprise"})
    app, secret = make_client(metadata={"tier": "gold"}, settings={"require_two_step": False})
    assert app.metadata == {"tier": "gold"} and app.settings["require_two_step"] is False
    register_plugin(PlanClaim(), name="plan-claim")
    result = run_authorization_code_flow(
        client, app, secret, user.email, USER_PASSWORD, organization="globex"
    )
    assert result.id_token["plan"] == "enterprise" and result.id_token["tier"] == "gold"


def test_assigning_metadata_stores_it(make_organization):
    org = make_organization("globex")
    org.metadata = {"crm": "0012"}
    session.commit()
    session.expire_all()
    assert session.get(Organization, org.id).metadata == {"crm": "0012"}
