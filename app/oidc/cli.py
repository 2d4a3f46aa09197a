"""``foyer clients``: register applications; ``foyer keys``: list and rotate a tenant's
signing keys."""

from __future__ import annotations

import typing as t

import click

from app.clients.services import API_ORGANIZATION
from app.clients.services import BACKCHANNEL_LOGOUT_SESSION_REQUIRED
from app.clients.services import BACKCHANNEL_LOGOUT_URI
from app.clients.services import LOGOUT_REVOKES_REFRESH_TOKENS
from app.clients.services import ClientInvalid
from app.clients.services import create_client
from app.clikit import AppContext
from app.clikit import did_you_mean
from app.clikit import fail
from app.clikit import pass_app
from app.db import session
from app.events.record import record_event
from app.hookspecs import hookimpl
from app.login.assurance import REQUIRE_TWO_STEP
from app.tenancy.cli import organization_or_fail
from app.tenancy.cli import tenant_or_fail


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer clients`` and ``foyer keys``."""
    cli.add_command(clients)
    cli.add_command(keys_group)


OPTIONS = {
    "redirect_uris": "--redirect-uri",
    "post_logout_redirect_uris": "--post-logout-redirect-uri",
    "grant_types": "--grant-type",
    "require_pkce": "--no-require-pkce",
}
"""The option to fix, for each field a refused registration names."""


@click.group()
def clients() -> None:
    """Manage applications (OIDC clients)."""


@clients.command("create")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "client_secret_post", "none"]),
    default="client_secret_basic",
    show_default=True,
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]),
)
@click.option("--scope", default=None)
@click.option("--audience", default=None)
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default="RS256", show_default=True)
@click.option(
    "--require-pkce/--no-require-pkce",
    default=True,
    show_default=True,
    help="--no-require-pkce lets a legacy confidential client skip PKCE (never a public one).",
)
@click.option(
    "--logout-revokes-refresh-tokens/--logout-keeps-refresh-tokens",
    "logout_revokes",
    default=None,
    help="Whether the end of the user's session revokes the refresh tokens the application "
    "got in it (default: revokes them for first-party applications).",
)
@click.option(
    "--backchannel-logout-uri",
    default=None,
    help="Where Foyer posts a logout token when a session ends (Back-Channel Logout).",
)
@click.option(
    "--backchannel-logout-session-required",
    is_flag=True,
    help="The application needs sid in logout tokens (always sent).",
)
@click.option(
    "--require-two-step",
    is_flag=True,
    help="Signing in to the application requires two-step verification.",
)
@click.option(
    "--api-organization",
    default=None,
    help="A management API client sees and changes only this organization (name or id).",
)
@click.option(
    "--theme",
    default=None,
    help="Theme of the sign-in pages for this application (an organization's own theme wins).",
)
@pass_app
def clients_create(
    ctx: AppContext,
    tenant_name: str,
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    auth_method: str,
    grant_types: tuple[str, ...],
    scope: str | None,
    audience: str | None,
    alg: str,
    require_pkce: bool,
    logout_revokes: bool | None,
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    require_two_step: bool,
    api_organization: str | None,
    theme: str | None,
) -> None:
    """Register an application; prints its client_id and (once) its secret."""
    app = ctx.app
    tenant = tenant_or_fail(tenant_name)
    bound = organization_or_fail(tenant, api_organization).id if api_organization else None
    themes = app.extensions["foyer.themes"]
    if theme is not None and theme not in themes:
        fail(f"--theme: no theme named {theme!r}" + did_you_mean(theme, list(themes.themes)))
    settings: dict[str, t.Any] = {
        API_ORGANIZATION: bound,
        LOGOUT_REVOKES_REFRESH_TOKENS: logout_revokes,
        BACKCHANNEL_LOGOUT_URI: backchannel_logout_uri,
        BACKCHANNEL_LOGOUT_SESSION_REQUIRED: backchannel_logout_session_required or None,
        REQUIRE_TWO_STEP: require_two_step or None,
    }
    fields: dict[str, t.Any] = {
        "id_token_signed_response_alg": alg,
        "audience": audience,
        "settings": {key: value for key, value in settings.items() if value is not None},
    }
    if theme is not None:
        fields["settings"]["branding"] = {"theme": theme}
    if grant_types:
        fields["grant_types"] = list(grant_types)
    if scope:
        fields["scope"] = scope
    try:
        client, secret = create_client(
            tenant,
            name,
            token_endpoint_auth_method=auth_method,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            require_pkce=require_pkce,
            **fields,
        )
        session.commit()
    except ClientInvalid as exc:
        field, _, message = str(exc).partition(": ")
        fail(f"{OPTIONS.get(field, field)}: {message}" if message else str(exc))
    click.echo(f"client_id: {client.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}")


@click.group("keys")
def keys_group() -> None:
    """Signing keys of a tenant (ID tokens and access tokens)."""


@keys_group.command("list")
@click.option("--tenant", "tenant_name", required=True)
@pass_app
def keys_list(ctx: AppContext, tenant_name: str) -> None:
    """Print the tenant's keys, newest first: kid, algorithm, state, created."""
    # CLI start-up time: keys pulls in joserfc
    from app.oidc import keys

    ctx.app  # noqa: B018
    tenant = tenant_or_fail(tenant_name)
    for key in keys.list_keys(tenant.id):
        created = key.created_at.isoformat(timespec="seconds")
        click.echo(f"{key.kid}  {key.alg}  {key.state:<8}  {created}")


@keys_group.command("rotate")
@click.option("--tenant", "tenant_name", required=True)
@click.option(
    "--force",
    is_flag=True,
    help="Retire the previous key even if tokens it signed may still be valid.",
)
@pass_app
def keys_rotate(ctx: AppContext, tenant_name: str, force: bool) -> None:
    """Rotate: next becomes current, current becomes previous, a new next is made.

    The JWKS keeps publishing the previous key, so tokens it signed keep verifying; the key
    before it is retired. Without --force, a rotation that would retire a key while tokens
    it signed may still be valid is refused.
    """
    # CLI start-up time: keys pulls in joserfc
    from app.oidc import keys

    ctx.app  # noqa: B018
    tenant = tenant_or_fail(tenant_name)
    try:
        signing = keys.rotate_keys(tenant.id, force=force)
    except keys.KeyRotationTooSoon as exc:
        fail(f"{exc}; wait, or use --force")
    record_event(
        "keys_rotated",
        tenant=tenant,
        data={"signing": {key.alg: key.kid for key in signing}, "forced": force},
    )
    for key in signing:
        click.echo(f"{key.alg} now signs with {key.kid}")
