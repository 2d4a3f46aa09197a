"""Forms of the hosted login pages (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

import typing as t

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from markupsafe import escape
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.widgets import HiddenInput
from wtforms.widgets import PasswordInput
from wtforms.widgets import TextInput
from wtforms.widgets.core import clean_key

from app.accounts.forms import password_not_too_long

IDENTIFIER_MAX_LENGTH = 320
"""An email address is at most 320 characters (RFC 3696 errata); usernames are shorter."""


def html_params(**attributes: t.Any) -> Markup:
    """WTForms' ``html_params``, the same output (sorted, ``True`` bare, ``False`` left
    out, values escaped) without the ``Markup.format`` per attribute that made it a tenth
    of a sign-in page's rendering."""
    params = []
    for key, value in sorted(attributes.items()):
        if value is True:
            params.append(clean_key(key))
        elif value is not False:
            params.append(f'{clean_key(key)}="{escape(value)}"')
    return Markup(" ".join(params))


FAST_INPUTS = (TextInput, PasswordInput, HiddenInput)
"""Widgets :func:`render_input` draws itself (exactly these classes: a subclass may draw
differently)."""


def render_input(widget: t.Any, field: t.Any, attributes: dict[str, t.Any]) -> Markup:
    """``<input>`` of ``field`` as WTForms' ``Input`` widget draws it, through
    :func:`html_params`."""
    attributes.setdefault("id", field.id)
    attributes.setdefault("type", widget.input_type)
    if isinstance(widget, PasswordInput) and widget.hide_value:
        attributes["value"] = ""
    elif "value" not in attributes:
        attributes["value"] = field._value()
    flags = vars(getattr(field, "flags", None) or {})
    for key in widget.validation_attrs:
        if key in flags and key not in attributes:
            value = flags[key]
            attributes[key] = value() if callable(value) else value
    return Markup(f"<input {html_params(name=field.name, **attributes)}>")


class PageForm(FlaskForm):  # type: ignore[misc]
    """A form of the hosted pages: text, password and hidden inputs (the CSRF token's
    too) are drawn by :func:`render_input`; other widgets by WTForms."""

    class Meta:
        def render_field(self, field: t.Any, render_kw: dict[str, t.Any]) -> Markup:
            own = getattr(field, "render_kw", None) or {}
            attributes = {clean_key(k): v for k, v in (*own.items(), *render_kw.items())}
            widget = field.widget
            if type(widget) in FAST_INPUTS and getattr(field, "_datalist", None) is None:
                return render_input(widget, field, attributes)
            return t.cast(Markup, widget(field, **attributes))


class IdentifierForm(PageForm):
    """Page 1: who is signing in."""

    identifier = StringField(
        _l("Email or username"),
        validators=[
            DataRequired(message=_l("Enter your email address or username.")),
            Length(
                max=IDENTIFIER_MAX_LENGTH,
                message=_l("Use at most %(max)d characters."),
            ),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


class PasswordForm(PageForm):
    """Page 2: the password of the identifier chosen on page 1."""

    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(message=_l("Enter your password.")),
            password_not_too_long,
        ],
    )


class LogoutForm(PageForm):
    """Sign-out confirmation: only the CSRF token (a GET never signs anyone out)."""
