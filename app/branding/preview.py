"""Theme preview for designers: every hosted page and email of a theme, with fake data.

``/_themes/`` lists the themes, pages and languages; ``/_themes/<theme>/<page>?lang=ar``
renders one page (``login/identifier``, ``errors/error``...) as the theme shows it. Pages
are found in the template folders (core and themes), so a new page appears without any
change here. Only with ``FOYER_THEME_DEVELOPMENT=1`` or Flask debug mode: elsewhere these
URLs do not exist (404).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from types import SimpleNamespace

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask_babel import format_datetime
from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from jinja2 import ChainableUndefined
from jinja2 import Environment
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.branding.loader import ThemedCache
from app.branding.pages import page_subject
from app.branding.pages import show_page
from app.branding.themes import ThemeRegistry
from app.errors import ERRORS
from app.i18n import SUPPORTED_LOCALES
from app.i18n import page_languages
from app.orgs.models import Organization

bp = Blueprint("theme_preview", __name__, url_prefix="/_themes")

SKIPPED = ("layout.html", "macros/", "themes/", "mail/layout", "api/")
"""Templates that are building blocks, not pages (also any ``*/macros.html``), and the
management API's reference, a developers' page rendered from its document, not themed."""
PASSWORD_WORDS = ("password", "secret")


def enabled(app: Flask) -> bool:
    return bool(app.debug or app.extensions["foyer.settings"].theme_development)


def template_names() -> tuple[list[str], list[str]]:
    """(pages, emails): the templates a theme can restyle, from the template folders."""
    names = current_app.jinja_loader.list_templates()  # type: ignore[union-attr]
    pages: list[str] = []
    emails: list[str] = []
    for name in names:
        if (
            not name.endswith(".html")
            or name.startswith(SKIPPED)
            or name in SKIPPED
            or name.endswith("/macros.html")
            or name.rpartition("/")[2].upper().startswith("README")
        ):
            continue
        (emails if name.startswith("mail/") else pages).append(name.removesuffix(".html"))
    return pages, emails


class FakeField:
    """Stands in for a WTForms field: renders a labelled input named after the field."""

    def __init__(self, name: str) -> None:
        self.name = self.id = name
        self.errors: list[str] = []
        self.data = ""
        self.type = "StringField"
        self.description = ""
        self.flags = SimpleNamespace(required=True)

    @property
    def label(self) -> t.Callable[..., Markup]:
        text = known_labels().get(self.name) or self.name.replace("_", " ").capitalize()

        def render(text_: str | None = None, **attrs: t.Any) -> Markup:
            return Markup('<label for="{}"{}>{}</label>').format(
                self.id, _attrs(attrs), text_ or text
            )

        render.text = text  # type: ignore[attr-defined]
        return render

    def __call__(self, **attrs: t.Any) -> Markup:
        kind = (
            "password"
            if any(w in self.name for w in PASSWORD_WORDS)
            else ("email" if "email" in self.name else "text")
        )
        attrs.pop("autofocus", None)  # several previews on one screen: no focus stealing
        return Markup('<input id="{}" name="{}" type="{}"{}>').format(
            self.id, self.name, kind, _attrs(attrs)
        )

    def __str__(self) -> str:
        return str(self())

    def __html__(self) -> str:
        return str(self())


HOSTED_PAGE_MODULES = ("app.login.", "app.accounts.", "app.orgs.")


def known_labels() -> dict[str, t.Any]:
    """Field labels of the app's real forms by field name (translated), so a preview reads
    like the page: "Email or username", not "Identifier"."""

    forms: list[type[FlaskForm]] = []
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        forms.append(form)
    # the sign-in and account pages' forms first: a support tool's field of the same name
    # ("identifier" of the discovery explainer) must not relabel the sign-in page
    forms.sort(key=lambda form: not form.__module__.startswith(HOSTED_PAGE_MODULES))
    labels: dict[str, t.Any] = {}
    for form in forms:
        for name, unbound in vars(form).items():
            if not hasattr(unbound, "field_class"):  # not a field
                continue
            label = unbound.kwargs.get("label") or (unbound.args[0] if unbound.args else None)
            if label:
                labels.setdefault(name, label)
    return labels


class FakeForm:
    """Any attribute is a :class:`FakeField`; enough for the core form macros."""

    errors: dict[str, list[str]] = {}

    def __getattr__(self, name: str) -> FakeField:
        if name.startswith("__"):
            raise AttributeError(name)
        field = FakeField(name)
        setattr(self, name, field)
        return field

    @property
    def csrf_token(self) -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="preview">')

    def hidden_tag(self) -> Markup:
        return self.csrf_token

    def __iter__(self) -> t.Iterator[FakeField]:
        return iter(())


def _attrs(attrs: dict[str, t.Any]) -> Markup:
    parts = []
    for key, value in attrs.items():
        key = key.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(Markup(" {}").format(key))
        elif value not in (None, False):
            parts.append(Markup(' {}="{}"').format(key, value))
    return Markup("").join(parts)


def fake_context(page: str) -> dict[str, t.Any]:
    """Plausible values for the context every core template documents."""

    code = request.args.get("code", "login_expired")
    kind = ERRORS.get(code) or ERRORS["login_expired"]
    organization = page_subject().organization
    return {
        "form": FakeForm(),
        "errors": [],
        "tx": SimpleNamespace(id="preview", client_id=None, completed=False),
        "client": SimpleNamespace(name=_l("Example application"), client_id="preview"),
        "organization": organization,
        "tenant": None,
        "identifier": "alex@example.com",
        "user": SimpleNamespace(name="Alex Example", email="alex@example.com"),
        "has_password": True,  # the account page's password link
        "recipient": "alex@example.com",
        "error_code": code,
        "error_title": kind.title,
        "error_message": kind.message,
        "error_next_step": kind.next_step,
        "error_detail": None,
        "reference": "0190c3a2-preview",
        "link": "https://login.example.com/preview",
        "base_url": "https://login.example.com",
        "minutes": 30,  # link lifetimes of the emails (plural messages need numbers)
        "hours": 24,
        "days": 7,
        "sessions": [fake_session(True, "Firefox", "Linux"), fake_session(False, "Safari", "iOS")],
        "mails": [fake_mail("sent"), fake_mail("held")],  # the development mailbox
        "mail": fake_mail("sent"),
        "preview": True,
        # the sign-in page's buttons: a company IdP and the social presets (with logos)
        "upstream_connections": [
            SimpleNamespace(name=name, strategy=strategy, display_name=label)
            for name, strategy, label in (
                ("acme-sso", "oidc", "Acme SSO"),
                ("google", "google", "Google"),
                ("microsoft", "microsoft", "Microsoft"),
                ("github", "github", "GitHub"),
            )
        ],
        # the page that forwards a SAML message with a form post
        "action": "https://idp.example.com/sso",
        "fields": {"SAMLRequest": "PHNhbWxwOkF1dGhuUmVxdWVzdC8+", "RelayState": "preview"},
        "to_idp": True,
    }


def fake_mail(status: str) -> dict[str, t.Any]:
    """An email of the development mailbox (``mailbox/inbox``, ``mailbox/message``)."""
    return {
        "id": f"preview-{status}",
        "to": "alex@example.com",
        "subject": _l("Reset your password"),
        "status": status,
        "when": format_datetime(dt.datetime.now(dt.UTC), "short"),
        "sender": "Example <no-reply@example.com>",
        "reply_to": None,
        "text": _l("Hello Alex, open this link to choose a new password."),
        "has_html": False,
    }


def fake_session(current: bool, browser: str, system: str) -> SimpleNamespace:
    """A row of the account's list of sessions (``account/sessions``)."""
    now = dt.datetime.now(dt.UTC)
    return SimpleNamespace(
        id=f"preview-{browser.lower()}",
        browser=_l("%(browser)s on %(system)s", browser=browser, system=system),
        ip="192.0.2.10" if current else "198.51.100.7",
        signed_in=format_datetime(now - dt.timedelta(days=2), "medium"),
        last_active=format_timedelta(dt.timedelta(minutes=-3), add_direction=True),
        current=current,
    )


def _setup(theme: str) -> None:
    """Make this request look like a page of a fake organization using ``theme``."""

    if not enabled(current_app):
        abort(404)
    themes: ThemeRegistry = current_app.extensions["foyer.themes"]
    if theme not in themes:
        abort(404)
    show_page(
        Organization(
            name="example", display_name=str(_l("Example Corporation")), theme=theme, branding={}
        ),
        theme_name=theme,
    )
    page_languages().candidates = [request.args.get("lang")]


@bp.route("/")
def index() -> str:
    if not enabled(current_app):
        abort(404)
    themes: ThemeRegistry = current_app.extensions["foyer.themes"]
    pages, emails = template_names()
    return render_template(
        "themes/preview.html",
        themes=list(themes),
        pages=pages,
        emails=emails,
        locales=SUPPORTED_LOCALES,
    )


@bp.route("/<theme>/<path:page>")
def page(theme: str, page: str) -> Response:
    _setup(theme)
    pages, emails = template_names()
    if page not in pages and page not in emails:
        abort(404)
    env = preview_environment(current_app)
    context = fake_context(page)
    current_app.update_template_context(context)
    if page in emails and request.args.get("part") == "text":
        # the plain-text part of the email, as sent
        text = env.get_template(f"{page}.txt").render(context)
        return Response(text, mimetype="text/plain")
    template = env.get_template(f"{page}.html")
    body = with_reload_error(template.render(context))
    if page in emails:
        # emails are full documents with their own styles: shown as they are sent
        return Response(
            body,
            mimetype="text/html",
            headers={
                "Content-Security-Policy": "default-src 'none'; img-src * data:; "
                "style-src 'unsafe-inline'"
            },
        )
    return Response(body, mimetype="text/html")


def with_reload_error(body: str) -> str:
    """The page with the last theme reload's error over it: while a theme file is broken,
    the preview keeps showing the previous version, and must say so."""
    error = current_app.extensions.get("foyer.theme_reload_error")
    if not error:
        return body
    overlay = Markup(
        '<div class="preview-error" id="theme-error" role="alert"><strong>{}</strong>'
        '<pre dir="ltr">{}</pre></div>'
    ).format(_l("This theme has a problem; the preview shows its last working version."), error)
    head, sep, rest = body.partition("<body")
    if not sep:
        return str(overlay) + body
    tag_end = rest.index(">") + 1
    return head + sep + rest[:tag_end] + str(overlay) + rest[tag_end:]


def preview_environment(app: Flask) -> Environment:
    """The preview's Jinja environment, made once per app.

    Missing context values render as nothing (``ChainableUndefined``). Compiled templates
    are kept per theme, as the pages' own are (:class:`~app.branding.loader.ThemedCache`);
    compiling every page, layout and macro file again for each preview made a page take
    a quarter of a second. A file a designer edits is still picked up (``auto_reload``).
    """

    env = app.extensions.get("foyer.preview_env")
    if env is None:
        env = app.jinja_env.overlay(undefined=ChainableUndefined, cache_size=0, auto_reload=True)
        env.cache = ThemedCache(400)  # type: ignore[assignment]
        app.extensions["foyer.preview_env"] = env
    return t.cast(Environment, env)


def init_preview(app: Flask) -> None:
    app.register_blueprint(bp)
