"""The hosted pages' inputs are drawn by app.login.forms (faster), exactly as WTForms would."""

from __future__ import annotations

import pytest
from wtforms import Form
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from app.login.forms import PageForm
from app.login.forms import html_params


class Plain(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=20)])
    secret = PasswordField("Secret", render_kw={"class_": "own"})
    hidden = HiddenField()


class Fast(PageForm):
    class Meta:
        csrf = False

    name = StringField("Name", validators=[DataRequired(), Length(max=20)])
    secret = PasswordField("Secret", render_kw={"class_": "own"})
    hidden = HiddenField()


ATTRIBUTES = [
    {},
    {"class_": "field__input", "autofocus": True, "spellcheck": "false", "disabled": False},
    {"aria_describedby": "name-hint name-error", "aria_invalid": "true", "data_x": 'a"<b>&'},
    {"value": "<script>", "required": False, "maxlength": 3},
]


@pytest.mark.parametrize("attributes", ATTRIBUTES)
@pytest.mark.parametrize("name", ["name", "secret", "hidden"])
def test_inputs_are_drawn_as_wtforms_draws_them(foyer_app, name, attributes):
    data = {"name": 'Zoë "<x>"', "secret": "s3cret", "hidden": "&h"}
    with foyer_app.test_request_context():
        plain, fast = Plain(data=data), Fast(data=data)
        assert str(fast[name](**attributes)) == str(plain[name](**attributes))


def test_html_params_matches_wtforms():
    from wtforms.widgets.core import html_params as wtforms_html_params

    for attributes in ATTRIBUTES:
        assert str(html_params(**attributes)) == str(wtforms_html_params(**attributes))
