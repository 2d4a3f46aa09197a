"""Every hook a Foyer plugin may implement. Each docstring is that hook's documentation.

Plugins implement hooks with ``@hookimpl`` (``from app import hookimpl``) and may take fewer
arguments than the spec lists. Start-up hooks run once for every plugin. Runtime hooks are
*organization-scoped*: a plugin that declares ``FOYER_SCOPED = True`` runs only for tenants
and organizations that enable it (``plugins:`` in their configuration), and reads its
settings there with :func:`app.hooks.plugin_settings`. A runtime implementation that
raises, or outlives its time budget (``FOYER_PLUGIN_TIMEOUT``), is contained: the failure is
logged as a ``plugin_failed`` event naming the plugin and hook; hooks on the sign-in path
then show the user a branded error page, the others carry on without that plugin.

User lifecycle has no ``on_*`` hooks: every change (``user_created``, ``login_succeeded``,
``logout``, ``user_blocked``, ``user_deleted``...) is an event with a stable type code that
:func:`track_event` receives, so one sink sees the whole story in order and a new event
needs no new hook. The one lifecycle step an event cannot serve, changing a user *before*
it is stored, is :func:`prepare_user`.

``docs/hooks.md`` is generated from this file (``foyer plugins hooks --write``).
"""

from __future__ import annotations

import typing as t

import pluggy

if t.TYPE_CHECKING:
    from pathlib import Path

    import click
    import flask

    from app.accounts.models import User
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy
    from app.events.types import EventRecord
    from app.hrd.method import HomeRealmMethod
    from app.hrd.realm import HomeRealm
    from app.login.rules import LoginContext
    from app.login.rules import LoginDecision
    from app.mail.message import EmailMessage
    from app.orgs.models import Organization
    from app.sessions.models import SsoSession
    from app.strategies.legacy import LegacyStore
    from app.tenancy.models import Tenant

hookspec = pluggy.HookspecMarker("foyer")
hookimpl = pluggy.HookimplMarker("foyer")


# --- Start-up hooks: called once per app, for every plugin (not scoped) -------------------


@hookspec
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    """Return connection strategy classes to add to the registry.

    :returns: A list of classes implementing :class:`app.connections.strategies.ConnectionStrategy`,
        each with a unique ``name`` (the ``strategy`` of a connection).

    Called by: app/connections/strategies.py, once at start-up. Not scoped: a connection's
    ``strategy`` chooses the class. A raising implementation stops start-up.
    Builtin: app.strategies.database registers ``database``, app.strategies.legacy
    registers ``legacy``, app.strategies.oidc registers ``oidc`` (an upstream OpenID
    Connect provider, docs/federation.md), app.strategies.saml registers ``saml`` (an
    upstream SAML 2.0 IdP, docs/federation.md), app.strategies.social registers ``google``
    and ``microsoft`` and app.strategies.github registers ``github`` (social presets). A
    strategy may have a ``diagnose()`` method (``foyer connections test``) and a logo
    ``static/img/connections/<name>.svg`` in a theme. A strategy class may also have a static
    ``check_options(options, secrets)`` returning ``[(field, message)]``: ``foyer apply``
    then refuses a connection whose options do not fit, naming each field.
    """


@hookspec
def register_legacy_stores() -> list[type[LegacyStore]]:
    """Return legacy identity store classes that ``legacy`` connections may proxy.

    A connection with ``strategy: legacy`` names its store in ``options.store``; the store
    is built with the connection (its ``options`` and decrypted ``get_secrets()``) and asked
    to check passwords until each user has been moved into Foyer (lazy migration).

    :returns: A list of classes implementing :class:`app.strategies.legacy.LegacyStore`,
        each with a unique ``name``.

    Called by: app/strategies/legacy.py, each time a legacy connection needs its store
    (a sign-in that reaches the old store, ``foyer users migrate``). Not scoped: the
    connection's ``options.store`` chooses the class. A raising implementation makes the
    sign-in fail with an error page naming no secrets.
    """


@hookspec
def register_home_realm_methods() -> list[HomeRealmMethod]:
    """Return home realm discovery methods, each a way to find a sign-in's realm.

    A realm is the organization and connection a sign-in belongs to. Each method has a
    unique ``name``, the ``stages`` it runs in (``request``: when the
    sign-in starts, from the application's parameters, the host or the path;
    ``identifier``: once the user has typed an identifier), ``public`` (True only when its
    answer never depends on whether an account exists, so the public lookup endpoint may
    ask it) and ``resolve(context)``, which returns a :class:`app.hrd.realm.HomeRealm`
    or None. A tenant tries the methods named in its ``hrd.order`` setting, in that order;
    a method a plugin adds runs only where a tenant lists it.

    :returns: A list of objects implementing :class:`app.hrd.method.HomeRealmMethod`.

    Called by: app/hrd/chain.py, when the set of plugins changes (in practice once per
    process). Not scoped: the tenant's ``hrd.order`` chooses the methods. A raising
    implementation fails the sign-in with the plugin-failure error page.
    Builtin: app.hrd.by_parameter (``organization_parameter``, ``connection_parameter``),
    app.hrd.by_host (``vanity_host``, ``vanity_path``), app.hrd.by_plugin (``plugin``),
    app.hrd.by_identifier_map (``identifier_map``), app.hrd.by_email_domain
    (``email_domain``), app.hrd.by_user_lookup (``user_lookup``).
    """


@hookspec
def register_blueprints() -> list[flask.Blueprint]:
    """Return Flask blueprints to mount on the app (extra pages or APIs).

    :returns: A list of blueprints.

    Called by: app/factory.py, once at start-up. Not scoped: a scoped plugin's views must
    check the tenant or organization themselves. A raising implementation stops start-up.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``foyer`` command line.

    :param cli: The ``foyer`` click group; call ``cli.command()`` or ``cli.add_command()``,
        or add to a group such as ``cli.commands["users"]``.
    :returns: None.

    Called by: app/cli.py, once when the CLI starts (before any database is opened). Not
    scoped. A raising implementation stops the command line.
    Builtin: each room's commands (app.accounts.cli adds ``foyer users``, app.oidc.cli
    ``foyer clients`` and ``foyer keys``, ...), ``tryfirst`` so that plugins can add to their
    groups; app.strategies.legacy adds ``foyer users migrate``.
    """


@hookspec
def extra_theme_dirs() -> list[str | Path]:
    """Return folders that hold theme folders, to install the themes a plugin ships.

    Each returned folder is searched like ``themes/``: every sub-folder with a
    ``theme.toml`` is a theme that organizations may choose by name.

    :returns: A list of paths (``Path(__file__).parent / "themes"`` is the usual answer).

    Called by: app/branding/loader.py, once at start-up, after the builtin and the
    deployment's ``themes/`` folders. Not scoped: a theme is chosen per organization.
    A raising implementation, or a theme with a broken manifest or parent chain, stops
    start-up; a theme template or wording file that fails is logged and the parent serves.
    """


# --- Sign-in hooks: organization-scoped --------------------------------------------------


@hookspec(firstresult=True)
def home_realm_for_identifier(
    identifier: str,
    tenant: Tenant,
    organization: Organization | None,
    client: Client | None,
) -> HomeRealm | None:
    """Choose the connection and/or organization for the identifier a user typed.

    Stops at the first non-None result. Return None to let other plugins, then the next
    discovery methods of the tenant's ``hrd.order`` (by default the identifier map, email
    domains, then the account lookup), decide. This hook is the builtin ``plugin`` method,
    asked on the login pages only (never by the public lookup endpoint, since a plugin may
    look at accounts). An answer naming another organization than the one the
    application, host, path or user already chose, or a connection that organization does
    not enable, is ignored and traced.

    :param identifier: What the user typed: an email address or a username (trimmed).
    :param tenant: The tenant of the request.
    :param organization: Set when the application, host, path or user already chose one.
    :param client: The application that started the sign-in, or None.
    :returns: A :class:`app.hrd.realm.HomeRealm` (a connection, an organization or
        both, and a ``detail`` for the trace), or None.

    Called by: app/hrd/by_plugin.py (realm_from_plugins), once per identifier submitted.
    Organization-scoped. A raising implementation shows the plugin-failure error page.
    """


@hookspec(firstresult=True)
def check_login(context: LoginContext) -> LoginDecision | None:
    """Decide whether an authenticated user may finish signing in, or must take a step first.

    Return None to allow; ``LoginDecision(code, reason)`` to deny with a user-facing,
    translatable reason (``lazy_gettext``); or ``LoginDecision.require(step)`` to send the
    sign-in through a step first: ``"mfa"`` (two-step verification, for a user who has set
    it up) or a step of the plugin's own, whose page (``page=``: an endpoint of the
    plugin's blueprint, or a path) gets the sign-in as ``?tx=`` and calls
    :func:`app.login.steps.step_done` when done. The rules then run again, so return None
    once the step is done (``"mfa" in context.amr``, ``step in context.steps``). The first
    rule that answers wins; later rules are not called.

    :param context: The user, tenant, organization, connection, client, request address,
        authentication methods (``amr``) and the steps passed.
    :returns: None or a :class:`app.login.rules.LoginDecision`.

    Called by: app/login/steps.py (check_rules), for every sign-in, fresh or answered by an
    SSO session: after the password (or upstream IdP) and two-step verification, before any
    session or code exists, and again after each step a rule requires. Organization-scoped.
    A raising rule denies the sign-in with the plugin-failure error page.
    Builtin: app.login.membership_rule (members only, for shared user pools).
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
    ``client_id``, ``org_id``, ``org_name``, ``acr``, ``amr``, ``grant_id``) are never
    overwritten: an attempt is dropped and logged as a ``claim_rejected`` event naming the
    plugin. Custom claims should be namespaced URLs (``https://login.example.com/claims/roles``).

    :param target: ``"id_token"``, ``"access_token"`` or ``"userinfo"``.
    :param user: The user the token is for.
    :param tenant: The issuing tenant.
    :param organization: The organization of the sign-in, or None.
    :param client: The application the token is issued to.
    :param scopes: The scopes granted.
    :returns: A dict of claims, or None.

    Called by: app/oidc/claims.py, once per target per token issued. Organization-scoped.
    A raising rule fails the token request (``server_error``) rather than issuing a token
    without the claims the application expects.
    Not called for client_credentials tokens, which have no user.
    Builtin: app.oidc.default_claims (profile and email claims); Foyer itself sets
    ``org_id`` and ``org_name``.
    """


@hookspec(firstresult=True)
def check_password(
    password: str,
    tenant: Tenant,
    organization: Organization | None,
    user: User | None,
    email: str | None,
) -> str | None:
    """Reject a new password that breaks a rule of this tenant or organization.

    Foyer's own rules run first: the length, the tenant's minimum zxcvbn score, and never
    the user's email address or name. Return None to accept, or a short user-facing,
    translatable reason (``gettext``) shown next to the password field; Foyer's own reasons
    are reusable, translated: ``app.weak_password_reason("breached")``. Stops
    at the first rejection: later rules are not called. A rule that calls a service keeps
    to the time budget with ``app.hooks.time_left`` (docs/accounts.md has an online breach
    check, Have I Been Pwned's k-anonymity range API).

    :param password: The new password, in clear. Never log or store it.
    :param tenant: The tenant of the user.
    :param organization: The organization of the sign-up or reset, or None.
    :param user: The user changing their password; None at sign-up.
    :param email: The email address of the user or of the sign-up, if any.
    :returns: None, or the reason the password is refused.

    Called by: app/accounts/services.py (check_password_policy), once per new password set
    through Foyer's services (users created with a password, password changes). Only when
    the tenant is known. Organization-scoped. A raising rule refuses the password with the
    plugin-failure error page.
    """


# --- User lifecycle: organization-scoped -------------------------------------------------


@hookspec
def prepare_user(user: User, connection: Connection, organization: Organization | None) -> None:
    """Change a new user before it is first stored: defaults, ``app_metadata``, a profile.

    Everything after creation (created, signed in, signed out, blocked, deleted) is an event
    for :func:`track_event`.

    :param user: The new user, not yet flushed; set attributes on it.
    :param connection: The connection the user is created in.
    :param organization: The organization the user signs up or is invited into, or None.
    :returns: None.

    Called by: app/accounts/services.py (create_user), once per user created (sign-up,
    invitation, upstream first sign-in, lazy migration, admin and CLI), and
    app/accounts/bulk.py, once per user a ``foyer users import`` adds. Organization-scoped.
    A raising implementation stops the creation: no user is stored.
    """


@hookspec
def end_user_access(user: User, reason: str, keep: SsoSession | None) -> dict[str, int] | None:
    """End what the plugin keeps for a user who is signed out everywhere.

    Foyer ends the user's SSO sessions itself; implementations end what lives elsewhere:
    refresh-token families (the builtin), upstream sessions, a plugin's own grants.

    :param user: The user signed out (a password reset or change, a block).
    :param reason: Why, as a stable code (``password_reset``, ``password_changed``,
        ``user_blocked``), recorded with what is revoked.
    :param keep: The session to spare (the browser that changed its password), or None.
    :returns: Counts for the event (``{"grants_revoked": 2}``), or None.

    Called by: app/accounts/credentials.py (sign_out_everywhere), in the caller's
    transaction, before it commits. Not scoped (plugins the user's tenant enables, in every
    organization). A raising
    implementation stops the change: nothing is committed and the error page names the
    plugin.
    Builtin: app.oidc.revocation (refresh-token families).
    """


# --- Branding hooks: organization-scoped -------------------------------------------------


@hookspec
def extra_template_vars(
    template: str,
    tenant: Tenant | None,
    organization: Organization | None,
    request: flask.Request | None,
) -> dict[str, t.Any] | None:
    """Return extra variables for a page or email template.

    Values are escaped like any template variable. Core names (``tenant``, ``brand``,
    ``form``...) are never replaced: a clash is logged and the plugin's value dropped.

    :param template: The template's name (``login/password.html``, ``errors/error.html``).
    :param tenant: The tenant of the request, or None (an unknown host).
    :param organization: The organization of the page, or None.
    :param request: The current request, or None when rendering outside one (emails).
    :returns: A dict, or None.

    Called by: app/plugins.py (a ``before_render_template`` listener), once per template
    rendered. Organization-scoped. A raising implementation is logged and skipped: the page
    still renders without its variables.
    """


# --- Mail: organization-scoped -----------------------------------------------------------


@hookspec(firstresult=True)
def deliver_email(
    message: EmailMessage, tenant: Tenant, organization: Organization | None
) -> bool | None:
    """Send a rendered email (SMTP, an HTTP API, a queue). Return True once it is sent.

    Stops at the first non-None result. Return None to let the next plugin deliver it.

    :param message: Recipient, subject, text and HTML bodies, the purpose
        (``password_reset``, ``email_verification``, ``invitation``...), and the
        ``message_id`` to send as the ``Message-ID`` header: the same on every attempt at
        this email, so a retry after a late answer is recognised as a copy.
    :param tenant: The sending tenant.
    :param organization: The organization the email is about, or None.
    :returns: True when delivered, or None.

    Called by: app/mail (send_email), once per email. Organization-scoped. A raising
    implementation is logged as ``plugin_failed``; the next plugin is tried, and the user
    sees the same answer as on success (nothing reveals whether an account exists).
    """


# --- Events: organization-scoped ---------------------------------------------------------


@hookspec
def track_event(event: EventRecord) -> None:
    """Receive every event of the log (log streams: files, webhooks, SIEM, user lifecycle).

    Type codes are listed in ``app/events/types.py`` and ``docs/events.md``; lifecycle
    plugins watch ``user_created``, ``login_succeeded``, ``logout``, ``user_blocked`` and
    ``user_deleted``. Answer quickly (a sign-in waits for every sink): queue the event
    and send it from a thread of your own, as the builtin log streams do.

    :param event: The stored event: type code, tenant, user, client, organization, data.
    :returns: None.

    Called by: app/events/record.py, once per event after it is stored. Organization-scoped:
    an unscoped sink receives every tenant's events, a scoped one those of the tenants and
    organizations that enable it. A raising sink is logged and skipped: events are never
    lost because a sink failed.
    Builtin: app.events.default_sinks writes a structured log line (trylast);
    app.events.streams sends events to the deployment's log streams, and the scoped plugin
    ``log_streams`` to a tenant's own (a file, a webhook, syslog).
    """
