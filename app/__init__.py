"""Foyer: a self-hosted, white-label B2B login platform and OpenID Connect provider.

``create_app`` is the one wiring point; ``hookimpl`` is the marker plugins import.
"""

from __future__ import annotations

import typing as t

from flask import Flask

from app.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]


def create_app(
    config: t.Mapping[str, t.Any] | None = None, plugins: t.Iterable[object] = ()
) -> Flask:
    """Build the Foyer application.

    :param config: Settings overrides (names of :class:`app.config.Settings` fields).
    :param plugins: Extra plugin objects to register (tests, embedding applications).
    """
    from app.config import Settings

    settings = Settings.load(config)
    app = Flask(__name__, instance_path=str(settings.instance))
    app.extensions["foyer.settings"] = settings
    setup_flask_config(app, settings)
    setup_database(app)
    setup_plugins(app, plugins)
    setup_security(app)
    setup_i18n(app)
    setup_templates(app)
    setup_blueprints(app)
    setup_organization_paths(app)
    setup_errors(app)
    return app


def setup_flask_config(app: Flask, settings: t.Any) -> None:
    import datetime as dt

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="foyer_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=settings.session_lifetime),
        # The cookie is set when signing in, with the session's absolute lifetime; the
        # server row keeps the idle timeout, so re-signing it on every request adds nothing.
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]


def setup_database(app: Flask) -> None:
    """Open the database and bring its schema to the newest migration."""
    from app.connections.models import Connection
    from app.connections.models import OrganizationConnection
    from app.db import Database
    from app.db import close_session
    from app.migrate import upgrade_if_needed
    from app.oidc.models import Client
    from app.orgs.models import Organization
    from app.rowcache import init_row_cache
    from app.tenancy.models import Tenant
    from app.tenancy.models import TenantDomain

    database = Database(app.extensions["foyer.settings"].database_url)
    app.extensions["foyer.db"] = database
    app.teardown_appcontext(close_session)
    upgrade_if_needed(database)
    # a domain's copy holds its tenant and, for a vanity host, its organization's connections
    init_row_cache(
        app, Tenant, TenantDomain, Organization, OrganizationConnection, Connection, Client
    )


def setup_plugins(app: Flask, extra: t.Iterable[object]) -> None:
    from app.connections.strategies import build_registry
    from app.events.record import record_plugin_failure
    from app.hooks import hook_failed
    from app.plugins import build_plugin_manager
    from app.plugins import init_template_hook

    settings = app.extensions["foyer.settings"]
    app.extensions["foyer.pm"] = build_plugin_manager(settings.plugins_dir, extra)
    hook_failed.connect(record_plugin_failure, app)
    app.extensions["foyer.strategies"] = build_registry(app)
    init_template_hook(app)


def setup_security(app: Flask) -> None:
    from flask_wtf.csrf import CSRFProtect

    from app.events.record import record_storage_failure
    from app.security.cookie_session import init_cookie_session
    from app.security.counters import storage_unavailable
    from app.security.headers import init_headers
    from app.security.limits import init_limiter
    from app.sessions.services import init_login_manager

    CSRFProtect(app)  # every form; protocol endpoints are exempted in setup_blueprints
    init_cookie_session(app)
    init_headers(app)
    init_limiter(app)
    storage_unavailable.connect(record_storage_failure, app)
    init_login_manager(app)


def setup_i18n(app: Flask) -> None:
    from app.i18n import init_i18n

    init_i18n(app)


def setup_templates(app: Flask) -> None:
    from app.branding.loader import init_templates

    init_templates(app)


def setup_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.login.context import load_sign_in
    from app.login.views import bp as login_bp
    from app.oidc.consent import bp as consent_bp
    from app.oidc.views import bp as oidc_bp
    from app.orgs.views import bp as orgs_bp

    app.extensions["csrf"].exempt(oidc_bp)  # RP-driven endpoints: no CSRF token to carry
    app.register_blueprint(oidc_bp)
    app.register_blueprint(login_bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(orgs_bp)
    for blueprint in (accounts_bp, orgs_bp):  # reached from a sign-in (?tx=): its brand, language
        app.before_request_funcs.setdefault(blueprint.name, []).append(load_sign_in)
    for batch in app.extensions["foyer.pm"].hook.register_blueprints():
        for blueprint in batch:
            app.register_blueprint(blueprint)


def setup_organization_paths(app: Flask) -> None:
    """Serve ``/o/<organization>/...`` (login pages, authorize, discovery) for each org."""
    from app.tenancy.paths import init_organization_paths

    init_organization_paths(app)


def setup_errors(app: Flask) -> None:
    from app.errors import init_errors

    init_errors(app)
