"""Forms of the account pages (Flask-WTF: every form carries a CSRF token).

Field names are the inputs' ids, a stable API for themes and end-to-end tests:
``email``, ``name``, ``password``, ``new_password``, ``current_password``, ``code``.
"""

from __future__ import annotations

import re
import typing as t

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from app.accounts.services import clean_email

EMAIL_MAX_LENGTH = 320
NAME_MAX_LENGTH = 120
CODE_MAX_LENGTH = 32
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _strip(value: t.Any) -> t.Any:
    return value.strip() if isinstance(value, str) else value


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _as_address(value: t.Any) -> t.Any:
    """The address as it is stored (:func:`clean_email`); left as typed when it is not one
    (``looks_like_email`` then says so)."""
    if not isinstance(value, str):
        return value
    try:
        return clean_email(value)
    except ValueError:
        return value.strip()


def looks_like_email(form: FlaskForm, field: t.Any) -> None:
    if not field.data:
        return
    try:
        clean_email(field.data)
    except ValueError:
        shaped = False
    else:
        shaped = bool(EMAIL_SHAPE.match(field.data)) and not CONTROL_CHARACTERS.search(field.data)
    if not shaped:
        raise ValidationError(_l("Enter an email address like name@example.com."))


def one_line(form: FlaskForm, field: t.Any) -> None:
    """Names are one line of text: no control characters (they also break databases)."""
    if field.data and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError(_l("Use letters, digits, spaces and punctuation only."))


def password_not_too_long(form: FlaskForm, field: t.Any) -> None:
    """Refuse over-long passwords before anything hashes them (hashing cost is per byte)."""
    limit = current_app.extensions["foyer.settings"].password_max_length
    if field.data and len(field.data) > limit:
        raise ValidationError(
            _l("Passwords are at most %(n)d characters long. Check what you typed.", n=limit)
        )


def _email_field() -> StringField:
    return StringField(
        _l("Email address"),
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
            looks_like_email,
        ],
        filters=[_as_address],
    )


def _name_field() -> StringField:
    """An optional full name, on one line."""
    return StringField(
        _l("Full name"),
        validators=[
            Optional(),
            Length(max=NAME_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
            one_line,
        ],
        filters=[_strip],
    )


def _new_password_field(label: t.Any = None) -> PasswordField:
    return PasswordField(
        label or _l("New password"),
        validators=[InputRequired(message=_l("Choose a password.")), password_not_too_long],
    )


def _current_password_field() -> PasswordField:
    return PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(message=_l("Enter your current password.")),
            password_not_too_long,
        ],
    )


class EmailForm(FlaskForm):  # type: ignore[misc]
    """Reset request and "send the verification email again": an email address."""

    email = _email_field()


class ResetPasswordForm(FlaskForm):  # type: ignore[misc]
    """The page a reset link opens: the token (hidden) and the new password."""

    token = HiddenField()
    new_password = _new_password_field()


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    """A signed-in user changes their password (the current one is required)."""

    current_password = _current_password_field()
    new_password = _new_password_field()
    sign_out_others = BooleanField(
        _l("Sign out of every other browser and application"), default=True
    )


class SignupForm(FlaskForm):  # type: ignore[misc]
    """Create an account: email, name (optional) and password."""

    email = _email_field()
    name = _name_field()
    password = _new_password_field(_l("Password"))


class TokenForm(FlaskForm):  # type: ignore[misc]
    """A button confirming what a link asked (verify an email): the token travels hidden,
    so a mail scanner that only follows links never uses it."""

    token = HiddenField()


class CodeForm(FlaskForm):  # type: ignore[misc]
    """A one-time code: from an authenticator app (6 digits), a recovery code, or the code
    emailed to confirm a sign-up (8 digits)."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(message=_l("Enter the code.")),
            Length(max=CODE_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
        filters=[_strip],
    )


class EnrollTotpCodeForm(FlaskForm):  # type: ignore[misc]
    """Confirm a new authenticator with a code from it (at a sign-in that requires it)."""

    code = StringField(
        _l("Code from the app"),
        validators=[
            DataRequired(message=_l("Enter the 6-digit code the app shows.")),
            Length(max=CODE_MAX_LENGTH, message=_l("Use at most %(max)d characters.")),
        ],
        filters=[_strip],
    )


class EnrollTotpForm(EnrollTotpCodeForm):
    """Confirm a new authenticator from the account pages: a code and the password."""

    current_password = _current_password_field()


class PasswordConfirmForm(FlaskForm):  # type: ignore[misc]
    """A sensitive change (turning off two-step verification) asks the password again."""

    current_password = _current_password_field()


class AcceptInvitationForm(FlaskForm):  # type: ignore[misc]
    """Accept an invitation as a new user: a name and a password."""

    token = HiddenField()
    name = _name_field()
    new_password = _new_password_field(_l("Choose a password"))


class TokenAndPasswordForm(FlaskForm):  # type: ignore[misc]
    """A link that the account's password must back: accepting an invitation as an
    existing user, confirming an address from a browser not signed in to the account."""

    token = HiddenField()
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(message=_l("Enter your password.")), password_not_too_long],
    )


class ConsentForm(FlaskForm):  # type: ignore[misc]
    """Allow or deny an application: only the CSRF token; the button pressed decides."""
