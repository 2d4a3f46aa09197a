"""Assets like a CDN: bundled, content-hashed URLs, immutable caching, a buildable layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.branding.assets import AssetIndex
from app.branding.cli import register_commands
from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import load_registry
from app.cli import AppContext
from app.cli import cli
from app.db import session
from tests.branding.conftest import write_theme

HASHED = re.compile(r'(?:href|src)="(/assets/[0-9a-f]{16}/[^"]+)"')


@pytest.fixture
def themes_dir(tmp_path) -> Path:
    root = tmp_path / "themes"
    write_theme(
        root,
        "pictured",
        """
        label = "Pictured"
        styles = ["css/site.css"]
        logo = "img/logo.svg"
    """,
        {
            "static/css/site.css": """
            /* a comment the minifier drops */
            .brand { background: url(../img/mark.svg) no-repeat; }
            .card  { background-image: url("../img/inherited-from-parent.svg"); }
            .x { background: url(data:image/png;base64,AAAA); }
        """,
            "static/img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "static/img/mark.svg": "<svg xmlns='http://www.w3.org/2000/svg' id='mark'/>",
        },
    )
    write_theme(
        root,
        "child",
        """
        label = "Child"
        parent = "pictured"
    """,
        {"static/img/inherited-from-parent.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>"},
    )
    return root


@pytest.fixture
def foyer_config(foyer_config, themes_dir):
    return {**foyer_config, "themes_dir": str(themes_dir)}


def themed_page(client, tenant, theme: str) -> str:
    tenant.settings = {"theme": theme}
    session.commit()
    return client.get("/login", follow_redirects=True).get_data(as_text=True)


def test_bundle_is_minified_and_points_at_hashed_files(client, tenant):
    page = themed_page(client, tenant, "child")
    css_url = next(u for u in HASHED.findall(page) if u.endswith("/child.css"))
    css = client.get(css_url).get_data(as_text=True)
    assert "a comment the minifier drops" not in css
    mark = re.search(r'\.brand\{background:url\("\.\./([0-9a-f]{16}/mark\.svg)"\)', css)
    assert mark, css[-400:]
    # the relative URL resolves next to the bundle, locally and on a CDN
    assert client.get(f"/assets/{mark.group(1)}").data.startswith(b"<svg")
    assert re.search(r'url\("\.\./[0-9a-f]{16}/inherited-from-parent\.svg"\)', css)
    assert "url(data:image/png;base64,AAAA)" in css
    logo = re.search(r'id="brand-logo" src="(/assets/[0-9a-f]{16}/logo\.svg)"', page)
    assert logo and client.get(logo.group(1)).status_code == 200


def test_every_asset_on_a_page_is_cached_for_good(client, tenant):
    page = themed_page(client, tenant, "pictured")
    urls = HASHED.findall(page)
    assert len(urls) >= 2
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert answer.headers["ETag"]
    assert client.get("/assets/0123456789abcdef/pictured.css").status_code == 404


def test_hashed_url_changes_when_the_content_changes(themes_dir):
    before = AssetIndex(load_registry([BUILTIN_THEMES_DIR, themes_dir]))
    css = themes_dir / "pictured" / "static" / "css" / "site.css"
    css.write_text(css.read_text() + "\n.card { color: #123456; }\n")
    after = AssetIndex(load_registry([BUILTIN_THEMES_DIR, themes_dir]))
    assert before.bundles["pictured"].css != after.bundles["pictured"].css
    assert before.bundles["child"].css != after.bundles["child"].css  # its chain changed
    assert before.bundles["default"].css == after.bundles["default"].css
    # an unchanged file keeps its URL
    assert before.static_key("pictured", "img/logo.svg") == after.static_key(
        "pictured", "img/logo.svg"
    )


def test_theme_edits_show_on_reload_in_development(foyer_app, client, tenant, themes_dir):
    foyer_app.extensions["foyer.settings"].theme_development = True
    try:
        first = HASHED.findall(themed_page(client, tenant, "pictured"))
        css = themes_dir / "pictured" / "static" / "css" / "site.css"
        css.write_text(".card { color: #abcdef; }\n")
        again = client.get("/login", follow_redirects=True).get_data(as_text=True)
        css_url = next(u for u in HASHED.findall(again) if u.endswith("/pictured.css"))
        assert css_url not in first
        assert "#abcdef" in client.get(css_url).get_data(as_text=True)
    finally:
        foyer_app.extensions["foyer.settings"].theme_development = False


def test_pages_load_assets_from_the_cdn_when_configured(foyer_app, client, tenant):
    settings = foyer_app.extensions["foyer.settings"]
    settings.asset_base_url = "https://cdn.example.net/foyer/"
    try:
        page = themed_page(client, tenant, "pictured")
        assert re.search(r'href="https://cdn\.example\.net/foyer/[0-9a-f]{16}/pictured\.css"', page)
        assert re.search(r'src="https://cdn\.example\.net/foyer/[0-9a-f]{16}/logo\.svg"', page)
        assert not HASHED.search(page)
    finally:
        settings.asset_base_url = ""


def test_csp_allows_the_cdn_origin(foyer_config):
    from app import create_app

    app = create_app({**foyer_config, "asset_base_url": "https://cdn.example.net"})
    try:
        with app.app_context():
            from app.tenancy.services import create_tenant
            from app.testing import host_client

            create_tenant("cdn", "CDN", ["https://cdn-tenant.test"])
            session.commit()
            csp = (
                host_client(app, "cdn-tenant.test").get("/login").headers["Content-Security-Policy"]
            )
    finally:
        app.extensions["foyer.db"].dispose()
    for directive in ("style-src", "script-src", "img-src", "font-src"):
        assert re.search(rf"{directive} 'self' https://cdn\.example\.net", csp), directive


def test_build_writes_the_layout_foyer_serves(foyer_app, client, tenant, tmp_path):
    register_commands(cli)
    out = tmp_path / "cdn"
    result = CliRunner().invoke(cli, ["themes", "build", str(out)], obj=AppContext(foyer_app))
    assert result.exit_code == 0, result.output
    served = set()
    for theme in ("default", "pictured", "child", "ember", "nocturne", "harbor"):
        page = themed_page(client, tenant, theme)
        for url in HASHED.findall(page):
            served.add(url)
            body = client.get(url).data
            css_url_targets = re.findall(rb'url\("\.\./([0-9a-f]{16}/[^"]+)"\)', body)
            for target in css_url_targets:
                assert (out / target.decode()).read_bytes() == client.get(
                    "/assets/" + target.decode()
                ).data
            assert (out / url.removeprefix("/assets/")).read_bytes() == body, url
    assert len(served) > 10
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "manifest.json" in files
    assert all(re.fullmatch(r"[0-9a-f]{16}/[^/]+", f) for f in files - {"manifest.json"})


def test_bundle_without_minifier_still_works(monkeypatch, themes_dir):
    import app.branding.assets as assets

    monkeypatch.setattr(assets, "_minifier", lambda name: None)
    index = AssetIndex(load_registry([BUILTIN_THEMES_DIR, themes_dir]))
    css = index.assets[index.bundles["pictured"].css].read().decode()
    assert "a comment the minifier drops" in css and "--foyer-primary" in css
