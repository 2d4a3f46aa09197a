"""What ``foyer connections test`` prints for an ``oidc`` connection (and its presets): the
callback URLs to register at the IdP, then checks of its discovery document (reachable,
``issuer`` exactly the configured one), its keys (a usable signing key, an accepted
algorithm), what it supports (the client authentication, PKCE, logout) and its clock (the
HTTP ``Date`` of its answer against ours, within the ID token leeway).
"""

from __future__ import annotations

import email.utils
import time
import typing as t

import sqlalchemy as sa

from app.connections.strategies import Diagnosis
from app.connections.strategies import UpstreamError
from app.db import session
from app.db import utcnow
from app.orgs.models import Organization
from app.orgs.models import OrganizationConnection
from app.strategies import oidc_metadata
from app.strategies.oidc_options import SIGNING_ALGORITHMS
from app.tenancy.models import Tenant

if t.TYPE_CHECKING:
    from app.connections.models import Connection
    from app.strategies.oidc import OidcStrategy

CALLBACK_PATH = "/login/callback"
LOGOUT_RETURN_PATH = "/login/upstream-logout"
KEY_TYPES = {"RSA", "EC", "OKP"}


def published_bases(connection: Connection) -> list[str]:
    """Every base URL a sign-in through the connection may come back to: each domain of
    the tenant (the primary first), then ``/o/<name>`` of each organization enabling it."""
    tenant = session.get(Tenant, connection.tenant_id)
    if tenant is None:
        return []
    bases = [domain.base_url for domain in tenant.domains]
    try:
        primary = tenant.base_url
    except LookupError:
        return bases
    bases.remove(primary)
    bases.insert(0, primary)
    names = session.scalars(
        sa.select(Organization.name)
        .join(OrganizationConnection, OrganizationConnection.organization_id == Organization.id)
        .where(OrganizationConnection.connection_id == connection.id)
        .order_by(Organization.name)
    )
    bases += [f"{primary}/o/{name}" for name in names]
    return bases


def callback_lines(connection: Connection, label: str = "Redirect URI") -> list[Diagnosis]:
    """One line per callback URL to register at the IdP."""
    return [Diagnosis(label, base + CALLBACK_PATH) for base in published_bases(connection)]


def diagnose(strategy: OidcStrategy, leeway: int) -> list[Diagnosis]:
    import requests  # memory: 5 MiB, loaded by the first outbound call

    try:
        options = strategy.options
    except UpstreamError as error:
        return [Diagnosis("options", error.detail, "error")]
    lines = callback_lines(strategy.connection)
    if options.upstream_logout:
        lines += [
            Diagnosis("Post-logout redirect URI", base + LOGOUT_RETURN_PATH)
            for base in published_bases(strategy.connection)
        ]
    lines.append(Diagnosis("client_id", options.client_id))
    lines.append(Diagnosis("scope", options.scope))
    url = options.issuer.rstrip("/") + "/.well-known/openid-configuration"
    started = time.monotonic()
    try:
        answer = requests.get(url, timeout=options.timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return [*lines, Diagnosis("discovery", f"{url}: {type(exc).__name__}", "error")]
    took = (time.monotonic() - started) * 1000
    lines.append(clock_line(answer.headers.get("Date"), leeway))
    oidc_metadata.clear()  # this command checks what the IdP says now, not a cached copy
    try:
        metadata = strategy.metadata(options)
    except UpstreamError as error:
        return [*lines, Diagnosis("discovery", f"{url}: {error.detail}", "error")]
    lines.append(Diagnosis("discovery", f"{url}: HTTP {answer.status_code} in {took:.0f} ms", "ok"))
    lines.append(Diagnosis("issuer", str(metadata.get("issuer")), "ok"))
    lines += support_lines(options, metadata)
    lines += key_lines(options, metadata)
    return lines


def support_lines(options: t.Any, metadata: t.Mapping[str, t.Any]) -> list[Diagnosis]:
    lines = []
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    lines.append(
        Diagnosis(
            "client authentication",
            options.auth_method + ("" if options.auth_method in methods else " (not listed)"),
            "ok" if options.auth_method in methods else "warning",
        )
    )
    pkce = "S256" in (metadata.get("code_challenge_methods_supported") or [])
    lines.append(
        Diagnosis("PKCE S256", "listed" if pkce else "not listed", "ok" if pkce else "warning")
    )
    if options.upstream_logout:
        end = metadata.get("end_session_endpoint")
        lines.append(
            Diagnosis("end_session_endpoint", str(end), "ok")
            if isinstance(end, str)
            else Diagnosis("end_session_endpoint", "none, upstream_logout is on", "warning")
        )
    return lines


def key_lines(options: t.Any, metadata: t.Mapping[str, t.Any]) -> list[Diagnosis]:
    offered = metadata.get("id_token_signing_alg_values_supported", ["RS256"])
    algorithms = list(options.algorithms) or [a for a in offered if a in SIGNING_ALGORITHMS]
    if not algorithms:
        return [Diagnosis("ID token algorithms", f"{offered}: none Foyer accepts", "error")]
    lines = [Diagnosis("ID token algorithms", ", ".join(algorithms), "ok")]
    jwks_uri = str(metadata["jwks_uri"])
    try:
        keys = oidc_metadata.key_set(jwks_uri, options.discovery_ttl, options.timeout)
    except UpstreamError as error:
        return [*lines, Diagnosis("signing keys", f"{jwks_uri}: {error.detail}", "error")]
    usable = [key for key in keys.keys if key.key_type in KEY_TYPES]
    if not usable:
        return [*lines, Diagnosis("signing keys", f"{jwks_uri}: no usable signing key", "error")]
    shown = ", ".join(f"{key.kid or '(no kid)'} ({key.key_type})" for key in usable[:5])
    lines.append(Diagnosis("signing keys", f"{len(usable)}: {shown}", "ok"))
    return lines


def clock_line(date: str | None, leeway: int) -> Diagnosis:
    """The IdP's clock (its HTTP ``Date``) against ours, within the ID token leeway."""
    try:
        theirs = email.utils.parsedate_to_datetime(date or "")
    except (TypeError, ValueError):
        return Diagnosis("clock", "the IdP sent no Date header to compare", "warning")
    difference = abs((utcnow() - theirs).total_seconds())
    shown = f"{difference:.0f} s apart (ID tokens allow {leeway} s)"
    return Diagnosis("clock", shown, "ok" if difference < leeway else "error")
