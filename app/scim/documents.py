"""SCIM's discovery documents and payload checks, from scim2-models (RFC 7643).

Imported by the first SCIM request that needs them (:func:`app.scim.views.documents`):
scim2-models and pydantic take about 10 MiB, which a worker of an instance without SCIM
provisioning never needs.
"""

from __future__ import annotations

import typing as t

from pydantic import ValidationError
from scim2_models import AuthenticationScheme
from scim2_models import Bulk
from scim2_models import ChangePassword
from scim2_models import Context
from scim2_models import EnterpriseUser
from scim2_models import ETag
from scim2_models import Filter
from scim2_models import Group
from scim2_models import Patch
from scim2_models import Required
from scim2_models import ResourceType
from scim2_models import ServiceProviderConfig
from scim2_models import Sort
from scim2_models import User

IncomingUser = User[EnterpriseUser]
"""What a User payload may carry: Entra ID sends the enterprise extension (kept only as far
as the core attributes go)."""

MODELS: dict[str, t.Any] = {"User": IncomingUser, "Group": Group}


def problem(payload: dict[str, t.Any], kind: str, replacing: bool) -> str | None:
    """Why ``payload`` is not a valid ``kind`` (``User``, ``Group``) to create or replace
    (the first complaint), or None."""
    context = (
        Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    )
    try:
        MODELS[kind].model_validate(payload, scim_ctx=context)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None


def _trimmed_schema(
    model: t.Any, names: t.Sequence[str], sub_attributes: t.Mapping[str, t.Sequence[str]]
) -> dict[str, t.Any]:
    schema = model.to_schema()
    schema.attributes = [a for a in schema.attributes if a.name in names]
    for attribute in schema.attributes:
        kept = sub_attributes.get(attribute.name)
        if kept is not None and attribute.sub_attributes:
            attribute.sub_attributes = [a for a in attribute.sub_attributes if a.name in kept]
        if attribute.name == "active":  # always there: true, or false for a blocked user
            attribute.required = Required.true
    return t.cast(dict[str, t.Any], schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def schemas(
    user_attributes: t.Sequence[str],
    group_attributes: t.Sequence[str],
    sub_attributes: t.Mapping[str, t.Sequence[str]],
) -> list[tuple[dict[str, t.Any], str]]:
    """The User and Group schemas with only the attributes Foyer keeps, and their names."""
    return [
        (_trimmed_schema(User, user_attributes, sub_attributes), "User"),
        (_trimmed_schema(Group, group_attributes, sub_attributes), "Group"),
    ]


def resource_type(name: str, endpoint: str, schema: str) -> dict[str, t.Any]:
    document = ResourceType(
        id=name, name=name, endpoint=endpoint, schema_=schema, description=f"{name}s"
    )
    return t.cast(dict[str, t.Any], document.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def service_provider_config(max_results: int) -> dict[str, t.Any]:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A token made for this organization (shown once)",
                primary=True,
            )
        ],
    )
    return t.cast(dict[str, t.Any], config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
