"""The one wiring point: :func:`create_app` builds Foyer from its rooms, top to bottom.

Wiring sits above every room, so it imports them all at module level; the package root
(:mod:`app`) hands ``create_app`` on lazily, so importing any one room never loads the rest.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import typing as t
from types import FunctionType
from types import MethodType

from flask import Flask
from flask import request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from app.accounts.signed_in import show_session_organization
from app.accounts.views import bp as accounts_bp
from app.api.setup import init_api
from app.branding.loader import init_templates
from app.branding.preview import init_preview
from app.clients.models import Client
from app.config import Settings
from app.connections.models import Connection
from app.connections.models import OrganizationConnection
from app.connections.strategies import build_registry
from app.db import Database
from app.db import close_session
from app.db import database_problem
from app.errors import DATABASE_UNAVAILABLE
from app.errors import init_errors
from app.events.record import record_mail_failure
from app.events.record import record_plugin_failure
from app.events.record import record_storage_failure
from app.events.streams import deployment_settings
from app.hooks import hook_failed
from app.i18n import init_i18n
from app.jobs import run_due
from app.login import saml_views
from app.login.context import load_sign_in
from app.login.views import bp as login_bp
from app.mail.outbox import mail_given_up
from app.mail.outbox import send_due
from app.migrate import upgrade_if_needed
from app.observability.web import init_observability
from app.oidc.consent import bp as consent_bp
from app.oidc.views import bp as oidc_bp
from app.oidc.well_known import init_well_known
from app.orgs.models import Organization
from app.orgs.views import bp as orgs_bp
from app.plugins import build_plugin_manager
from app.plugins import init_template_hook
from app.rowcache import init_row_cache
from app.scim.views import init_scim
from app.security.cookie_session import init_cookie_session
from app.security.counters import storage_unavailable
from app.security.headers import init_headers
from app.security.json_body import init_json_bodies
from app.security.limits import init_limiter
from app.security.log_redaction import init_log_redaction
from app.security.request_input import init_request_input
from app.sessions.services import init_login_manager
from app.tenancy.models import Tenant
from app.tenancy.models import TenantDomain
from app.tenancy.paths import init_organization_paths
from app.worker import init_worker

log = logging.getLogger(__name__)


class FoyerFlask(Flask):
    """Flask, with the check each hook and view goes through on every call made cheap."""

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """Flask's own, answering at once for a plain ``def`` function or a method of one
        (every hook and view of Foyer's): Flask asks :func:`inspect.iscoroutinefunction`
        about each of the dozen hooks a request runs, a measurable share of a small one."""
        plain = func.__func__ if type(func) is MethodType else func
        if (
            type(plain) is FunctionType
            and not plain.__code__.co_flags & inspect.CO_COROUTINE
            and getattr(plain, "_is_coroutine_marker", None) is None
        ):
            return func
        return super().ensure_sync(func)


def create_app(
    config: t.Mapping[str, t.Any] | None = None,
    plugins: t.Iterable[object] = (),
    *,
    check_schema: bool = True,
) -> Flask:
    """Build the Foyer application.

    :param config: Settings overrides (names of :class:`app.config.Settings` fields).
    :param plugins: Extra plugin objects to register (tests, embedding applications).
    :param check_schema: Migrate SQLite / warn about an old schema at start; the ``foyer db``
        commands turn it off, as they say themselves what they find and do.
    """
    settings = Settings.load(config)
    app = FoyerFlask("app", instance_path=str(settings.instance))
    app.extensions["foyer.settings"] = settings
    setup_flask_config(app, settings)
    setup_database(app, check_schema)
    setup_worker(app)
    init_observability(app)
    setup_plugins(app, plugins)
    setup_security(app)
    setup_i18n(app)
    setup_templates(app)
    setup_blueprints(app)
    setup_proxy(app)
    setup_organization_paths(app)
    setup_errors(app)
    return app


def setup_flask_config(app: Flask, settings: t.Any) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # over https the __Host- prefix: Secure, Path=/ and no Domain, or browsers refuse it
        SESSION_COOKIE_NAME="__Host-foyer_session" if settings.secure_cookies else "foyer_session",
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


def setup_proxy(app: Flask) -> None:
    """The WSGI layers around Flask, innermost first: discovery and JWKS copies, then the
    trusted proxies' scheme, host and client address (the copies are kept per scheme and
    host as the proxies give them)."""
    init_well_known(app)
    settings = app.extensions["foyer.settings"]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]


def setup_database(app: Flask, check_schema: bool = True) -> None:
    """Open the database and bring its schema to the newest migration.

    A database that cannot be reached does not stop a worker from starting (gunicorn would
    give up on the whole server): it is logged, requests answer 503 and ``/health/ready``
    says so until it is back. ``foyer run`` refuses to start without it instead.
    """
    settings = app.extensions["foyer.settings"]
    database = Database(settings.database_url, settings.sqlite_cache_mib)
    app.extensions["foyer.db"] = database
    app.teardown_appcontext(close_session)
    if check_schema:
        try:
            upgrade_if_needed(database)
        except DATABASE_UNAVAILABLE as exc:
            log.error("database unreachable at start: %s", database_problem(exc))
    # a domain's copy holds its tenant and, for a vanity host, its organization's connections
    init_row_cache(
        app, Tenant, TenantDomain, Organization, OrganizationConnection, Connection, Client
    )


def setup_worker(app: Flask) -> None:
    """The background worker and its mail queue (logout tokens join it with the oidc room);
    its thread starts with the first queued row, or at once under ``foyer run``."""
    worker = init_worker(app)
    worker.add("jobs", run_due)  # first: the jobs queue emails, sent in the same pass
    worker.add("mail", send_due)
    mail_given_up.connect(record_mail_failure, app)


def setup_plugins(app: Flask, extra: t.Iterable[object]) -> None:
    settings = app.extensions["foyer.settings"]
    app.extensions["foyer.pm"] = build_plugin_manager(settings.plugins_dir, extra)
    deployment_settings(app)  # a wrong FOYER_EVENT_STREAM_* fails the start, not each event
    hook_failed.connect(record_plugin_failure, app)
    app.extensions["foyer.strategies"] = build_registry(app)
    init_template_hook(app)


def setup_security(app: Flask) -> None:
    init_csrf(app)
    init_cookie_session(app)
    init_headers(app)
    init_json_bodies(app)
    init_request_input(app)
    init_limiter(app)
    init_log_redaction()
    storage_unavailable.connect(record_storage_failure, app)
    init_login_manager(app)


def init_csrf(app: Flask) -> None:
    """Every form; protocol endpoints are exempted in :func:`setup_blueprints`.

    Flask-WTF's check before each request looks up the view's exemptions before the method:
    the same check runs here with the method first, so a ``GET`` costs one comparison.
    """
    before = list(app.before_request_funcs.get(None, ()))
    csrf = CSRFProtect(app)
    app.before_request_funcs[None] = before
    config = app.config

    @app.before_request
    def csrf_protect() -> None:
        if request.method not in config["WTF_CSRF_METHODS"]:
            return
        if config["WTF_CSRF_ENABLED"] and config["WTF_CSRF_CHECK_DEFAULT"]:
            csrf.protect(apply_exemptions=True)


def setup_i18n(app: Flask) -> None:
    init_i18n(app)


def setup_templates(app: Flask) -> None:
    init_templates(app)
    init_preview(app)  # the theme preview pages render with the loader set up above


def setup_blueprints(app: Flask) -> None:
    app.extensions["csrf"].exempt(oidc_bp)  # RP-driven endpoints: no CSRF token to carry
    app.register_blueprint(oidc_bp)
    app.register_blueprint(login_bp)
    app.extensions["csrf"].exempt(saml_views.acs)  # posted by the IdP: signed, not a form
    app.extensions["csrf"].exempt(saml_views.slo)  # likewise, Single Logout messages
    app.register_blueprint(saml_views.bp)
    app.register_blueprint(consent_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(orgs_bp)
    for blueprint in (accounts_bp, orgs_bp):  # reached from a sign-in (?tx=): its brand, language
        app.before_request_funcs.setdefault(blueprint.name, []).append(load_sign_in)
    init_api(app)
    init_scim(app)
    # without one, the account pages carry the brand of the organization of the session
    app.before_request_funcs[accounts_bp.name].append(show_session_organization)
    for batch in app.extensions["foyer.pm"].hook.register_blueprints():
        for blueprint in batch:
            app.register_blueprint(blueprint)


def setup_organization_paths(app: Flask) -> None:
    """Serve ``/o/<organization>/...`` (login pages, authorize, discovery) for each org."""
    init_organization_paths(app)


def setup_errors(app: Flask) -> None:
    init_errors(app)
