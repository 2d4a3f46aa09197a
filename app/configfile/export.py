"""Writing a tenant back in the file format: what ``foyer apply`` reads, defaults left out.

No secret is ever written. Connection secrets become ``${TENANT_CONNECTION_NAME_KEY}``
references (set them before applying the file elsewhere); client secrets are stored hashed
and cannot be exported at all, so ``secret`` is left out and the stored one is kept. Users
are not exported. A literal ``${`` in a value is written ``$${`` so applying gives it back.
"""

from __future__ import annotations

import re
import typing as t

import yaml

from app.configfile import snapshot
from app.configfile.schema import Field
from app.configfile.schema import List
from app.configfile.schema import Record
from app.configfile.spec import CLIENT
from app.configfile.spec import CONNECTION
from app.configfile.spec import IDENTIFIER_ROUTE
from app.configfile.spec import ORGANIZATION
from app.configfile.spec import TENANT
from app.configfile.spec import VERSION

if t.TYPE_CHECKING:
    from app.tenancy.models import Tenant

State = dict[str, t.Any]


def variable_name(*parts: str) -> str:
    """A variable name from parts: ``demo``, ``connection``, ``okta-sso``, ``client_secret``
    give ``DEMO_CONNECTION_OKTA_SSO_CLIENT_SECRET``."""
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_").upper() for p in parts)


def export_tenant(tenant: Tenant) -> tuple[State, list[str]]:
    """The tenant as file data, and the names of the variables its secrets refer to."""
    variables: list[str] = []
    tenant_state = snapshot.tenant_state(tenant)
    connections = []
    for connection in snapshot.connections(tenant).values():
        item = snapshot.connection_state(connection)
        stored_secrets = connection.get_secrets()
        if stored_secrets:
            refs = {}
            for key in sorted(stored_secrets):
                name = variable_name(tenant.name, "connection", connection.name, key)
                variables.append(name)
                refs[key] = "${" + name + "}"
            item["secrets"] = refs
        if item["display_name"] == item["name"]:
            item["display_name"] = None
        connections.append(_compact(item, CONNECTION, escape=("secrets",)))
    organizations = [
        _compact(snapshot.organization_state(org, tenant), ORGANIZATION)
        for org in snapshot.organizations(tenant).values()
    ]
    clients = [
        _compact(snapshot.client_state(client), CLIENT)
        for client in snapshot.clients(tenant).values()
    ]
    identifier_map = [
        _compact(snapshot.route_state(route), IDENTIFIER_ROUTE)
        for route in snapshot.identifier_routes(tenant).values()
    ]
    data: State = {"version": VERSION, "tenant": _compact(tenant_state, TENANT)}
    for key, items in (
        ("connections", connections),
        ("organizations", organizations),
        ("clients", clients),
        ("identifier_map", identifier_map),
    ):
        if items:
            data[key] = items
    return data, variables


def _compact(value: State, record: Record, escape: tuple[str, ...] = ()) -> State:
    """Leave out optional fields holding their default; escape ``${`` in every string."""
    out: State = {}
    for key, field in record.fields.items():
        if key not in value:
            continue
        item = value[key]
        if isinstance(field.type, Record) and isinstance(item, dict):
            item = _compact(item, field.type)
        elif isinstance(field.type, List) and isinstance(field.type.item, Record):
            item = [_compact(i, field.type.item) for i in item]
        elif key not in escape:
            item = _escape(item)
        if _is_default(field, item):
            continue
        out[key] = item
    return out


def _is_default(field: Field, value: t.Any) -> bool:
    if field.required:
        return False
    return bool(value == field.default or (field.default is None and value in ({}, [])))


def _escape(value: t.Any) -> t.Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    return value


def dump(tenant: Tenant) -> str:
    """The YAML text of ``foyer export``, with a header naming the secret variables."""
    data, variables = export_tenant(tenant)
    header = [
        f"# Tenant {tenant.name}, written by `foyer export {tenant.name}`.",
        "# Apply with `foyer apply FILE` (see docs/config.md). Users are not exported.",
        "# Client secrets are stored hashed and cannot be exported: add",
        "# `secret: ${VARIABLE}` to a client to set its secret from the environment.",
    ]
    if variables:
        header.append("# Set these environment variables before applying:")
        header += [f"#   {name}" for name in variables]
    body = str(
        yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        )
    )
    return "\n".join(header) + "\n" + body
