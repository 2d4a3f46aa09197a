"""SCIM 2.0 (RFC 7643/7644) per organization: ``/scim/v2/<organization>/``.

An organization's identity provider (Okta, Entra ID...) provisions its people with a bearer
token made for that organization (:mod:`app.scim.tokens`). Users become members of the
organization in its first connection; ``active: false`` blocks the user, which ends every
session and refresh token at once (applications are told by back-channel logout); a
deleted user is removed from the organization and, when it was their only one, deleted.
Groups are organization roles: a member of group "Billing Admins" holds role
``billing-admins``. Discovery documents and payload checks come from scim2-models
(:mod:`app.scim.documents`, imported by the first request that needs them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import types
import typing as t

import sqlalchemy as sa
from flask import Blueprint
from flask import Flask
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.accounts.credentials import sign_out_everywhere
from app.accounts.models import User
from app.accounts.services import create_user
from app.accounts.services import delete_user
from app.accounts.services import normalize_email
from app.accounts.services import set_blocked
from app.db import session
from app.db import utcnow
from app.errors import answer_errors_under
from app.events.record import record_event
from app.orgs.invitations import target_connection
from app.orgs.models import Membership
from app.orgs.models import Organization
from app.orgs.services import add_member
from app.orgs.services import find_organization_by_name
from app.orgs.services import remove_member
from app.orgs.services import set_member_roles
from app.scim.models import ScimGroup
from app.scim.models import ScimGroupMember
from app.scim.models import ScimUser
from app.scim.tokens import token_organization_id
from app.security.limits import hit
from app.tenancy.resolve import current_tenant

bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<organization>")

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_RESULTS = 200
USER_ATTRIBUTES = ("userName", "name", "active", "emails", "groups")
GROUP_ATTRIBUTES = ("displayName", "members")
SUB_ATTRIBUTES = {
    "name": ("formatted", "familyName", "givenName"),
    "emails": ("value",),
    "members": ("value", "$ref", "type"),
    "groups": ("value", "$ref", "display"),
}
"""The parts of complex attributes Foyer keeps (what the published schemas promise)."""
ALWAYS_RETURNED = ("schemas", "id", "meta")


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def versioned(body: dict[str, t.Any]) -> dict[str, t.Any]:
    """``body`` with ``meta.version``: a weak entity tag of everything else it says, so it
    changes exactly when the resource as a client sees it does (RFC 7644 §3.14)."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
    body["meta"]["version"] = f'W/"{digest}"'
    return body


def check_if_match(body: dict[str, t.Any]) -> None:
    """Refuse a change whose ``If-Match`` names another version (412)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return
    wanted = {tag.strip() for tag in header.split(",")}
    version = body["meta"]["version"]
    if version not in wanted and version.removeprefix("W/") not in wanted:
        raise ScimError(412, "The resource changed since it was read (If-Match).")


def scim_response(status: int, body: t.Any, headers: t.Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=SCIM_JSON)
    response.headers["Cache-Control"] = "no-store"
    version = body.get("meta", {}).get("version") if isinstance(body, dict) else None
    if isinstance(version, str) and status in (200, 201):
        response.headers["ETag"] = version
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def scim_error_response(exc: Exception) -> Response:
    """Any failure under ``/scim/``, as a SCIM error (RFC 7644 §3.12)."""
    if isinstance(exc, ScimError):
        status, detail, scim_type = exc.status, exc.detail, exc.scim_type
    elif isinstance(exc, HTTPException):
        status, detail, scim_type = exc.code or 500, exc.description or exc.name, None
        if detail == "unknown_host":
            detail = "No tenant is served at this host."
    else:
        session.rollback()
        status, detail, scim_type = 500, "An unexpected error stopped this request.", None
    body: dict[str, t.Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else {}
    if status == 429:
        headers["Retry-After"] = "60"
    return scim_response(status, body, headers)


# --- authentication --------------------------------------------------------------------------


@bp.url_value_preprocessor
def _organization_name(_endpoint: str | None, values: dict[str, t.Any] | None) -> None:
    """Views do not take the organization: it is the principal, found once."""
    request.environ["foyer.scim.organization"] = (values or {}).pop("organization", "")


@bp.before_request
def _authenticate() -> None:
    """The path's organization, provisioned with one of its own tokens (else 401)."""
    name = request.environ.get("foyer.scim.organization", "")
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ScimError(401, "A bearer token is required.")
    tenant = current_tenant()
    org = find_organization_by_name(tenant, name) if len(name) <= 63 else None
    organization_id = token_organization_id(value.strip())
    if org is None or organization_id != org.id:
        raise ScimError(401, "The token does not provision this organization.")
    session.commit()  # the token's last use
    g.scim_organization = org
    if not hit("rate_limit_api", "scim", org.id):
        raise ScimError(429, "Too many requests: wait before sending more.")


def organization() -> Organization:
    return t.cast(Organization, g.scim_organization)


def base_url() -> str:
    return f"{request.host_url.rstrip('/')}/scim/v2/{organization().name}"


def iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


@bp.route("/.search", methods=["POST"])
def search_everything() -> Response:
    raise ScimError(501, "Search Users or Groups: /Users/.search, /Groups/.search.")


# --- discovery -------------------------------------------------------------------------------


def documents() -> types.ModuleType:
    """:mod:`app.scim.documents`, imported by the first request that needs it."""
    # memory: scim2-models and pydantic take about 10 MiB, loaded only where SCIM is used
    from app.scim import documents as module

    return module


def schemas() -> list[dict[str, t.Any]]:
    found = []
    for schema, name in documents().schemas(USER_ATTRIBUTES, GROUP_ATTRIBUTES, SUB_ATTRIBUTES):
        schema["meta"] = {
            "resourceType": "Schema",
            "location": f"{base_url()}/Schemas/{schema['id']}",
        }
        schema.setdefault("name", name)
        found.append(schema)
    return found


def resource_types() -> list[dict[str, t.Any]]:
    found = []
    for name, endpoint, schema in (
        ("User", "/Users", USER_SCHEMA),
        ("Group", "/Groups", GROUP_SCHEMA),
    ):
        body = documents().resource_type(name, endpoint, schema)
        body["meta"] = {
            "resourceType": "ResourceType",
            "location": f"{base_url()}/ResourceTypes/{name}",
        }
        found.append(body)
    return found


def _names(value: t.Any) -> set[str]:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        return set()
    names = set()
    for name in value.split(","):
        name = name.strip().rsplit(":", 1)[-1] if name.strip().startswith("urn:") else name.strip()
        if name:
            names.add(name.split(".")[0].lower())
    return names


def project(
    body: dict[str, t.Any], wanted: t.Any = None, excluded: t.Any = None
) -> dict[str, t.Any]:
    """Only ``attributes`` / without ``excludedAttributes`` (RFC 7644 §3.9), from the
    query string unless given; ``schemas``, ``id`` and ``meta`` always stay."""
    wanted = _names(wanted if wanted is not None else request.args.get("attributes"))
    excluded = _names(excluded if excluded is not None else request.args.get("excludedAttributes"))
    kept = {}
    for key, value in body.items():
        lowered = key.lower()
        if key not in ALWAYS_RETURNED:
            if wanted and lowered not in wanted:
                continue
            if lowered in excluded:
                continue
        kept[key] = value
    return kept


def listed(items: list[dict[str, t.Any]], total: int | None = None, start: int = 1) -> Response:
    return scim_response(
        200,
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(items) if total is None else total,
            "startIndex": start,
            "itemsPerPage": len(items),
            "Resources": items,
        },
    )


@bp.route("/ServiceProviderConfig")
def service_provider_config() -> Response:
    body = documents().service_provider_config(MAX_RESULTS)
    body["meta"] = {
        "resourceType": "ServiceProviderConfig",
        "location": f"{base_url()}/ServiceProviderConfig",
    }
    return scim_response(200, body)


@bp.route("/Schemas")
def list_schemas() -> Response:
    return listed(schemas())


@bp.route("/Schemas/<path:schema_id>")
def get_schema(schema_id: str) -> Response:
    for schema in schemas():
        if schema["id"] == schema_id:
            return scim_response(200, schema)
    raise ScimError(404, "No such schema.")


@bp.route("/ResourceTypes")
def list_resource_types() -> Response:
    return listed(resource_types())


@bp.route("/ResourceTypes/<name>")
def get_resource_type(name: str) -> Response:
    for resource_type in resource_types():
        if resource_type["id"] == name:
            return scim_response(200, resource_type)
    raise ScimError(404, "No such resource type.")


# --- filters ---------------------------------------------------------------------------------

COMPARISON = re.compile(
    r'\s*([A-Za-z][\w.:\[\]"= ]*?)\s+(eq|co|sw)\s+"((?:[^"\\]|\\.)*)"\s*', re.IGNORECASE
)
"""``attribute op "value"``; ``and`` joins several (what Okta and Entra ID send)."""


USER_FILTERS = frozenset({"username", "emails", "emails.value", "externalid", "id"})
GROUP_FILTERS = frozenset({"displayname", "externalid", "id"})


def parse_filter(text: str, allowed: frozenset[str] = USER_FILTERS) -> list[tuple[str, str, str]]:
    """``[(attribute, op, value)]`` joined by ``and``; 400 ``invalidFilter`` otherwise."""
    if len(text) > 1024:
        raise ScimError(400, "The filter is too long.", "invalidFilter")
    parts = re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)
    found = []
    for part in parts:
        match = COMPARISON.fullmatch(part)
        if match is None:
            raise ScimError(400, f"Unsupported filter: {part!r}.", "invalidFilter")
        attribute = match.group(1).strip()
        attribute = re.sub(r'emails\[type eq "work"\]', "emails", attribute, flags=re.IGNORECASE)
        if attribute.lower() not in allowed:
            raise ScimError(400, f"Filtering on {attribute!r} is not supported.", "invalidFilter")
        try:
            value = json.loads(f'"{match.group(3)}"')
        except ValueError:
            raise ScimError(
                400, "The filter's value is not a valid string.", "invalidFilter"
            ) from None
        found.append((attribute.lower(), match.group(2).lower(), value))
    return found


def _compare(value: str | None, op: str, wanted: str) -> bool:
    if value is None:
        return False
    value, wanted = value.lower(), wanted.lower()
    return (
        value == wanted
        if op == "eq"
        else wanted in value
        if op == "co"
        else value.startswith(wanted)
    )


# --- users -----------------------------------------------------------------------------------


def _scim_users() -> list[tuple[ScimUser, User]]:
    return list(
        session.execute(
            sa.select(ScimUser, User)
            .join(User, User.id == ScimUser.user_id)
            .where(ScimUser.organization_id == organization().id)
            .order_by(ScimUser.created_at, ScimUser.id)
        ).all()
    )


def _user_groups(user: User) -> list[dict[str, str]]:
    rows = session.scalars(
        sa.select(ScimGroup)
        .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
        .where(ScimGroup.organization_id == organization().id, ScimGroupMember.user_id == user.id)
    )
    return [
        {
            "value": group.id,
            "display": group.display_name,
            "$ref": f"{base_url()}/Groups/{group.id}",
        }
        for group in rows
    ]


def user_resource(link: ScimUser, user: User) -> dict[str, t.Any]:
    body: dict[str, t.Any] = {
        "schemas": [USER_SCHEMA],
        "id": link.id,
        "userName": user.username or user.email or user.id,
        "active": not user.blocked,
        "meta": {
            "resourceType": "User",
            "created": iso(link.created_at),
            "lastModified": iso(link.updated_at),
            "location": f"{base_url()}/Users/{link.id}",
        },
    }
    if link.external_id:
        body["externalId"] = link.external_id
    name = {
        key: value
        for key, value in (
            ("givenName", user.given_name),
            ("familyName", user.family_name),
            ("formatted", user.name),
        )
        if value
    }
    if name:
        body["name"] = name
    if user.email:
        body["emails"] = [{"value": user.email}]
    groups = _user_groups(user)
    if groups:
        body["groups"] = groups
    return versioned(body)


def _matches_user(link: ScimUser, user: User, conditions: list[tuple[str, str, str]]) -> bool:
    for attribute, op, wanted in conditions:
        if attribute == "username":
            value = user.username or user.email
        elif attribute in ("emails", "emails.value"):
            value = user.email
        elif attribute == "externalid":
            value = link.external_id
        elif attribute == "id":
            value = link.id
        else:
            raise ScimError(400, f"Filtering on {attribute!r} is not supported.", "invalidFilter")
        if not _compare(value, op, wanted):
            return False
    return True


USER_SORTS: dict[str, t.Callable[[ScimUser, User], t.Any]] = {
    "id": lambda link, user: link.id,
    "username": lambda link, user: (user.username or user.email or user.id).lower(),
    "externalid": lambda link, user: link.external_id,
    "emails": lambda link, user: user.email.lower() if user.email else None,
    "emails.value": lambda link, user: user.email.lower() if user.email else None,
    "name.givenname": lambda link, user: user.given_name,
    "name.familyname": lambda link, user: user.family_name,
    "meta.created": lambda link, user: link.created_at,
    "meta.lastmodified": lambda link, user: link.updated_at,
}
GROUP_SORTS: dict[str, t.Callable[[ScimGroup], t.Any]] = {
    "id": lambda group: group.id,
    "displayname": lambda group: group.display_name.lower(),
    "externalid": lambda group: group.external_id,
    "meta.created": lambda group: group.created_at,
    "meta.lastmodified": lambda group: group.updated_at,
}


def _sorted(items: list[t.Any], query: dict[str, t.Any], keys: dict[str, t.Any]) -> list[t.Any]:
    """``sortBy``/``sortOrder`` (RFC 7644 §3.4.2.3); a missing value sorts as the highest."""
    if query["sort_by"] is None:
        return items
    key = keys.get(query["sort_by"])
    if key is None:
        raise ScimError(400, f"Sorting by {query['sort_by']!r} is not supported.", "invalidValue")

    def ordered(item: t.Any) -> tuple[bool, t.Any]:
        value = key(*item) if isinstance(item, tuple) else key(item)
        return (value is None, value if value is not None else "")

    return sorted(items, key=ordered, reverse=query["descending"])


def _paging() -> tuple[int, int]:
    try:
        start = max(1, int(request.args.get("startIndex", "1")))
        count = min(MAX_RESULTS, max(0, int(request.args.get("count", str(MAX_RESULTS)))))
    except ValueError:
        raise ScimError(400, "startIndex and count are integers.", "invalidValue") from None
    return start, count


def _search(allowed: frozenset[str]) -> dict[str, t.Any]:
    """The query: from the query string (GET) or a SearchRequest body (POST /.search)."""
    if request.method == "POST":
        body = _body()
        if not isinstance(body, dict):
            raise ScimError(400, "A SearchRequest is a JSON object.", "invalidSyntax")
        source = {k: v for k, v in body.items() if k != "schemas"}
    else:
        source = dict(request.args)
    try:
        start = max(1, int(source.get("startIndex") or 1))
        count = min(MAX_RESULTS, max(0, int(source.get("count", MAX_RESULTS))))
    except (TypeError, ValueError):
        raise ScimError(400, "startIndex and count are integers.", "invalidValue") from None
    text = source.get("filter")
    if text is not None and not isinstance(text, str):
        raise ScimError(400, "filter is a string.", "invalidFilter")
    sort_by, order = source.get("sortBy"), source.get("sortOrder") or "ascending"
    if sort_by is not None and not isinstance(sort_by, str):
        raise ScimError(400, "sortBy is a string.", "invalidValue")
    if not isinstance(order, str) or order.lower() not in ("ascending", "descending"):
        raise ScimError(400, "sortOrder is ascending or descending.", "invalidValue")
    return {
        "sort_by": sort_by.strip().lower() if sort_by else None,
        "descending": order.lower() == "descending",
        "conditions": parse_filter(text, allowed) if text else [],
        "start": start,
        "count": count,
        "attributes": source.get("attributes"),
        "excluded": source.get("excludedAttributes"),
    }


@bp.route("/Users")
@bp.route("/Users/.search", methods=["POST"])
def list_users() -> Response:
    query = _search(USER_FILTERS)
    found = [
        (link, user)
        for link, user in _scim_users()
        if _matches_user(link, user, query["conditions"])
    ]
    found = _sorted(found, query, USER_SORTS)
    start, count = query["start"], query["count"]
    page = found[start - 1 : start - 1 + count]
    items = [
        project(user_resource(link, user), query["attributes"], query["excluded"])
        for link, user in page
    ]
    return listed(items, len(found), start)


def _link(user_id: str) -> tuple[ScimUser, User]:
    row = session.execute(
        sa.select(ScimUser, User)
        .join(User, User.id == ScimUser.user_id)
        .where(ScimUser.organization_id == organization().id, ScimUser.id == user_id[:40])
    ).first()
    if row is None:
        raise ScimError(404, "No such user.")
    return row[0], row[1]


def _bool(value: t.Any) -> bool:
    """Entra ID sends ``"False"``/``"True"`` as strings."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ScimError(400, "active is a boolean.", "invalidValue")
    if isinstance(value, bool):
        return value
    raise ScimError(400, "active is a boolean.", "invalidValue")


def _primary_email(payload: dict[str, t.Any]) -> str | None:
    emails = payload.get("emails")
    if isinstance(emails, list) and emails:
        chosen = next(
            (
                e
                for e in emails
                if isinstance(e, dict) and e.get("primary") in (True, "true", "True")
            ),
            None,
        )
        chosen = chosen or next((e for e in emails if isinstance(e, dict)), None)
        if chosen and isinstance(chosen.get("value"), str):
            return chosen["value"]
    return None


def _validated(payload: t.Any, kind: str, replacing: bool) -> dict[str, t.Any]:
    """``payload``, a ``User`` or ``Group`` resource as RFC 7643 has it (400 otherwise)."""
    if not isinstance(payload, dict):
        raise ScimError(400, "The body is a JSON object.", "invalidSyntax")
    problem = documents().problem(payload, kind, replacing)
    if problem is not None:
        raise ScimError(400, f"Invalid resource: {problem}", "invalidValue")
    return payload


def _body() -> t.Any:
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise ScimError(400, "The body is not JSON.", "invalidSyntax")
    return data


def _apply_user(user: User, link: ScimUser, payload: dict[str, t.Any], replace: bool) -> None:
    """Set the attributes a payload carries (``replace``: a PUT, absent ones cleared)."""
    if "userName" in payload:
        user_name = payload["userName"]
        if not isinstance(user_name, str) or not user_name.strip():
            raise ScimError(400, "userName is required.", "invalidValue")
        user.username = user_name.strip()[:128]
    email = _primary_email(payload)
    if email is not None:
        user.email, user.email_normalized = email[:320], normalize_email(email)
    elif "emails" in payload or replace:
        user.email = user.email_normalized = None
    if "name" in payload or replace:
        name = payload.get("name") if isinstance(payload.get("name"), dict) else {}
        user.given_name = str(name.get("givenName") or "")[:255] or None
        user.family_name = str(name.get("familyName") or "")[:255] or None
        user.name = str(name.get("formatted") or payload.get("displayName") or "")[:255] or None
    elif payload.get("displayName"):
        user.name = str(payload["displayName"])[:255]
    if "locale" in payload or replace:
        user.locale = (payload.get("locale") or None) and str(payload["locale"])[:16]
    if "externalId" in payload or replace:
        external = payload.get("externalId")
        link.external_id = str(external)[:255] if external else None
    link.updated_at = utcnow()


def _set_active(user: User, active: bool) -> None:
    """Deactivation blocks: every session and refresh token ends at once."""
    if active == (not user.blocked):
        return
    set_blocked(user, not active)


@bp.route("/Users", methods=["POST"])
def create_scim_user() -> Response:
    payload = _validated(_body(), "User", replacing=False)
    org = organization()
    user_name = payload.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ScimError(400, "userName is required.", "invalidValue")
    for link, user in _scim_users():
        if _matches_user(link, user, [("username", "eq", user_name)]):
            raise ScimError(409, "A user with this userName exists.", "uniqueness")
    connection = target_connection(org) or (org.connections[0] if org.connections else None)
    if connection is None:
        raise ScimError(400, "The organization has no connection to provision into.")
    email = _primary_email(payload) or (user_name if "@" in user_name else None)
    existing = None
    if email:
        existing = session.scalar(
            sa.select(User).where(
                User.connection_id == connection.id,
                User.email_normalized == normalize_email(email),
            )
        )
    try:
        user = existing or create_user(
            connection,
            email=email,
            username=user_name.strip()[:128],
            email_verified=True,
            organization=org,
        )
    except ValueError:
        session.rollback()
        raise ScimError(400, "Not an email address.", "invalidValue") from None
    if session.get(Membership, (user.id, org.id)) is None:
        add_member(org, user)
    link = session.scalar(
        sa.select(ScimUser).where(ScimUser.organization_id == org.id, ScimUser.user_id == user.id)
    )
    if link is None:
        link = ScimUser(organization_id=org.id, user_id=user.id, updated_at=utcnow())
        session.add(link)
    _apply_user(user, link, payload, replace=False)
    session.commit()
    if "active" in payload:
        _set_active(user, _bool(payload["active"]))
    record_event(
        "user_created",
        tenant_id=org.tenant_id,
        organization=org,
        user_id=user.id,
        connection_id=connection.id,
        data={"via": "scim"},
    )
    body = user_resource(link, user)
    return scim_response(201, project(body), {"Location": body["meta"]["location"]})


@bp.route("/Users/<user_id>")
def get_scim_user(user_id: str) -> Response:
    link, user = _link(user_id)
    return scim_response(200, project(user_resource(link, user)))


@bp.route("/Users/<user_id>", methods=["PUT"])
def replace_scim_user(user_id: str) -> Response:
    link, user = _link(user_id)
    check_if_match(user_resource(link, user))
    payload = _validated(_body(), "User", replacing=True)
    _apply_user(user, link, payload, replace=True)
    session.commit()
    if "active" in payload:
        _set_active(user, _bool(payload["active"]))
    _changed(user, "put")
    return scim_response(200, project(user_resource(link, user)))


def _operations() -> list[dict[str, t.Any]]:
    payload = _body()
    if not isinstance(payload, dict) or not isinstance(payload.get("Operations"), list):
        raise ScimError(400, "A PatchOp with Operations is expected.", "invalidSyntax")
    operations = []
    for operation in payload["Operations"]:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise ScimError(400, "Each operation has an op.", "invalidSyntax")
        op = operation["op"].lower()
        if op not in ("add", "replace", "remove"):
            raise ScimError(400, f"Unknown op {operation['op']!r}.", "invalidSyntax")
        path = operation.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "path is a string.", "invalidPath")
        operations.append({"op": op, "path": path, "value": operation.get("value")})
    return operations


USER_PATHS = {
    "username": "userName",
    "active": "active",
    "externalid": "externalId",
    "displayname": "displayName",
    "locale": "locale",
    "name.givenname": "name.givenName",
    "name.familyname": "name.familyName",
    "name.formatted": "name.formatted",
    'emails[type eq "work"].value': "emails",
    "name": "name",
    "emails": "emails",
    "emails.value": "emails",
}


@bp.route("/Users/<user_id>", methods=["PATCH"])
def patch_scim_user(user_id: str) -> Response:
    """PATCH as Okta and Entra ID send it: ``replace`` with or without a path, values as
    objects or strings, ``"False"`` as a boolean, paths in any case."""
    link, user = _link(user_id)
    current = user_resource(link, user)
    check_if_match(current)
    changes: dict[str, t.Any] = {}
    for operation in _operations():
        value = operation["value"]
        if operation["path"] is None:
            if not isinstance(value, dict):
                raise ScimError(400, "Without a path the value is an object.", "invalidValue")
            items = list(value.items())
        else:
            items = [(operation["path"], value if operation["op"] != "remove" else None)]
        for raw_path, item in items:
            key = USER_PATHS.get(raw_path.strip().lower())
            if key is None:
                if raw_path.startswith("urn:"):
                    continue  # extension attributes Foyer does not keep
                raise ScimError(400, f"Unsupported path {raw_path!r}.", "invalidPath")
            changes[key] = item
    payload: dict[str, t.Any] = {}
    name = dict(current.get("name", {}))
    for key, item in changes.items():
        if key == "name":
            name = dict(item) if isinstance(item, dict) else {}
            payload["name"] = name
        elif key.startswith("name."):
            name[key.split(".", 1)[1]] = item
            payload["name"] = name
        elif key == "emails":
            if isinstance(item, list):
                payload["emails"] = item
            elif isinstance(item, str):
                payload["emails"] = [{"value": item, "primary": True}]
        elif key != "active":
            payload[key] = item
    if "name" in payload:
        payload["name"] = {k: v for k, v in payload["name"].items() if v}
        if not payload["name"]:
            user.name = None
    if "emails" in changes and not payload.get("emails"):
        payload["emails"] = []
    _apply_user(user, link, payload, replace=False)
    session.commit()
    if changes.get("active") is not None:
        _set_active(user, _bool(changes["active"]))
    _changed(user, "patch")
    return scim_response(200, project(user_resource(link, user)))


def _changed(user: User, how: str) -> None:
    org = organization()
    record_event(
        "user_updated",
        tenant_id=org.tenant_id,
        organization=org,
        user_id=user.id,
        data={"via": "scim", "how": how},
    )


@bp.route("/Users/<user_id>", methods=["DELETE"])
def delete_scim_user(user_id: str) -> Response:
    """Deprovision: the user leaves the organization and loses every session and refresh
    token; a user of no other organization is deleted."""
    link, user = _link(user_id)
    check_if_match(user_resource(link, user))
    org = organization()
    others = session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(Membership.user_id == user.id, Membership.organization_id != org.id)
    )
    if others:
        session.execute(
            sa.delete(ScimGroupMember).where(
                ScimGroupMember.user_id == user.id,
                ScimGroupMember.group_id.in_(
                    sa.select(ScimGroup.id).where(ScimGroup.organization_id == org.id)
                ),
            )
        )
        remove_member(org, user)
        session.delete(link)
        sign_out_everywhere(user, "deprovisioned")
        session.commit()
    else:
        delete_user(user)
    return Response(status=204)


# --- groups ----------------------------------------------------------------------------------

ROLE_CHARACTERS = re.compile(r"[^a-z0-9_.:-]+")


def role_of(display_name: str) -> str:
    """The organization role a group's members hold: its name in lower case, dashed."""
    return ROLE_CHARACTERS.sub("-", display_name.strip().lower()).strip("-")[:64] or "group"


def _members(group: ScimGroup) -> list[tuple[ScimUser, User]]:
    return list(
        session.execute(
            sa.select(ScimUser, User)
            .join(User, User.id == ScimUser.user_id)
            .join(ScimGroupMember, ScimGroupMember.user_id == User.id)
            .where(
                ScimGroupMember.group_id == group.id,
                ScimUser.organization_id == group.organization_id,
            )
            .order_by(ScimUser.created_at)
        ).all()
    )


def group_resource(group: ScimGroup, with_members: bool = True) -> dict[str, t.Any]:
    body: dict[str, t.Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": iso(group.created_at),
            "lastModified": iso(group.updated_at),
            "location": f"{base_url()}/Groups/{group.id}",
        },
    }
    if group.external_id:
        body["externalId"] = group.external_id
    if with_members:
        body["members"] = [
            {
                "value": link.id,
                "type": "User",
                "$ref": f"{base_url()}/Users/{link.id}",
            }
            for link, user in _members(group)
        ]
        return versioned(body)
    # without its members, the version of the whole group all the same
    return {**body, "meta": {**body["meta"], "version": group_resource(group)["meta"]["version"]}}


def _group(group_id: str) -> ScimGroup:
    group = session.scalar(
        sa.select(ScimGroup).where(
            ScimGroup.organization_id == organization().id, ScimGroup.id == group_id[:40]
        )
    )
    if group is None:
        raise ScimError(404, "No such group.")
    return group


def sync_roles(user: User) -> None:
    """The user's roles in the organization: those of the groups they are in, plus roles
    given otherwise (the API, invitations), which no group owns."""
    org = organization()
    groups = list(session.scalars(sa.select(ScimGroup).where(ScimGroup.organization_id == org.id)))
    owned = {group.role for group in groups}
    mine = set(
        session.scalars(
            sa.select(ScimGroup.role)
            .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
            .where(ScimGroup.organization_id == org.id, ScimGroupMember.user_id == user.id)
        )
    )
    membership = session.get(Membership, (user.id, org.id))
    current = set(membership.roles or []) if membership is not None else set()
    set_member_roles(org, user, sorted((current - owned) | mine))


def _set_members(
    group: ScimGroup, scim_ids: t.Iterable[str], replace: bool, remove: bool = False
) -> None:
    wanted = {str(v)[:40] for v in scim_ids}
    links = (
        {
            link.id: link
            for link in session.scalars(
                sa.select(ScimUser).where(
                    ScimUser.organization_id == group.organization_id, ScimUser.id.in_(wanted)
                )
            )
        }
        if wanted
        else {}
    )
    missing = wanted - set(links)
    if missing and not remove:
        raise ScimError(400, f"Unknown members: {', '.join(sorted(missing))}.", "invalidValue")
    before = set(
        session.scalars(
            sa.select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == group.id)
        )
    )
    target_users = {link.user_id for link in links.values()}
    if remove:
        after = before - target_users
    elif replace:
        after = target_users
    else:
        after = before | target_users
    session.execute(
        sa.delete(ScimGroupMember).where(
            ScimGroupMember.group_id == group.id, ScimGroupMember.user_id.in_(before - after)
        )
    )
    for user_id in after - before:
        session.add(ScimGroupMember(group_id=group.id, user_id=user_id))
    session.flush()
    for user_id in before ^ after:
        user = session.get(User, user_id)
        if user is not None:
            sync_roles(user)
    group.updated_at = utcnow()


def _member_ids(value: t.Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, dict) and "value" in item:
            found.append(str(item["value"]))
        elif isinstance(item, str):
            found.append(item)
        else:
            raise ScimError(400, 'A member is {"value": id}.', "invalidValue")
    return found


@bp.route("/Groups")
@bp.route("/Groups/.search", methods=["POST"])
def list_groups() -> Response:
    query = _search(GROUP_FILTERS)
    conditions, start, count = query["conditions"], query["start"], query["count"]
    with_members = "members" not in _names(query["excluded"])
    groups = list(
        session.scalars(
            sa.select(ScimGroup)
            .where(ScimGroup.organization_id == organization().id)
            .order_by(ScimGroup.created_at, ScimGroup.id)
        )
    )
    found = []
    for group in groups:
        ok = True
        for attribute, op, wanted in conditions:
            value = {
                "displayname": group.display_name,
                "externalid": group.external_id,
                "id": group.id,
            }.get(attribute, "\0")
            if value == "\0":
                raise ScimError(
                    400, f"Filtering on {attribute!r} is not supported.", "invalidFilter"
                )
            ok = ok and _compare(value, op, wanted)
        if ok:
            found.append(group)
    found = _sorted(found, query, GROUP_SORTS)
    page = found[start - 1 : start - 1 + count]
    items = [
        project(group_resource(g_, with_members), query["attributes"], query["excluded"])
        for g_ in page
    ]
    return listed(items, len(found), start)


@bp.route("/Groups", methods=["POST"])
def create_group() -> Response:
    payload = _validated(_body(), "Group", replacing=False)
    name = payload.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise ScimError(400, "displayName is required.", "invalidValue")
    org = organization()
    exists = session.scalar(
        sa.select(ScimGroup.id).where(
            ScimGroup.organization_id == org.id, ScimGroup.display_name == name[:255]
        )
    )
    if exists is not None:
        raise ScimError(409, "A group with this displayName exists.", "uniqueness")
    group = ScimGroup(
        organization_id=org.id,
        display_name=name[:255],
        role=role_of(name),
        external_id=str(payload["externalId"])[:255] if payload.get("externalId") else None,
        updated_at=utcnow(),
    )
    session.add(group)
    session.flush()
    _set_members(group, _member_ids(payload.get("members")), replace=True)
    session.commit()
    body = group_resource(group)
    return scim_response(201, project(body), {"Location": body["meta"]["location"]})


@bp.route("/Groups/<group_id>")
def get_group(group_id: str) -> Response:
    with_members = "members" not in _names(request.args.get("excludedAttributes"))
    return scim_response(200, project(group_resource(_group(group_id), with_members)))


@bp.route("/Groups/<group_id>", methods=["PUT"])
def replace_group(group_id: str) -> Response:
    group = _group(group_id)
    check_if_match(group_resource(group))
    payload = _validated(_body(), "Group", replacing=True)
    if isinstance(payload.get("displayName"), str) and payload["displayName"].strip():
        _rename(group, payload["displayName"])
    group.external_id = str(payload["externalId"])[:255] if payload.get("externalId") else None
    _set_members(group, _member_ids(payload.get("members")), replace=True)
    session.commit()
    return scim_response(200, project(group_resource(group)))


def _rename(group: ScimGroup, name: str) -> None:
    old_role = group.role
    group.display_name, group.role = name[:255], role_of(name)
    session.flush()
    if old_role != group.role:
        for _link_row, user in _members(group):
            membership = session.get(Membership, (user.id, group.organization_id))
            if membership is not None:
                membership.roles = sorted((set(membership.roles or []) - {old_role}) | {group.role})


MEMBER_FILTER = re.compile(r'members\[value eq "([^"]+)"\]', re.IGNORECASE)


@bp.route("/Groups/<group_id>", methods=["PATCH"])
def patch_group(group_id: str) -> Response:
    """Group push as Okta (``replace`` members, ``remove`` with a filter path) and Entra ID
    (``add``/``remove`` with ``members``, ``replace`` of ``displayName``) send it."""
    group = _group(group_id)
    check_if_match(group_resource(group))
    for operation in _operations():
        op, path, value = operation["op"], operation["path"], operation["value"]
        lowered = (path or "").strip().lower()
        if path is None and isinstance(value, dict):
            if value.get("displayName"):
                _rename(group, str(value["displayName"]))
            if "externalId" in value:
                group.external_id = str(value["externalId"])[:255] if value["externalId"] else None
            if "members" in value:
                _set_members(group, _member_ids(value["members"]), replace=op == "replace")
            continue
        match = MEMBER_FILTER.fullmatch((path or "").strip())
        if match is not None and op == "remove":
            _set_members(group, [match.group(1)], replace=False, remove=True)
        elif lowered == "members":
            ids = _member_ids(value)
            if op == "remove" and not ids:
                _set_members(group, [], replace=True)
            else:
                _set_members(group, ids, replace=op == "replace", remove=op == "remove")
        elif lowered == "displayname" and op != "remove":
            _rename(group, str(value))
        elif lowered == "externalid":
            group.external_id = str(value)[:255] if value and op != "remove" else None
        else:
            raise ScimError(400, f"Unsupported path {path!r}.", "invalidPath")
    group.updated_at = utcnow()
    session.commit()
    return scim_response(200, project(group_resource(group)))


@bp.route("/Groups/<group_id>", methods=["DELETE"])
def delete_group(group_id: str) -> Response:
    group = _group(group_id)
    check_if_match(group_resource(group))
    _set_members(group, [], replace=True)  # its members lose its role first
    session.delete(group)
    session.commit()
    return Response(status=204)


def init_scim(app: Flask) -> None:
    app.extensions["csrf"].exempt(bp)
    app.register_blueprint(bp)
    app.register_error_handler(ScimError, scim_error_response)
    answer_errors_under(app, "/scim/", scim_error_response)
