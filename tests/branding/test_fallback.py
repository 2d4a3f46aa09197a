"""A broken theme: what stops start-up, what falls back, and what `foyer themes check` says."""

from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner

from app import create_app
from app.branding.checks import check_folders
from app.branding.cli import register_commands
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import ThemeError
from app.branding.themes import load_registry
from app.cli import cli
from app.db import session
from app.testing import submit_form
from tests.branding.conftest import write_theme

BROKEN_PASSWORD_PAGE = """\
{% extends "core:login/password.html" %}
{% block title %}Broken{% endblock %}
{% block content %}
  {% if %}
{% endblock %}
"""


@pytest.fixture
def themes_dir(tmp_path):
    root = tmp_path / "themes"
    write_theme(
        root,
        "brand",
        """
        label = "Brand"
        [colors]
        primary = "#0b5cad"
    """,
        {
            "templates/login/password.html": """
            {% extends "core:login/password.html" %}
            {% block title %}Brand password{% endblock %}
        """,
        },
    )
    write_theme(
        root,
        "org",
        """
        label = "Org on Brand"
        parent = "brand"
    """,
        {"templates/login/password.html": BROKEN_PASSWORD_PAGE},
    )
    return root


@pytest.fixture
def foyer_config(foyer_config, themes_dir):
    return {**foyer_config, "themes_dir": str(themes_dir)}


def test_broken_template_is_logged_at_start_up(foyer_config, caplog):
    caplog.set_level(logging.ERROR, logger="app.branding")
    app = create_app(foyer_config)
    app.extensions["foyer.db"].dispose()
    assert any("org/templates/login/password.html:4" in r.getMessage() for r in caplog.records)


def test_password_page_falls_back_to_the_parent_theme(
    client, tenant, make_organization, make_login_tx, user
):
    org = make_organization("globex", "Globex", theme="org")
    tx = make_login_tx(organization=org)
    first = client.get(f"/login?tx={tx}")
    page = submit_form(client, first, "login-identifier-form", identifier=user.email)
    page = client.get(page.headers["Location"])
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<title>Brand password · Globex</title>" in body  # the parent's template
    assert 'id="login-password-form"' in body and 'id="password"' in body
    # and the broken theme keeps its brand: the chain's colors still apply
    bundle = re.search(r'href="(/assets/[0-9a-f]{16}/org\.css)"', body).group(1)
    assert "--foyer-primary:#0b5cad" in client.get(bundle).get_data(as_text=True)


def test_a_new_template_shows_on_reload_in_development(foyer_app, themes_dir):
    from app.tenancy.services import create_tenant
    from app.testing import host_client

    foyer_app.extensions["foyer.settings"].theme_development = True
    try:
        if True:
            tenant = create_tenant("dev", "Dev", ["https://dev.test"])
            tenant.settings = {"theme": "org"}
            session.commit()
            browser = host_client(foyer_app, "dev.test")
            first = browser.get("/login", follow_redirects=True)
            assert first.status_code == 200
            page = themes_dir / "org" / "templates" / "login" / "identifier.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                '{% extends "core:login/identifier.html" %}'
                "{% block title %}Edited live{% endblock %}"
            )
            again = browser.get(first.request.url)
            assert "<title>Edited live · Dev</title>" in again.get_data(as_text=True)
    finally:
        foyer_app.extensions["foyer.settings"].theme_development = False


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('parent = "missing"', "unknown parent theme 'missing'"),
        ('parent = "loop"', "parent cycle: broken -> loop -> broken"),
    ],
)
def test_unknown_parent_and_cycles_stop_start_up(tmp_path, foyer_config, manifest, message):
    root = tmp_path / "broken"
    write_theme(root, "broken", manifest)
    write_theme(root, "loop", 'parent = "broken"')
    with pytest.raises(ThemeError, match=message):
        create_app({**foyer_config, "themes_dir": str(root)})


def test_check_reports_every_problem_with_file_and_line(tmp_path):
    root = tmp_path / "themes"
    write_theme(
        root,
        "syntax",
        'label = "Syntax"',
        {
            "templates/login/password.html": BROKEN_PASSWORD_PAGE,
            "templates/login/identifier.html": '{% extends "core:login/nope.html" %}',
            "translations/fr/LC_MESSAGES/messages.po": (
                'msgid "Sign in"\nmsgstr "Entrer"\n\nmsgid "Sing in"\nmsgstr "Typo"\n'
            ),
        },
    )
    write_theme(root, "badkey", 'label = "x"\ncolour = "red"\n')
    write_theme(root, "orphan", 'label = "Orphan"\nparent = "gone"\n')
    problems = [str(p) for p in check_folders([BUILTIN_THEMES_DIR, root])]
    syntax = root / "syntax"
    assert (
        f"{root / 'badkey' / 'theme.toml'}:2: theme 'badkey': unknown key in theme.toml: "
        "'colour' (did you mean 'colors'?)" in problems[0]
    )
    assert any(
        p.startswith(f"{root / 'orphan' / 'theme.toml'}:2: theme 'orphan': unknown parent")
        for p in problems
    )
    assert any(p.startswith(f"{syntax / 'templates/login/password.html'}:4:") for p in problems)
    assert any("names the template 'core:login/nope.html'" in p for p in problems)
    assert any(
        p.startswith(f"{syntax / 'translations/fr/LC_MESSAGES/messages.po'}:4:")
        and "'Sing in' is not a Foyer message" in p
        for p in problems
    )
    assert not any("'Sign in'" in p for p in problems)


def test_foyer_themes_check_exits_1_naming_the_file(tmp_path, monkeypatch):
    root = tmp_path / "themes"
    write_theme(
        root, "syntax", 'label = "Syntax"', {"templates/login/password.html": BROKEN_PASSWORD_PAGE}
    )
    monkeypatch.setenv("FOYER_THEMES_DIR", str(root))
    monkeypatch.setenv("FOYER_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("FOYER_PLUGINS_DIR", str(tmp_path / "no-plugins"))
    register_commands(cli)
    result = CliRunner().invoke(cli, ["themes", "check"])
    assert result.exit_code == 1
    assert f"{root / 'syntax' / 'templates/login/password.html'}:4:" in result.output
    (root / "syntax" / "templates/login/password.html").unlink()
    fixed = CliRunner().invoke(cli, ["themes", "check"])
    assert fixed.exit_code == 0, fixed.output
    assert "themes are fine" in fixed.output


def test_shipped_themes_have_no_problem():
    assert [str(p) for p in check_folders([BUILTIN_THEMES_DIR])] == []
    load_registry([BUILTIN_THEMES_DIR])


def test_the_preview_shows_a_broken_theme_file_over_the_page(foyer_app, themes_dir):
    from app.testing import host_client

    foyer_app.extensions["foyer.settings"].theme_development = True
    try:
        preview = host_client(foyer_app, "127.0.0.1:5000", scheme="http")
        url = "/_themes/org/login/identifier"
        assert 'id="theme-error"' not in preview.get(url).get_data(as_text=True)
        manifest = themes_dir / "org" / "theme.toml"
        manifest.write_text('label = "Org on Brand"\nparent = "brnad"\n')
        broken = preview.get(url).get_data(as_text=True)
        assert 'id="theme-error" role="alert"' in broken
        assert "unknown parent theme &#39;brnad&#39; (did you mean &#39;brand&#39;?)" in broken
        manifest.write_text('label = "Org on Brand"\nparent = "brand"\n')
        assert 'id="theme-error"' not in preview.get(url).get_data(as_text=True)
    finally:
        foyer_app.extensions["foyer.settings"].theme_development = False
        foyer_app.extensions.pop("foyer.theme_reload_error", None)
