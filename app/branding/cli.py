"""``foyer themes``: list, check, scaffold, build for a CDN, and preview themes.

``list`` and ``check`` read the theme folders without starting Foyer, so they work (and
say what is wrong) even when a broken theme keeps Foyer from starting.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from app.branding.themes import BUILTIN_THEMES_DIR
from app.branding.themes import DEFAULT_THEME
from app.branding.themes import THEME_NAME
from app.branding.themes import ThemeError
from app.branding.themes import scan_themes
from app.clikit import AppContext
from app.clikit import fail
from app.clikit import pass_app
from app.config import Settings
from app.hookspecs import hookimpl


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    """First, so that plugins can add to ``foyer themes``."""
    cli.add_command(themes)


def _folders(ctx: AppContext) -> list[Path]:
    """The theme folders Foyer would read: builtin, FOYER_THEMES_DIR, plugins' folders."""
    settings = Settings.load()
    folders = [BUILTIN_THEMES_DIR, Path(settings.themes_dir)]
    for batch in ctx.plugins.hook.extra_theme_dirs():
        folders.extend(Path(folder) for folder in batch or ())
    return folders


@click.group()
def themes() -> None:
    """Themes: list, check, new, build (for a CDN), preview."""


@themes.command("list")
@pass_app
def list_themes(ctx: AppContext) -> None:
    """Print every installed theme with its parent chain."""
    found, problems = scan_themes(_folders(ctx))
    for name in sorted(found):
        chain, current, seen = [], found.get(name), set()
        while current is not None and current.name not in seen:
            seen.add(current.name)
            chain.append(current.name)
            current = found.get(current.parent) if current.parent else None
        click.echo(f"{name:<20} {found[name].label:<28} {' -> '.join(chain)}")
        click.echo(f"{'':<20} {found[name].path}")
    if problems:
        click.echo(f"{len(problems)} problem(s): run `foyer themes check`", err=True)


@themes.command("check")
@pass_app
def check(ctx: AppContext) -> None:
    """Report every problem of every theme (file:line: message); exit 1 if any."""
    # CLI start-up time: checks pulls in webassets, Babel's catalog reader and Jinja's parser
    from app.branding.checks import check_folders

    problems = check_folders(_folders(ctx))
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("themes are fine")


THEME_TOML = """\
# {label}: a Foyer theme. Everything not set here is inherited from "{parent}".
# Reference: docs/themes.md. Check it with `foyer themes check`.
label = "{label}"
parent = "{parent}"

# Stylesheets under static/, added after the parent's (so yours win).
styles = ["css/theme.css"]

# Optional: a logo and a favicon under static/ (SVG or PNG).
# logo = "img/logo.svg"
# favicon = "img/favicon.svg"

# Optional: "card" (a centered card) or "split" (the card beside a brand panel).
# [layout]
# style = "split"
# panel_image = "img/panel.svg"

# Optional: font stacks (system fonts, or fonts shipped in static/fonts with @font-face).
# [fonts]
# body = "system-ui, sans-serif"
# heading = "Georgia, serif"
"""

THEME_CSS = """\
/* {label}: your styles, loaded after the parent theme's.
 *
 * The quickest way to restyle: change these custom properties. Organizations may still
 * override colors with their branding data. Colors set in theme.toml ([colors]) get
 * readable text on the primary color automatically; a --foyer-primary set here needs its
 * --foyer-on-primary too. `foyer themes check` checks the values and the contrast (text
 * 4.5:1 against its background, input outlines 3:1).
 */
:root {{
  --foyer-primary: #4338ca;        /* buttons, links, the monogram */
  --foyer-on-primary: #ffffff;     /* text on buttons: keep 4.5:1 against the primary */
  --foyer-primary-hover: #3730a3;  /* buttons under the pointer */
  --foyer-background: #f3f4f8;     /* the page behind the card */
  --foyer-surface: #ffffff;        /* the card */
  --foyer-text: #111827;
  --foyer-muted: #4b5563;          /* secondary text */
  --foyer-border: #6b7280;         /* input outlines: keep 3:1 against the card */
  --foyer-danger: #b42318;         /* error messages */
  --foyer-focus: #2563eb;          /* keyboard focus ring */
  --foyer-radius: 0.75rem;         /* card corners */
  --foyer-radius-small: 0.5rem;    /* inputs and buttons */
  --foyer-card-width: 27rem;
}}
"""

TEMPLATES_README = """\
Templates of the "{name}" theme.

    Put a file here with the same path as a core template to override it, e.g.
    login/identifier.html. Override blocks, not whole pages, so the theme keeps getting
    the core's fixes:

        {{% extends "core:login/identifier.html" %}}
        {{% block content %}}<p class="notice">...</p>{{{{ super() }}}}{{% endblock %}}

    The core templates (and what each receives) are listed at /_themes/ when
    FOYER_THEME_DEVELOPMENT=1 (`foyer themes preview`). This file is plain text: it is
    not a template and no page shows it.
"""


@themes.command("new")
@click.argument("name")
@click.option("--parent", default=DEFAULT_THEME, show_default=True, help="Theme to inherit from.")
@click.option("--label", default=None, help="Human name (default: from NAME).")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to create it (default: FOYER_THEMES_DIR).",
)
@pass_app
def new(ctx: AppContext, name: str, parent: str, label: str | None, folder: Path | None) -> None:
    """Create a theme folder NAME ready to edit (theme.toml, CSS, templates/)."""
    if not THEME_NAME.match(name):
        fail("a theme name uses lower-case letters, digits, - and _ (e.g. acme-blue)")
    found, _problems = scan_themes(_folders(ctx))
    if name in found:
        fail(f"a theme named {name!r} already exists: {found[name].path}")
    if parent not in found:
        fail(f"no theme named {parent!r} to inherit from (installed: {', '.join(sorted(found))})")
    root = folder if folder is not None else Path(Settings.load().themes_dir)
    target = root / name
    if target.exists():
        fail(f"{target} already exists")
    label = label or name.replace("-", " ").replace("_", " ").title()
    (target / "static" / "css").mkdir(parents=True)
    (target / "static" / "img").mkdir()
    (target / "templates").mkdir()
    (target / "theme.toml").write_text(THEME_TOML.format(label=label, parent=parent))
    (target / "static" / "css" / "theme.css").write_text(THEME_CSS.format(label=label))
    (target / "templates" / "README.md").write_text(TEMPLATES_README.format(name=name))
    click.echo(f"created {target}")
    click.echo(
        f"edit {target / 'static' / 'css' / 'theme.css'}, then preview it with "
        f"`foyer themes preview` at /_themes/{name}/login/identifier"
    )


@themes.command("build")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def build(ctx: AppContext, outdir: Path) -> None:
    """Write every theme's bundled, hashed assets to OUTDIR, the layout a CDN serves.

    Upload OUTDIR's content and set FOYER_ASSET_BASE_URL to the URL it is served from.
    """
    # CLI start-up time: assets pulls in webassets
    from app.branding.assets import AssetIndex

    try:
        app = ctx.app
    except ThemeError as exc:
        fail(f"themes are broken:\n{exc}")
    index = AssetIndex(app.extensions["foyer.themes"])
    outdir.mkdir(parents=True, exist_ok=True)
    written = index.write(outdir)
    click.echo(f"wrote {len(written)} files to {outdir}")


@themes.command("preview")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_app
def preview(ctx: AppContext, host: str, port: int) -> None:
    """Serve Foyer for theme designers: live reload and the /_themes/ preview pages."""
    os.environ["FOYER_THEME_DEVELOPMENT"] = "1"
    app = ctx.app
    click.echo(f"theme preview: http://{host}:{port}/_themes/ (edits show on reload)")
    app.run(host=host, port=port, debug=False, use_reloader=False)
