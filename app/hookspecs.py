"""Every hook a Foyer plugin may implement. Each docstring is that hook's documentation.

Plugins implement hooks with ``@app.hookimpl`` (or ``@foyer.hookimpl`` from the ``app``
package) and may take fewer arguments than the spec lists. Unless a hook says otherwise it is
*organization-scoped*: a plugin that declares ``FOYER_SCOPED = True`` runs only for tenants
and organizations that enable it (see ``docs/plugins.md``). A hook implementation that raises
is contained: the failure is logged as a ``plugin_failed`` event naming the plugin and hook;
hooks on the sign-in path then show the user a branded error page, other hooks carry on.
"""

from __future__ import annotations

import typing as t

import pluggy

if t.TYPE_CHECKING:
    import click
    import flask

    from app.accounts.models import User
    from app.connections.models import Connection
    from app.events.types import EventRecord
    from app.login.rules import LoginContext
    from app.login.rules import LoginDecision
    from app.oidc.models import Client
    from app.orgs.models import Organization
    from app.strategies.base import ConnectionStrategy
    from app.tenancy.models import Tenant

hookspec = pluggy.HookspecMarker("foyer")
hookimpl = pluggy.HookimplMarker("foyer")


# --- Start-up hooks: called once per app, for every plugin (not scoped) -----------------


@hookspec
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    """Return connection strategy classes to add to the registry.

    :returns: A list of classes implementing :class:`app.strategies.base.ConnectionStrategy`,
        each with a unique ``name`` (the ``strategy`` of a connection).

    Called by: app/strategies/registry.py, once at start-up. Not scoped.
    Builtin: app.strategies.database registers ``database``.
    """


@hookspec
def register_blueprints() -> list[flask.Blueprint]:
    """Return Flask blueprints to mount on the app (extra pages or APIs).

    :returns: A list of blueprints.

    Called by: app/__init__.py, once at start-up. Not scoped: a scoped plugin's views must
    check the tenant or organization themselves.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``foyer`` command line.

    :param cli: The ``foyer`` click group; call ``cli.command()`` or ``cli.add_command()``.
    :returns: None.

    Called by: app/cli.py, once when the CLI starts. Not scoped.
    """


# --- Sign-in hooks: organization-scoped ---------------------------------------------------


@hookspec
def check_login(context: LoginContext) -> LoginDecision | None:
    """Decide whether an authenticated user may finish signing in.

    Return None to allow, or a :class:`app.login.rules.LoginDecision` to deny with a
    user-facing (translatable) reason. The first denial wins; later rules are not called.

    :param context: The user, tenant, organization, connection, client and request address.
    :returns: None or a LoginDecision.

    Called by: app/login/flow.py, once per sign-in after the password (or upstream IdP) is
    verified and before any code is issued. Organization-scoped. A raising rule denies the
    sign-in with an error page.
    """


@hookspec
def extra_token_claims(
    target: str,
    user: User,
    tenant: Tenant,
    organization: Organization | None,
    client: Client,
    scopes: list[str],
) -> dict[str, t.Any] | None:
    """Return claims to add to an ID token, access token or userinfo answer.

    Protected claims (``iss``, ``sub``, ``aud``, ``exp``, ``iat``, ``nbf``, ``nonce``,
    ``azp``, ``auth_time``, ``at_hash``, ``c_hash``, ``jti``, ``sid``, ``scope``,
    ``client_id``, ``org_id``, ``org_name``) are never overwritten: an attempt is dropped and
    logged as a ``claim_rejected`` event naming the plugin.

    :param target: ``"id_token"``, ``"access_token"`` or ``"userinfo"``.
    :param scopes: The scopes granted.
    :returns: A dict of claims, or None.

    Called by: app/oidc/claims.py, once per target per token issued. Organization-scoped.
    """


@hookspec
def track_event(event: EventRecord) -> None:
    """Receive every event of the log (log streams: files, webhooks, SIEM).

    :param event: The stored event: type code, tenant, user, client, organization, data.
    :returns: None.

    Called by: app/events/record.py, once per event after it is stored. Not scoped. A
    raising sink is logged and skipped: events are never lost because a sink failed.
    Builtin: app.events.default_sinks writes a structured log line (trylast).
    """
