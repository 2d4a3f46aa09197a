"""Forms of the hosted login pages (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length

from app.accounts.forms import password_not_too_long

IDENTIFIER_MAX_LENGTH = 320
"""An email address is at most 320 characters (RFC 3696 errata); usernames are shorter."""


class IdentifierForm(FlaskForm):  # type: ignore[misc]
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


class PasswordForm(FlaskForm):  # type: ignore[misc]
    """Page 2: the password of the identifier chosen on page 1."""

    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(message=_l("Enter your password.")),
            password_not_too_long,
        ],
    )


class LogoutForm(FlaskForm):  # type: ignore[misc]
    """Sign-out confirmation: only the CSRF token (a GET never signs anyone out)."""
