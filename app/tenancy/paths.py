"""Organization paths: ``/o/<name>/...`` serves everything under the organization's name.

:class:`OrganizationPaths` (WSGI middleware) moves the ``/o/<name>`` prefix from
``PATH_INFO`` to ``SCRIPT_NAME``, the way an application mounted under a prefix is served.
Every route then works under the prefix unchanged, and every URL Foyer builds
(``url_for``: links, form actions, redirects, discovery endpoints) keeps it, so a flow that
starts on the path stays on it.

The path is part of the issuer: ``https://login.example.com/o/acme`` is an issuer of its
own, with its discovery document at ``/o/acme/.well-known/openid-configuration``, exactly
as a vanity host ``https://acme.login.example.com`` is. Both are the tenant's issuers with
the tenant's keys: an application validates tokens against the issuer it was configured
with, whichever form that is. Only organization names (slugs) are accepted in paths, so
one organization has one path issuer.
"""

from __future__ import annotations

import re
import typing as t

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask.globals import request_ctx
from werkzeug.wrappers import Response

from app.errors import error_page
from app.orgs.privacy import TooManyGuesses
from app.orgs.privacy import guarded_lookup
from app.orgs.services import find_organization_by_name
from app.tenancy.resolve import current_domain
from app.tenancy.resolve import current_tenant

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

    from app.orgs.models import Organization

PATH = re.compile(r"^/o/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(/.*)?$")
ENVIRON_KEY = "foyer.organization_path"


class OrganizationPaths:
    """Serve ``/o/<name>/rest`` as ``rest`` with ``SCRIPT_NAME`` ending in ``/o/<name>``."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
        match = PATH.match(environ.get("PATH_INFO", ""))
        if match:
            name = match.group(1)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + f"/o/{name}"
            environ["PATH_INFO"] = match.group(2) or "/"
            environ[ENVIRON_KEY] = name
        return self.app(environ, start_response)


def path_organization_name() -> str | None:
    """The organization name of this request's ``/o/<name>/`` path, if any."""
    return t.cast("str | None", request.environ.get(ENVIRON_KEY))


def path_organization() -> Organization | None:
    """The organization of this request's path (None without a path, or for an unknown name)."""
    name = path_organization_name()
    if name is None:
        return None
    if "path_organization" not in g:
        g.path_organization = find_organization_by_name(current_tenant(), name)
    return t.cast("Organization | None", g.path_organization)


def vanity_organization() -> Organization | None:
    """The organization preselected by a vanity hostname or an ``/o/<name>/`` path, if any
    (:func:`check_organization_path` refuses a path contradicting the host before any view
    runs)."""
    return current_domain().organization or path_organization()


def check_organization_path() -> Response | None:
    """Before every request: an unknown name, or one contradicting the vanity host, gets
    the branded 404 page (nothing under it exists); an address that guessed too many names
    gets the 429 page, for known and unknown names alike (:mod:`app.orgs.privacy`)."""
    if path_organization_name() is None:
        return None
    try:
        organization = guarded_lookup(current_tenant(), path_organization)
    except TooManyGuesses as refused:
        _serve_from_root()  # the page's own links (styles, languages) must exist
        return refused.page()
    host_organization = current_domain().organization
    if organization is None or (
        host_organization is not None and host_organization.id != organization.id
    ):
        _serve_from_root()  # the page's own links (styles, languages) must exist
        return error_page("unknown_organization", 404)
    return None


def _serve_from_root() -> None:
    """Build this request's URLs without the ``/o/<name>`` prefix."""
    name = path_organization_name()
    root = request.environ.get("SCRIPT_NAME", "").removesuffix(f"/o/{name}")
    request.environ["SCRIPT_NAME"] = root
    request.root_path = root
    request_ctx.url_adapter = current_app.create_url_adapter(request)


def init_organization_paths(app: Flask) -> None:
    app.wsgi_app = OrganizationPaths(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(check_organization_path)
