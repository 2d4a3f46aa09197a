"""Resources as the API shows them: plain dicts in the shapes of :mod:`app.api.schemas`."""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from app.api.errors import invalid

if t.TYPE_CHECKING:
    from app.accounts.models import Identity
    from app.accounts.models import User
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.events.models import Event
    from app.oidc.models import SigningKey
    from app.oidc.models import TokenGrant
    from app.orgs.models import Invitation
    from app.orgs.models import Organization
    from app.sessions.models import SsoSession

MAX_METADATA_BYTES = 16 * 1024
"""Largest ``user_metadata``, ``app_metadata`` or organization ``metadata`` (as JSON)."""


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def merge_patch(target: t.Any, patch: t.Any) -> t.Any:
    """RFC 7396 JSON merge patch: ``null`` removes a member, objects merge recursively."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def checked_metadata(field: str, value: dict[str, t.Any]) -> dict[str, t.Any]:
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise invalid(field, f"{field} is larger than {MAX_METADATA_BYTES} bytes as JSON")
    return value


def user_json(user: User) -> dict[str, t.Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "username": user.username,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
        "connection": user.connection.name,
        "blocked": bool(user.blocked),
        "has_password": user.password_hash is not None,
        "user_metadata": dict(user.user_metadata or {}),
        "app_metadata": dict(user.app_metadata or {}),
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
    }


def session_json(sso: SsoSession) -> dict[str, t.Any]:
    return {
        "id": sso.id,
        "organization_id": sso.organization_id,
        "amr": list(sso.amr or []),
        "created_at": iso(sso.created_at),
        "last_seen_at": iso(sso.last_seen_at),
        "expires_at": iso(sso.expires_at),
        "user_agent": sso.user_agent,
        "ip": sso.ip,
    }


def grant_json(grant: TokenGrant) -> dict[str, t.Any]:
    return {
        "id": grant.id,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "organization_id": grant.organization_id,
        "created_at": iso(grant.created_at),
        "expires_at": iso(grant.expires_at),
    }


def identity_json(identity: Identity, connection_name: str) -> dict[str, t.Any]:
    return {
        "id": identity.id,
        "connection": connection_name,
        "subject": identity.subject,
        "created_at": iso(identity.created_at),
    }


def organization_json(org: Organization) -> dict[str, t.Any]:
    return {
        "id": org.id,
        "name": org.name,
        "display_name": org.display_name,
        "theme": org.theme,
        "default_locale": org.default_locale,
        "require_two_step": bool(org.require_two_step),
        "branding": dict(org.branding or {}),
        "metadata": dict(org.metadata_ or {}),
        "connections": [c.name for c in org.connections],
        "email_domains": [d.domain for d in org.email_domains],
        "created_at": iso(org.created_at),
    }


def invitation_json(invitation: Invitation, status: str) -> dict[str, t.Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "roles": list(invitation.roles or []),
        "status": status,
        "invited_by": invitation.invited_by,
        "expires_at": iso(invitation.expires_at),
        "created_at": iso(invitation.created_at),
    }


def connection_json(connection: Connection, organizations: list[str]) -> dict[str, t.Any]:
    return {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.display_name,
        "strategy": connection.strategy,
        "signup_enabled": bool(connection.signup_enabled),
        "options": dict(connection.options or {}),
        "secrets": sorted(connection.get_secrets()),
        "organizations": organizations,
        "created_at": iso(connection.created_at),
    }


def client_json(client: Client, organization: str | None) -> dict[str, t.Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": list(client.grant_types or []),
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "scope": client.scope,
        "audience": client.audience,
        "organization": organization,
        "created_at": iso(client.created_at),
    }


def key_json(key: SigningKey) -> dict[str, t.Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": iso(key.created_at),
        "rotated_at": iso(key.rotated_at),
    }


def event_json(event: Event) -> dict[str, t.Any]:
    return {
        "id": event.id,
        "type": event.type,
        "user_id": event.user_id,
        "client_id": event.client_id,
        "organization_id": event.organization_id,
        "connection_id": event.connection_id,
        "ip": event.ip,
        "data": dict(event.data or {}),
        "created_at": iso(event.created_at),
    }
