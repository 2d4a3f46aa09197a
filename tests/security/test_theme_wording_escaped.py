"""Theme wording (``.po`` files of themes) is text, not markup (SECURITY.md I-03).

Pages escape a theme's wording wherever it appears (``_()``, ``{% trans %}``, form labels
and error titles from lazy strings), keeping only the tags the core message itself has
(``<bdi>`` in "Sign in to <bdi>%(name)s</bdi>"); Python code (emails, flashed messages)
gets the wording as plain text; ``foyer themes check`` flags HTML in wording with
file:line.
"""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from markupsafe import escape

from app.branding.checks import check_folders
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.translations import wording_html
from app.db import session
from app.tenancy.resolve import current_domain
from tests.branding.conftest import write_theme

HOSTILE_PO = """\
msgid "Continue"
msgstr "<img src=x onerror=alert(1)>Next"

msgid "Sign in to <bdi>%(name)s</bdi>"
msgstr "<script>alert(2)</script>Log in to <bdi>%(name)s</bdi> <b>now</b>"

msgid "Email or username"
msgstr "<i>Email</i> &amp; name"

msgid "Page not found"
msgstr "<marquee>Lost</marquee>"
"""


@pytest.fixture
def themes_dir(tmp_path):
    root = tmp_path / "themes"
    write_theme(
        root,
        "hostile",
        'label = "Hostile"',
        {"translations/en/LC_MESSAGES/messages.po": HOSTILE_PO},
    )
    write_theme(
        root,
        "polite",
        'label = "Polite"',
        {
            "translations/en/LC_MESSAGES/messages.po": (
                'msgid "Sign in to <bdi>%(name)s</bdi>"\n'
                'msgstr "Welcome back to <bdi>%(name)s</bdi>"\n'
            )
        },
    )
    return root


@pytest.fixture
def foyer_config(foyer_config, themes_dir):
    return {**foyer_config, "themes_dir": str(themes_dir)}


@pytest.fixture
def hostile(tenant):
    tenant.settings = {"theme": "hostile"}
    session.commit()
    return tenant


def page(client, path: str = "/login?lang=en") -> str:
    return client.get(path, follow_redirects=True).get_data(as_text=True)


def test_wording_is_escaped_on_pages(client, hostile, organization):
    html = page(client, "/o/globex/login?lang=en")
    assert "<img" not in html and "<script>alert" not in html and "<i>Email" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;Next</button>" in html
    # {% trans %}: the core message's <bdi> is kept, any other tag escaped
    assert "&lt;script&gt;alert(2)&lt;/script&gt;Log in to <bdi>Globex</bdi>" in html
    assert "&lt;b&gt;now&lt;/b&gt;" in html
    assert "&lt;i&gt;Email&lt;/i&gt; &amp;amp; name" in html  # a form label (lazy string)


def test_error_page_titles_are_escaped(client, hostile):
    html = page(client, "/no-such-page")
    assert "<marquee>" not in html and "&lt;marquee&gt;Lost&lt;/marquee&gt;" in html


def test_the_core_message_markup_is_kept(client, tenant, organization):
    tenant.settings = {"theme": "polite"}
    session.commit()
    assert "Welcome back to <bdi>Globex</bdi>" in page(client, "/o/globex/login?lang=en")


def test_python_code_gets_plain_text(foyer_app, hostile):
    with foyer_app.test_request_context("/login", base_url="https://login.test"):
        current_domain()  # the request's tenant, whose theme rewords
        with force_locale("en"):
            wording = gettext("Continue")
            assert wording == "<img src=x onerror=alert(1)>Next"  # e.g. an email subject
            assert str(escape(wording)) == "&lt;img src=x onerror=alert(1)&gt;Next"
            assert str(escape(str(wording))) == "&lt;img src=x onerror=alert(1)&gt;Next"


def test_themes_check_flags_html_in_wording_with_file_and_line(themes_dir):
    problems = [str(p) for p in check_folders([BUILTIN_THEMES_DIR, themes_dir])]
    po = themes_dir / "hostile" / "translations/en/LC_MESSAGES/messages.po"
    flagged = [p for p in problems if p.startswith(f"{po}:")]
    assert [p.split(":")[1] for p in flagged] == ["2", "5", "8", "11"]
    assert "'Continue' holds HTML (<img src=x onerror=alert(1)>)" in flagged[0]
    assert "theme wording is plain text" in flagged[0]
    assert "(<script>, </script>, <b>, </b>)" in flagged[1]
    assert "only the core message's </bdi>, <bdi> is kept" in flagged[1]
    assert "&amp;" in flagged[2]
    polite = themes_dir / "polite"
    assert not [p for p in problems if str(polite) in p]


def test_the_shipped_themes_have_no_html_in_their_wording():
    assert not [p for p in check_folders([BUILTIN_THEMES_DIR]) if "holds HTML" in str(p)]


@settings(max_examples=200, deadline=None, database=None)
@given(
    text=st.text(alphabet="<>/&\"'= abdiscrptg", max_size=60),
    source=st.sampled_from(["Continue", "Sign in to <bdi>%(name)s</bdi>", "<strong>x</strong>"]),
)
def test_only_the_source_tags_survive(text, source):
    html = str(wording_html(text, source))
    allowed = set(re.findall(r"<[^<>]*>", source))
    assert set(re.findall(r"<[^<>]*>", html)) <= allowed
    assert html.count("<") == sum(html.count(tag) for tag in allowed)
