"""Themes: the registry, the per-request loader chain, static files and brand colors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import ThemeError
from app.branding.themes import contrast_ratio
from app.branding.themes import load_registry
from app.branding.themes import readable_on
from app.db import session
from app.testing import host_client


def write_theme(root: Path, name: str, manifest: str, files: dict[str, str] | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "theme.toml").write_text(textwrap.dedent(manifest))
    for path, content in (files or {}).items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content))
    return folder


@pytest.fixture
def themes_dir(tmp_path) -> Path:
    root = tmp_path / "themes"
    write_theme(
        root,
        "corporate",
        """
        label = "Corporate"
        styles = ["css/corporate.css"]
        [colors]
        primary = "#0b5cad"
    """,
        {
            "static/css/corporate.css": ".card { border-radius: 0; }\n",
            "static/img/only-in-corporate.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "templates/login/identifier.html": """
            {% extends "core:login/identifier.html" %}
            {% block title %}Corporate sign-in{% endblock %}
        """,
        },
    )
    write_theme(
        root,
        "acme",
        """
        label = "Acme"
        parent = "corporate"
        styles = ["css/acme.css"]
        [colors]
        background = "#fafafa"
    """,
        {
            "static/css/acme.css": "body { letter-spacing: 0; }\n",
            "templates/layout.html": """
            {% extends "core:layout.html" %}
            {% block after_card %}<p id="acme-banner">Acme theme</p>{% endblock %}
        """,
        },
    )
    return root


@pytest.fixture
def foyer_config(foyer_config, themes_dir):
    return {**foyer_config, "themes_dir": str(themes_dir)}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_default_theme_is_the_root_of_every_chain(foyer_app):
    themes = foyer_app.extensions["foyer.themes"]
    assert [t.name for t in themes.chain("acme")] == ["acme", "corporate", "default"]
    assert [path for _theme, path in themes.styles("acme")] == [
        "css/foyer.css",
        "css/corporate.css",
        "css/acme.css",
    ]
    colors = themes.colors("acme")
    assert colors["primary"] == "#0b5cad" and colors["background"] == "#fafafa"
    assert colors["text"] == themes.colors("default")["text"]


def test_tenant_theme_setting_chooses_templates_and_styles(client, tenant, make_login_tx):
    tenant.settings = {"theme": "acme"}
    session.commit()
    page = text(client.get("/login", follow_redirects=True))
    assert "<title>Corporate sign-in · Acme Inc.</title>" in page  # parent's override
    assert '<p id="acme-banner">Acme theme</p>' in page  # own layout override
    assert 'id="login-identifier-form"' in page  # the core page underneath
    bundle = re.search(r'rel="stylesheet" href="(/assets/[0-9a-f]{16}/acme\.css)"', page)
    css = client.get(bundle.group(1)).get_data(as_text=True)
    # the chain's styles, parents first, so a child's rules win
    assert (
        css.index("--foyer-primary")
        < css.index(".card{border-radius:0}")
        < css.index("body{letter-spacing:0}")
    )


def test_two_tenants_with_two_themes_never_share_a_compiled_page(foyer_app, client, tenant):
    from app.tenancy.services import create_tenant

    tenant.settings = {"theme": "acme"}
    create_tenant("globex", "Globex", ["https://globex.test"])
    session.commit()
    other = host_client(foyer_app, "globex.test")
    for _ in range(2):
        assert "acme-banner" in text(client.get("/login", follow_redirects=True))
        plain = text(other.get("/login", follow_redirects=True))
        assert "acme-banner" not in plain
        assert "<title>Sign in · Globex</title>" in plain


def test_organization_theme_wins_over_the_tenant_theme(
    client, tenant, make_organization, make_login_tx
):
    tenant.settings = {"theme": "acme"}
    org = make_organization("globex", "Globex", theme="corporate")
    page = text(client.get(f"/login?tx={make_login_tx(organization=org)}"))
    assert "Corporate sign-in" in page
    assert "acme-banner" not in page


def test_missing_theme_falls_back_to_default(client, tenant):
    tenant.settings = {"theme": "removed-theme"}
    session.commit()
    page = client.get("/login", follow_redirects=True)
    assert page.status_code == 200
    assert "acme-banner" not in text(page)


def test_asset_route_falls_back_to_the_parent_and_refuses_traversal(client, tenant):
    own = client.get("/assets/acme/css/acme.css")
    assert own.status_code == 200 and own.mimetype == "text/css"
    assert client.get("/assets/acme/img/only-in-corporate.svg").status_code == 200
    inherited = client.get("/assets/acme/css/foyer.css")
    assert inherited.status_code == 200 and b"--foyer-primary" in inherited.data
    for bad in (
        "/assets/acme/../../theme.toml",
        "/assets/acme/%2e%2e/theme.toml",
        "/assets/default/..%2f..%2fapp%2fconfig.py",
        "/assets/nope/css/foyer.css",
        "/assets/default/css/missing.css",
    ):
        answer = client.get(bad)
        assert answer.status_code == 404, bad
        assert answer.mimetype in ("text/html", "text/plain")


def test_hashed_asset_urls_are_cached_for_good(client, tenant):
    page = text(client.get("/login", follow_redirects=True))
    href = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert re.fullmatch(r"/assets/[0-9a-f]{16}/default\.css", href)
    answer = client.get(href)
    assert answer.mimetype == "text/css"
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = client.get("/assets/default/css/foyer.css").headers["Cache-Control"]
    assert "immutable" not in plain and "max-age=300" in plain


def test_colors_stylesheet_accepts_only_known_keys_and_hex_values(client, tenant):
    good = client.get("/branding/colors.css?primary=0f766e&text=111")
    assert good.status_code == 200 and good.mimetype == "text/css"
    assert "--foyer-primary: #0f766e;" in text(good)
    assert "--foyer-on-primary: #ffffff;" in text(good)
    for bad in ("primary=red", "primary=0f766e;}body{x:y", "unknown=ffffff", "primary=%23fff"):
        assert client.get(f"/branding/colors.css?{bad}").status_code == 404, bad


@pytest.mark.parametrize(
    "color", ["#4338ca", "#0f766e", "#facc15", "#ffffff", "#000000", "#e11d48", "#777777"]
)
def test_text_on_brand_color_has_readable_contrast(color):
    assert contrast_ratio(color, readable_on(color)) >= 4.5


def test_default_theme_colors_meet_contrast_targets(foyer_app):
    colors = foyer_app.extensions["foyer.themes"].colors("default")
    assert contrast_ratio(colors["text"], colors["surface"]) >= 7
    assert contrast_ratio(colors["muted"], colors["surface"]) >= 4.5
    assert contrast_ratio(colors["muted"], colors["background"]) >= 4.5
    assert contrast_ratio(colors["primary"], colors["surface"]) >= 4.5
    assert contrast_ratio(colors["danger"], colors["surface"]) >= 4.5
    assert contrast_ratio(colors["border"], colors["surface"]) >= 3  # input outlines


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('parent = "missing"', "unknown parent theme 'missing'"),
        ("styles = ['css/nope.css']", "missing file static/css/nope.css"),
        ("styles = ['../../etc/passwd']", "relative path under static/"),
        ("[colors]\nprimary = 'red'", "colors.primary: 'red' is not a"),
        ("voice = 1", "unknown key in theme.toml: 'voice'"),
        ("fonts = 1", "fonts must be a table"),
        ("[fonts]\nbody = 'x;}body{display:none'", "fonts.body must be a CSS font stack"),
        ("[layout]\nstyle = 'grid'", "layout.style must be one of card, split"),
        ("[layout]\npanel_image = 'img/none.svg'", "missing file static/img/none.svg"),
        ("label = ", "cannot read theme.toml"),
    ],
)
def test_a_broken_theme_stops_start_up(tmp_path, foyer_config, manifest, message):
    root = tmp_path / "broken-themes"
    write_theme(root, "broken", manifest)
    with pytest.raises(ThemeError, match=re.escape(message)) as raised:
        create_app({**foyer_config, "themes_dir": str(root)})
    assert str(root / "broken" / "theme.toml") in str(raised.value)  # names the file


def test_parent_cycle_is_refused(tmp_path):
    root = tmp_path / "cycle"
    write_theme(root, "a", 'parent = "b"')
    write_theme(root, "b", 'parent = "a"')
    with pytest.raises(ThemeError, match="cycle"):
        load_registry([BUILTIN_THEMES_DIR, root])


def test_theme_name_cannot_be_taken_twice(tmp_path):
    root = tmp_path / "dupe"
    write_theme(root, "default", 'label = "Another default"')
    with pytest.raises(ThemeError, match="two themes named 'default'"):
        load_registry([BUILTIN_THEMES_DIR, root])


def test_plugin_theme_folders_are_loaded(tmp_path, foyer_config):
    from app import hookimpl

    root = tmp_path / "plugin-themes"
    write_theme(root, "shipped", 'label = "Shipped by a plugin"')

    class ShipsATheme:
        @hookimpl
        def extra_theme_dirs(self):
            return [root]

    app = create_app(foyer_config, plugins=[ShipsATheme()])
    assert "shipped" in app.extensions["foyer.themes"]
    app.extensions["foyer.db"].dispose()


def test_templates_render_outside_a_request(foyer_app):
    from flask import render_template_string

    html = render_template_string('{% extends "layout.html" %}{% block content %}x{% endblock %}')
    assert re.search(r'href="/assets/[0-9a-f]{16}/default\.css"', html)
    assert '<html lang="en" dir="ltr">' in html
