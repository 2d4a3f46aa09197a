"""Branded error pages for every failure, each with the request id as its reference.

The reference is the request's id (``X-Request-ID``): the same id is in the request's log
line and in the ``error_shown`` event, so support finds both from what a user reads out.

Views call :func:`error_page` with a stable code; handlers turn HTTP errors, CSRF failures,
plugin failures and unexpected exceptions into the same page. No Flask default error page
is ever shown. Protocol endpoints (token, userinfo...) answer JSON errors themselves.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

import sqlalchemy as sa
from flask import Flask
from flask import current_app
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.wrappers import Response

from app.db import database_problem
from app.db import session
from app.events.record import record_event
from app.hooks import PluginError
from app.i18n import page_languages
from app.observability import metrics
from app.observability.logs import request_id
from app.observability.web import RETRY_AFTER
from app.tenancy.models import TenantDomain
from app.tenancy.resolve import find_domain

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ErrorKind:
    status: int
    title: t.Any
    message: t.Any
    next_step: t.Any


ERRORS: dict[str, ErrorKind] = {
    "not_found": ErrorKind(
        404,
        _l("Page not found"),
        _l("There is nothing at this address."),
        _l("Check the address, or go back to the application you came from."),
    ),
    "method_not_allowed": ErrorKind(
        405,
        _l("This action is not available"),
        _l("The page cannot be used this way."),
        _l("Go back to the application you came from and start again."),
    ),
    "unknown_organization": ErrorKind(
        404,
        _l("Unknown organization"),
        _l("No organization signs in at this address."),
        _l("Check the address, or go back to the application you came from."),
    ),
    "invalid_request": ErrorKind(
        400,
        _l("The request is not valid"),
        _l("The application sent a sign-in request that cannot be accepted."),
        _l("Go back to the application and try again. If it keeps happening, contact support."),
    ),
    "unknown_client": ErrorKind(
        400,
        _l("Unknown application"),
        _l("The application that sent you here is not registered."),
        _l("Contact the application's support team with the reference below."),
    ),
    "invalid_redirect_uri": ErrorKind(
        400,
        _l("The application's return address is not allowed"),
        _l(
            "For your safety you were not sent back to an address the application has not "
            "registered."
        ),
        _l("Contact the application's support team with the reference below."),
    ),
    "csrf_failed": ErrorKind(
        400,
        _l("Your form expired"),
        _l("The page was open too long or was sent from elsewhere, so it was not accepted."),
        _l("Go back, reload the page and try again."),
    ),
    "login_expired": ErrorKind(
        400,
        _l("Your sign-in expired"),
        _l("The sign-in took too long or was already finished."),
        _l("Go back to the application and sign in again."),
    ),
    "access_denied": ErrorKind(
        403,
        _l("You cannot sign in here"),
        _l("Your sign-in was refused."),
        _l("If you think this is a mistake, contact support with the reference below."),
    ),
    "rate_limited": ErrorKind(
        429,
        _l("Too many attempts"),
        _l("There were too many attempts from your network."),
        _l("Wait a few minutes, then try again."),
    ),
    "request_too_large": ErrorKind(
        413,
        _l("The request is too large"),
        _l("The form sent more data than allowed."),
        _l("Go back and try again with shorter values."),
    ),
    "service_unavailable": ErrorKind(
        503,
        _l("Sign-in is unavailable right now"),
        _l("A service needed to sign you in cannot be reached."),
        _l("Try again in a few minutes."),
    ),
    "no_connection": ErrorKind(
        503,
        _l("Sign-in is not set up here"),
        _l("There is no way to sign in with a password on this page yet."),
        _l("Contact support with the reference below."),
    ),
    "upstream_denied": ErrorKind(
        403,
        _l("Your sign-in was cancelled"),
        _l("Your organization's sign-in service did not sign you in."),
        _l(
            "Go back to the application and try again. If you did not cancel, contact "
            "support with the reference below."
        ),
    ),
    "upstream_unavailable": ErrorKind(
        503,
        _l("Your organization's sign-in service is not answering"),
        _l("It is down or too slow right now, so you could not be signed in."),
        _l("Try again in a few minutes. If it keeps happening, contact support."),
    ),
    "upstream_failed": ErrorKind(
        502,
        _l("Your organization's sign-in could not be checked"),
        _l(
            "Your organization's sign-in service sent an answer that cannot be accepted, so "
            "you were not signed in. Nothing was changed."
        ),
        _l("Contact support with the reference below."),
    ),
    "account_conflict": ErrorKind(
        409,
        _l("This account cannot be signed in yet"),
        _l("Another account here already uses the email address your organization sent."),
        _l("Contact support with the reference below: they can sort it out."),
    ),
    "signup_disabled": ErrorKind(
        403,
        _l("You cannot create an account here"),
        _l("New accounts are not open on this page."),
        _l("Ask your organization's administrator for an invitation, or sign in."),
    ),
    "plugin_failed": ErrorKind(
        502,
        _l("Sign-in could not be completed"),
        _l("Part of the sign-in process failed on our side. Nothing was changed."),
        _l("Try again in a few minutes. If it keeps happening, contact support."),
    ),
    "server_error": ErrorKind(
        500,
        _l("Something went wrong"),
        _l("An unexpected error stopped this page."),
        _l("Try again. If it keeps happening, contact support with the reference below."),
    ),
}

HTTP_CODES = {
    400: "invalid_request",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "rate_limited",
    503: "service_unavailable",
}


@dataclasses.dataclass(frozen=True)
class ErrorAction:
    """A way on from an error page: a link shown as a button (``id`` is its stable id)."""

    id: str
    label: t.Any
    url: str


UNRECORDED = frozenset({"not_found", "method_not_allowed"})
"""Error pages that write no event: what any scanner triggers at will (counted in the
``foyer_error_pages_total`` metric instead)."""

PROTOCOL_ENDPOINTS = frozenset(
    {
        "oidc.token",
        "oidc.userinfo",
        "oidc.introspect",
        "oidc.revoke",
        "oidc.jwks",
        "oidc.discovery",
        "hrd.lookup",
    }
)
"""Endpoints programs call: their failures are JSON with an OAuth ``error``, never a page."""

DATABASE_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
    sa.exc.PendingRollbackError,
)
"""What SQLAlchemy raises when the database cannot be reached (or the connection broke
mid-request): answered 503 with ``Retry-After``, as the pool reconnects by itself."""


def error_page(
    code: str,
    status: int | None = None,
    detail: str | None = None,
    headers: t.Mapping[str, str] | None = None,
    actions: t.Sequence[ErrorAction] = (),
    stored: bool = True,
    **data: t.Any,
) -> Response:
    """Render the branded error page for ``code`` and log an ``error_shown`` event.

    On a host that serves no tenant the answer is a short plain-text page that repeats
    nothing from the request. This function never raises: if rendering fails, a minimal
    static page is returned, so no framework default page is ever shown.

    :param detail: Extra user-facing text (already translated), e.g. a login rule's reason.
    :param actions: Ways on (a refusal is never a dead end): buttons under the message.
    :param stored: False when no event can be written (the database is down).
    :param data: Recorded in the event (never secrets), not shown.
    """
    kind = ERRORS.get(code, ERRORS["server_error"])
    status = status or kind.status
    metrics.count_error_page(code if code in ERRORS else "server_error")
    try:
        response = _render_error(code, kind, status, detail, data if stored else None, actions)
    except Exception:
        log.exception("error page failed")
        response = Response(_MINIMAL_PAGE, status=status, mimetype="text/html")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def unavailable_page(error: Exception, **data: t.Any) -> Response:
    """The page for a sign-in that a store or an upstream cannot serve right now
    (``StrategyUnavailable``): the reason, meant for operators, is logged and recorded in
    the event, never shown."""
    log.warning("sign-in unavailable (%s): %s", data.get("connection", "-"), error)
    return error_page("service_unavailable", reason=str(error), **data)


_MINIMAL_PAGE = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Error</title>'
    "<h1>Something went wrong</h1><p>Please try again in a few minutes.</p></html>"
)


def _render_error(
    code: str,
    kind: ErrorKind,
    status: int,
    detail: str | None,
    data: dict[str, t.Any] | None,
    actions: t.Sequence[ErrorAction] = (),
) -> Response:

    domain, lookup_failed = _request_domain()
    if domain is None and not lookup_failed:
        return unknown_host_page(404 if status == 404 else status)
    tenant = domain.tenant if domain is not None else None
    languages = page_languages()
    if tenant is not None and not languages.defaults:
        languages.defaults = [tenant.default_locale]
    reference = request_id()
    if data is not None and code not in UNRECORDED:
        try:
            record_event(
                "error_shown",
                tenant=tenant,
                data={"code": code, "path": request.path, "request_id": reference, **data},
            )
        except Exception:  # the database itself may be what failed
            log.exception("could not record error event")
    context = {
        "error_code": code,
        "error_title": kind.title,
        "error_message": kind.message,
        "error_next_step": kind.next_step,
        "error_detail": detail,
        "reference": reference,
        "tenant": tenant,
        "error_actions": list(actions),
    }
    try:
        body = render_template("errors/error.html", **context)
    except Exception:
        log.exception("error template failed")
        title = escape(str(kind.title))
        body = (
            f'<!doctype html><meta charset="utf-8"><title>{title}</title><h1>{title}</h1>'
            f"<p>{escape(reference or '')}</p>"
        )
    return Response(body, status=status, mimetype="text/html")


def unknown_host_page(status: int = 404) -> Response:
    """The answer on a host that serves no tenant. It repeats nothing from the Host header.

    In production a short plain-text page; in the demo, debug mode and theme development a
    page naming the configured addresses, since "localhost" and "127.0.0.1" are different
    host names to Foyer and the first visit often uses the wrong one.
    """
    settings = current_app.extensions["foyer.settings"]
    if not (settings.demo or settings.theme_development or current_app.debug):
        return Response("Unknown host\n", status=status, mimetype="text/plain")
    try:
        hosts = sorted({d.base_url for d in session.scalars(sa.select(TenantDomain))})
        body = render_template("errors/unknown_host.html", hosts=hosts)
    except Exception:
        log.exception("unknown host page failed")
        return Response("Unknown host\n", status=status, mimetype="text/plain")
    return Response(body, status=status, mimetype="text/html")


def _request_domain() -> tuple[TenantDomain | None, bool]:
    """(the request's tenant domain or None, whether looking it up failed)."""
    domain = g.get("tenant_domain")
    if domain is not None:
        return domain, False
    try:
        domain = find_domain(request.host)
    except DATABASE_UNAVAILABLE:  # already said once, by the handler that shows this page
        return None, True
    except Exception:
        log.exception("could not look up the tenant of an error page")
        return None, True
    if domain is not None:
        g.tenant_domain = domain
    return domain, False


def _load_page_context(app: Flask) -> None:
    """Run the page's own ``before_request`` functions, which the CSRF check pre-empts.

    The check runs before the blueprint loads the page's context: the sign-in's
    organization (``?tx=``) and its languages. Without that context the error page would
    carry the tenant's brand. This is best effort: the error page is shown either way.
    """
    for load in app.before_request_funcs.get(request.blueprint or "", ()):
        try:
            load()
        except Exception:  # noqa: BLE001 - an unknown transaction or host: plainer page
            log.debug("page context not loaded for the CSRF error page", exc_info=True)


ErrorResponder = t.Callable[[Exception], Response]
"""Turns an exception into a response (JSON APIs answer their own errors)."""


def answer_errors_under(app: Flask, prefix: str, responder: ErrorResponder) -> None:
    """Errors of requests whose path starts with ``prefix`` are answered by ``responder``
    (a JSON API's own body) instead of the branded page: routing errors too, which no
    blueprint handler sees."""
    app.extensions.setdefault("foyer.error_responders", {})[prefix] = responder


def _responder(app: Flask) -> ErrorResponder | None:
    for prefix, responder in app.extensions.get("foyer.error_responders", {}).items():
        if request.path.startswith(prefix):
            return t.cast(ErrorResponder, responder)
    return None


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        responder = _responder(app)
        if responder is not None:
            return responder(exc)
        _load_page_context(app)
        detail = None
        if app.extensions["foyer.settings"].secure_cookies and not request.is_secure:
            # the cookie holding the form's token is Secure: over http it never came back
            detail = _(
                "This page was opened over http, but Foyer's cookies are sent over https only, "
                "so the browser could not keep them. Open it with https (behind a proxy that "
                "ends https, set FOYER_TRUSTED_PROXIES), or for local development start Foyer "
                "with FOYER_SECURE_COOKIES=false."
            )
        return error_page("csrf_failed", 400, detail=detail, reason=exc.description)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        responder = _responder(app)
        if responder is not None:
            return responder(exc)
        if exc.description == "unknown_host":
            return unknown_host_page(404)
        code = HTTP_CODES.get(exc.code or 500, "server_error")
        headers = {}
        if exc.code == 429:
            headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
            _record_rate_limited(exc)
        if exc.code == 405 and isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_page(code, exc.code, headers=headers)

    @app.errorhandler(PluginError)
    def _plugin(exc: PluginError) -> Response:
        responder = _responder(app)
        if responder is not None:
            return responder(exc)
        return error_page("plugin_failed", 502, plugin=exc.plugin, hook=exc.hook)

    for database_error in DATABASE_UNAVAILABLE:
        app.register_error_handler(database_error, database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.path)
        try:
            session.rollback()
        except Exception:
            log.exception("rollback after an unhandled error failed")
        responder = _responder(app)
        if responder is not None:
            return responder(exc)
        return error_page("server_error", 500, error=type(exc).__name__)


def database_unavailable(exc: BaseException) -> Response:
    """503 with ``Retry-After``: JSON with an OAuth error for programs, the branded page for
    people. Nothing is recorded (the database is what failed) and nothing was allowed: the
    request stopped where the database was needed. One log line, no traceback."""
    metrics.count_database_unavailable()
    log.warning(
        "database unavailable on %s: %s",
        request.endpoint or "(unmatched)",
        database_problem(exc),
    )
    try:
        # close, not rollback: a rollback expires every loaded row (the host's tenant, its
        # brand), and drawing the page would then ask the database for them again
        session.close()
    except Exception:  # noqa: BLE001 - the connection is gone: the pool replaces it later
        log.debug("closing the session without a database failed", exc_info=True)
    # the page is drawn without asking the database again: nobody is signed in on it
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"}
    if request.endpoint in PROTOCOL_ENDPOINTS or _wants_json():
        body = {
            "error": "temporarily_unavailable",
            "error_description": "The service is temporarily unavailable; retry later.",
        }
        response = jsonify(body)
        response.status_code = 503
        response.headers.update(headers)
        return response
    return error_page("service_unavailable", 503, headers=headers, stored=False)


def _wants_json() -> bool:
    accepted = request.accept_mimetypes
    return accepted.best_match(["text/html", "application/json"]) == "application/json" and (
        accepted["application/json"] > accepted["text/html"]
    )


def _record_rate_limited(exc: HTTPException) -> None:

    domain, _failed = _request_domain()
    try:
        record_event(
            "rate_limited",
            tenant=domain.tenant if domain is not None else None,
            data={"path": request.path, "limit": str(getattr(exc, "limit", "") or "")},
        )
    except Exception:
        log.exception("could not record a rate_limited event")
