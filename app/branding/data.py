"""Branding data set by admins: validated when saved, cleaned again when shown.

Tenants (``settings.branding`` and ``settings.support_*``), applications
(``client.settings["branding"]``) and organizations (``organization.branding``) hold the
same fields. They are *data*: every value is checked here (colors are hex colors, links are
``https://`` URLs, emails are addresses, text is bounded and free of control and bidi
override characters) and escaped by the templates; nothing is ever pasted into CSS or
HTML as code. Config as code calls :func:`validate_branding` at apply time; pages call
:func:`clean_branding`, which drops what does not validate, so stored data never breaks a
page.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
import unicodedata
from urllib.parse import urlsplit

from app.branding.themes import COLOR
from app.branding.themes import COLOR_KEYS
from app.branding.themes import THEME_NAME

EMAIL = re.compile(r"^[^@\s<>\"'(),;:\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
MAX_URL = 2048
MAX_EMAIL = 320
MAX_NAME = 120
MAX_SENDER_NAME = 80
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Characters that reorder text around them: a display name could make "Acme" read as
another name, so they are refused (pages isolate names with ``<bdi>`` instead)."""

LINK_KEYS = ("support_url", "privacy_url", "terms_url")


def check_https_url(value: object) -> str:
    """A link or image shown on hosted pages: a plain ``https://`` URL."""
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    if len(value) > MAX_URL:
        raise ValueError(f"is longer than {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{value!r} contains spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{value!r} is not an https:// URL")
    if parts.username or parts.password:
        raise ValueError(f"{value!r} must not contain a user name or password")
    return value


def check_email(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if len(value) > MAX_EMAIL or not EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def check_color(value: object) -> str:
    if not isinstance(value, str) or not COLOR.match(value):
        raise ValueError(f"{value!r} is not a #rgb or #rrggbb color")
    return value.lower()


def check_text(value: object, max_length: int = MAX_NAME) -> str:
    """A display name: one line of at most ``max_length`` characters, no control or bidi
    override characters (it is escaped when shown, so ``<`` and ``&`` are harmless)."""
    if not isinstance(value, str):
        raise ValueError("must be a text value")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    for ch in value:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"contains the control character U+{ord(ch):04X}")
    return value


def check_sender_name(value: object) -> str:
    """The name on the From line of emails: a display name, without ``<>@"`` so it can
    never pass for an address ("IT <ceo@example.com>")."""
    value = check_text(value, MAX_SENDER_NAME)
    if any(ch in value for ch in '<>@"\\'):
        raise ValueError('must not contain < > @ " or \\')
    return value


def check_colors(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of color names to #rrggbb values")
    colors: dict[str, str] = {}
    for key, color in value.items():
        if key not in COLOR_KEYS:
            raise ValueError(f"unknown color {key!r} (known: {', '.join(sorted(COLOR_KEYS))})")
        try:
            colors[key] = check_color(color)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return colors


def check_theme_name(value: object) -> str:
    if not isinstance(value, str) or not THEME_NAME.match(value):
        raise ValueError(f"{value!r} is not a theme name")
    return value


FIELDS: dict[str, tuple[t.Callable[[object], t.Any], str]] = {
    "display_name": (
        check_text,
        "Name shown in the page header and headings (default: the display name).",
    ),
    "logo_url": (check_https_url, "Logo shown on the hosted pages (empty: the theme's logo)."),
    "colors": (check_colors, "Brand colors overriding the theme's."),
    "support_email": (check_email, "Support contact shown on error pages."),
    "support_url": (check_https_url, "Support page linked from error pages."),
    "privacy_url": (check_https_url, "Privacy policy linked in the page footer."),
    "terms_url": (check_https_url, "Terms of use linked in the page footer."),
    "email_sender_name": (
        check_sender_name,
        "Name on the From line of emails (default: the shown name).",
    ),
    "email_reply_to": (check_email, "Reply-To address of emails."),
}
"""Every branding field, its check and what it does."""

APPLICATION_FIELDS = {**FIELDS, "theme": (check_theme_name, "Theme of the application's pages.")}
"""An application's ``settings["branding"]`` may also choose a theme."""


@dataclasses.dataclass(frozen=True)
class BrandingProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def validate_branding(
    value: object,
    *,
    allow_theme: bool = False,
    installed_themes: t.Container[str] | None = None,
) -> tuple[dict[str, t.Any], list[BrandingProblem]]:
    """Check a branding mapping; returns the cleaned mapping and every problem.

    ``None`` and empty values mean "not set" and are dropped.

    :param allow_theme: accept ``theme`` (applications' branding).
    :param installed_themes: when given, ``theme`` must name one of them.
    """
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, [BrandingProblem("branding", "must be a mapping")]
    fields = APPLICATION_FIELDS if allow_theme else FIELDS
    clean: dict[str, t.Any] = {}
    problems: list[BrandingProblem] = []
    for key, item in value.items():
        if key not in fields:
            problems.append(
                BrandingProblem(str(key), f"unknown field (known: {', '.join(sorted(fields))})")
            )
            continue
        if item is None or item == "" or item == {}:
            continue
        check, _doc = fields[key]
        try:
            clean[key] = check(item)
        except ValueError as exc:
            problems.append(BrandingProblem(key, str(exc)))
            continue
        if key == "theme" and installed_themes is not None and item not in installed_themes:
            problems.append(BrandingProblem(key, f"no theme named {item!r} is installed"))
            del clean[key]
    return clean, problems


def clean_branding(value: object, *, allow_theme: bool = False) -> dict[str, t.Any]:
    """What of ``value`` is valid (for pages: stored data must never break a page).

    A colors mapping keeps its valid entries even when another entry is bad.
    """
    if not isinstance(value, dict):
        return {}
    clean, _problems = validate_branding(
        {k: v for k, v in value.items() if k != "colors"}, allow_theme=allow_theme
    )
    colors = value.get("colors")
    if isinstance(colors, dict):
        kept = {}
        for key, color in colors.items():
            try:
                kept.update(check_colors({key: color}))
            except ValueError:
                continue
        if kept:
            clean["colors"] = kept
    return clean


def safe_url(value: object) -> str | None:
    """``value`` if it is a plain ``https://`` URL, else None (for rendering)."""
    try:
        return check_https_url(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return None


def safe_email(value: object) -> str | None:
    """``value`` if it is an email address, else None (for rendering and mail headers)."""
    try:
        return check_email(value)
    except ValueError:
        return None
