"""``/api/v1/connections``, ``/clients``, ``/signing-keys`` and ``/events``."""

from __future__ import annotations

import secrets
import typing as t

import sqlalchemy as sa
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from app.api import schemas as s
from app.api.errors import ApiError
from app.api.errors import invalid
from app.api.errors import json_response
from app.api.errors import not_found
from app.api.http import check_if_match
from app.api.http import idempotent
from app.api.http import page_after
from app.api.http import with_etag
from app.api.policy import ORGANIZATION_BINDING
from app.api.policy import connection_to_change
from app.api.policy import current_principal
from app.api.policy import organization_binding
from app.api.policy import organization_for
from app.api.policy import requires
from app.api.serialize import client_json
from app.api.serialize import connection_json
from app.api.serialize import event_json
from app.api.serialize import key_json
from app.api.serialize import merge_patch
from app.clients.models import Client
from app.clients.services import ClientInvalid
from app.clients.services import create_client
from app.clients.services import hash_client_secret
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.connections.services import check_connection
from app.connections.services import create_connection
from app.connections.services import find_connection
from app.db import session
from app.events.models import Event
from app.events.record import record_event
from app.oidc.keys import KeyRotationTooSoon
from app.oidc.keys import list_keys
from app.oidc.keys import rotate_keys
from app.orgs.models import Organization
from app.orgs.services import set_connections
from app.rowcache import row_cache

bp = Blueprint(
    "tenant",
    __name__,
    url_prefix="/api/v1",
    description="Connections, applications, signing keys and the event log",
)


# --- connections -----------------------------------------------------------------------------


def _connection_rows() -> list[tuple[Connection, list[str]]]:
    principal = current_principal()
    stmt = sa.select(Connection).where(Connection.tenant_id == principal.tenant.id)
    if principal.bound:
        stmt = stmt.join(
            OrganizationConnection, OrganizationConnection.connection_id == Connection.id
        ).where(OrganizationConnection.organization_id == principal.organization_id)
    connections = list(session.scalars(stmt.order_by(Connection.created_at, Connection.name)))
    links = session.execute(
        sa.select(OrganizationConnection.connection_id, Organization.name)
        .join(Organization, Organization.id == OrganizationConnection.organization_id)
        .where(OrganizationConnection.connection_id.in_([c.id for c in connections]))
        .order_by(Organization.name)
    ).all()
    names: dict[str, list[str]] = {}
    for connection_id, org_name in links:
        names.setdefault(connection_id, []).append(org_name)
    result = []
    for connection in connections:
        orgs = names.get(connection.id, [])
        if principal.bound:  # a bound client does not learn other organizations' names
            own = session.get(Organization, principal.organization_id)
            orgs = [own.name] if own is not None else []
        result.append((connection, orgs))
    return result


@bp.route("/connections")
@requires("read:connections")
@bp.response(200, s.ConnectionList)
def connections() -> Response:
    """The tenant's connections (a bound client: its organization's)."""
    return json_response(200, {"items": [connection_json(c, o) for c, o in _connection_rows()]})


def _visible(name: str) -> dict[str, t.Any]:
    for found, orgs in _connection_rows():
        if found.name == name:
            return connection_json(found, orgs)
    raise not_found("connection")


@bp.route("/connections/<name>")
@requires("read:connections")
@bp.response(200, s.ConnectionSchema)
def connection(name: str) -> Response:
    """A connection (with an ``ETag``); its secrets by name only."""
    return with_etag(_visible(name))


def _check(
    strategy: str,
    options: dict[str, t.Any],
    secrets: dict[str, t.Any] | None,
    stored: Connection | None,
) -> None:
    """The checks of ``foyer apply``; every problem listed, the first one's field named."""
    problems = check_connection(strategy, options, secrets, stored)
    if problems:
        session.rollback()
        errors = [{"field": field, "message": message} for field, message in problems]
        raise ApiError(
            422, "invalid_connection", problems[0][1], field=problems[0][0], errors=errors
        )


@bp.route("/connections", methods=["POST"])
@requires("create:connections")
@idempotent
@bp.arguments(s.ConnectionCreate)
@bp.response(201, s.ConnectionSchema)
def create_connection_view(data: dict[str, t.Any]) -> Response:
    """Create a connection, checked as configuration files are; its secrets are stored
    encrypted and never shown. With ``organization`` (always, for a bound client: its own)
    only that organization enables it."""
    principal = current_principal()
    org = None
    if principal.bound or "organization" in data:
        org = organization_for(data.get("organization") or str(principal.organization_id))
    if find_connection(principal.tenant, data["name"]) is not None:
        raise ApiError(409, "connection_exists", "A connection has this name.", field="name")
    _check(data["strategy"], data["options"], data.get("secrets"), None)
    created = create_connection(
        principal.tenant,
        data["name"],
        data["strategy"],
        data.get("display_name") or data["name"],
        data["options"],
        data.get("secrets"),
    )
    created.signup_enabled = data["signup"]
    if org is not None:
        set_connections(org, [*org.connections, created])
    session.commit()
    body = connection_json(created, [org.name] if org is not None else [])
    return with_etag(body, 201, {"Location": f"/api/v1/connections/{created.name}"})


@bp.route("/connections/<name>", methods=["PATCH"])
@requires("update:connections")
@bp.arguments(s.ConnectionPatch, content_type="application/merge-patch+json")
@bp.response(200, s.ConnectionSchema)
def update_connection(patch: dict[str, t.Any], name: str) -> Response:
    """Change a connection with a JSON merge patch (``options`` and ``secrets`` merge key
    by key, ``null`` removes one), checked as configuration files are."""
    found = connection_to_change(name)
    check_if_match(_visible(name))
    options = dict(found.options or {})
    if "options" in patch:
        options = merge_patch(options, patch["options"]) if patch["options"] is not None else {}
    secrets = None
    if "secrets" in patch:
        secrets = (
            merge_patch(found.get_secrets(), patch["secrets"])
            if patch["secrets"] is not None
            else {}
        )
    _check(found.strategy, options, secrets, found)
    found.options = options
    if secrets is not None:
        found.set_secrets(secrets)
    if "display_name" in patch:
        found.display_name = patch["display_name"] or found.name
    if "signup" in patch:
        found.signup_enabled = patch["signup"]
    session.commit()
    return with_etag(_visible(name))


@bp.route("/connections/<name>", methods=["DELETE"])
@requires("delete:connections")
@bp.response(204)
def delete_connection(name: str) -> Response:
    """Delete a connection and every user of it."""
    found = connection_to_change(name)
    check_if_match(_visible(name))
    session.delete(found)
    session.commit()
    return Response(status=204)


# --- clients ---------------------------------------------------------------------------------


def _client(client_id: str) -> Client:
    found = session.scalar(
        sa.select(Client).where(
            Client.tenant_id == current_principal().tenant.id, Client.client_id == client_id[:64]
        )
    )
    if found is None:
        raise not_found("client")
    return found


def _org_name(client: Client) -> str | None:
    org_id = organization_binding(client)
    org = session.get(Organization, org_id) if org_id else None
    return org.name if org is not None else None


@bp.route("/clients")
@requires("read:clients", tenant_wide=True)
@bp.response(200, s.ClientList)
def clients() -> Response:
    """The tenant's applications (secrets are never shown again)."""
    rows = session.scalars(
        sa.select(Client)
        .where(Client.tenant_id == current_principal().tenant.id)
        .order_by(Client.created_at, Client.client_id)
    )
    return json_response(200, {"items": [client_json(c, _org_name(c)) for c in rows]})


@bp.route("/clients", methods=["POST"])
@requires("create:clients", tenant_wide=True)
@idempotent
@bp.arguments(s.ClientCreate)
@bp.response(201, s.ClientWithSecret)
def create(data: dict[str, t.Any]) -> Response:
    """Register an application; its secret is in this answer and never again."""
    principal = current_principal()
    settings: dict[str, t.Any] = {}
    if "organization" in data:
        settings[ORGANIZATION_BINDING] = organization_for(data["organization"]).id
    try:
        client, secret = create_client(
            principal.tenant,
            data["name"],
            token_endpoint_auth_method=data["token_endpoint_auth_method"],
            redirect_uris=data["redirect_uris"],
            post_logout_redirect_uris=data["post_logout_redirect_uris"],
            grant_types=data["grant_types"],
            scope=data["scope"],
            audience=data.get("audience"),
            settings=settings,
        )
        session.commit()
    except ClientInvalid as exc:
        session.rollback()
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else None
        known = set(s.ClientCreate().fields)
        raise invalid(field if field in known else "client", str(exc), "invalid_client") from None
    record_event(
        "client_created",
        tenant=principal.tenant,
        client_id=client.client_id,
        data={"by": principal.client.client_id},
    )
    body = {**client_json(client, _org_name(client)), "client_secret": secret}
    return json_response(201, body, {"Location": f"/api/v1/clients/{client.client_id}"})


@bp.route("/clients/<client_id>")
@requires("read:clients", tenant_wide=True)
@bp.response(200, s.ClientSchema)
def client(client_id: str) -> Response:
    found = _client(client_id)
    return json_response(200, client_json(found, _org_name(found)))


@bp.route("/clients/<client_id>/rotate-secret", methods=["POST"])
@requires("update:clients", tenant_wide=True)
@bp.response(200, s.ClientWithSecret)
def rotate_secret(client_id: str) -> Response:
    """A new secret for a confidential application, shown once; the old one stops at once."""
    found = _client(client_id)
    if found.is_public:
        raise ApiError(409, "public_client", "A public application has no secret.")
    secret = secrets.token_urlsafe(32)
    found.secret_hash = hash_client_secret(secret)
    session.commit()
    row_cache().clear()
    record_event(
        "client_secret_rotated",
        tenant=current_principal().tenant,
        client_id=found.client_id,
        data={"by": current_principal().client.client_id},
    )
    return json_response(200, {**client_json(found, _org_name(found)), "client_secret": secret})


@bp.route("/clients/<client_id>", methods=["DELETE"])
@requires("delete:clients", tenant_wide=True)
@bp.response(204)
def delete_client(client_id: str) -> Response:
    found = _client(client_id)
    if found.id == current_principal().client.id:
        raise ApiError(409, "own_client", "A client cannot delete itself.")
    session.delete(found)
    session.commit()
    row_cache().clear()
    return Response(status=204)


# --- signing keys ----------------------------------------------------------------------------


@bp.route("/signing-keys")
@requires("read:signing_keys", tenant_wide=True)
@bp.response(200, s.SigningKeyList)
def signing_keys() -> Response:
    """The tenant's signing keys, newest first (public parts only)."""
    keys = list_keys(current_principal().tenant.id)
    return json_response(200, {"items": [key_json(k) for k in keys]})


@bp.route("/signing-keys/rotate", methods=["POST"])
@requires("create:signing_keys", tenant_wide=True)
@bp.arguments(s.RotateQuery, location="query", as_kwargs=True)
@bp.response(200, s.SigningKeyList)
def rotate(force: bool = False) -> Response:
    """Rotate: the next key signs, the current one keeps verifying until tokens expire."""
    principal = current_principal()
    try:
        signing = rotate_keys(principal.tenant.id, force=force)
    except KeyRotationTooSoon as exc:
        raise ApiError(409, "rotation_too_soon", str(exc), "force") from None
    record_event("keys_rotated", tenant=principal.tenant, client_id=principal.client.client_id)
    return json_response(200, {"items": [key_json(k) for k in signing]})


# --- events ----------------------------------------------------------------------------------


@bp.route("/events")
@requires("read:events")
@bp.arguments(s.EventQuery, location="query", as_kwargs=True)
@bp.response(200, s.EventPage)
def events(limit: int = 50, cursor: str | None = None, **filters: t.Any) -> Response:
    """The tenant's event log, oldest first from the cursor (a bound client: its
    organization's events)."""
    principal = current_principal()
    stmt = sa.select(Event).where(Event.tenant_id == principal.tenant.id)
    if principal.bound:
        stmt = stmt.where(Event.organization_id == principal.organization_id)
    if "organization" in filters:
        org = session.scalar(
            sa.select(Organization).where(
                Organization.tenant_id == principal.tenant.id,
                Organization.name == filters["organization"],
            )
        )
        stmt = stmt.where(Event.organization_id == (org.id if org is not None else "-"))
    if "type" in filters:
        stmt = stmt.where(Event.type == filters["type"])
    if "user_id" in filters:
        stmt = stmt.where(Event.user_id == filters["user_id"])
    if "since" in filters:
        stmt = stmt.where(Event.created_at >= filters["since"])
    if "until" in filters:
        stmt = stmt.where(Event.created_at < filters["until"])
    rows, next_cursor = page_after(stmt, Event.created_at, Event.id, cursor, limit)
    return json_response(200, {"items": [event_json(e) for e in rows], "next_cursor": next_cursor})
