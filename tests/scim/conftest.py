"""Fixtures of the SCIM tests: an organization provisioned by its identity provider."""

from __future__ import annotations

import typing as t

import pytest

from app.scim.tokens import create_scim_token


class Scim:
    """Requests to one organization's SCIM endpoints with its bearer token."""

    def __init__(self, browser: t.Any, organization: t.Any, token: str) -> None:
        self.browser = browser
        self.organization = organization
        self.token = token
        self.base = f"/scim/v2/{organization.name}"

    def __call__(self, method: str, path: str, body: t.Any = None, **kwargs: t.Any) -> t.Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
            kwargs["content_type"] = "application/scim+json"
        url = path if path.startswith("/scim/") else self.base + path
        return self.browser.open(url, method=method, headers=headers, **kwargs)


@pytest.fixture
def provisioned_org(make_organization):
    return make_organization("okta-corp", display_name="Okta Corp")


@pytest.fixture
def scim(client, provisioned_org) -> Scim:
    _row, token = create_scim_token(provisioned_org, "idp")
    return Scim(client, provisioned_org, token)
