"""Theme static files and the brand-colors stylesheet.

``/assets/<theme>/<path>`` serves a theme's file, falling back through its parents, so a
child theme only ships what it changes. Paths are joined with ``safe_join`` (no traversal).
URLs carry ``?v=<content hash>``; such a URL always names the same bytes, so it may be
cached for good. Content-hashed file names and a CDN layout come with asset bundling.
"""

from __future__ import annotations

import hashlib
import os
import typing as t

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import request
from flask import send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

from app.branding.themes import COLOR
from app.branding.themes import COLOR_KEYS
from app.branding.themes import Theme
from app.branding.themes import ThemeRegistry

bp = Blueprint("branding", __name__)

LONG_CACHE = 365 * 24 * 3600
SHORT_CACHE = 300


def asset_version(theme: Theme, path: str) -> str:
    """A short hash of the file the URL serves (cached per app, per file and mtime)."""
    themes = t.cast(ThemeRegistry, current_app.extensions["foyer.themes"])
    for owner in themes.chain(theme.name):
        full = safe_join(str(owner.static_dir), path)
        if full is None:
            return "0"
        try:
            stat_key = (full, int(_mtime(full)))
        except OSError:
            continue
        cache: dict[tuple[str, int], str] = current_app.extensions.setdefault(
            "foyer.asset_versions", {}
        )
        if stat_key not in cache:
            with open(full, "rb") as fh:
                cache[stat_key] = hashlib.sha256(fh.read()).hexdigest()[:12]
        return cache[stat_key]
    return "0"


def _mtime(path: str) -> int:
    return os.stat(path).st_mtime_ns


@bp.route("/assets/<theme>/<path:filename>")
def asset(theme: str, filename: str) -> Response:
    """A theme's static file, or its nearest ancestor's."""
    themes = t.cast(ThemeRegistry, current_app.extensions["foyer.themes"])
    if theme not in themes:
        abort(404)
    for owner in themes.chain(theme):
        try:
            response = send_from_directory(owner.static_dir, filename, max_age=SHORT_CACHE)
        except NotFound:
            continue
        if request.args.get("v"):
            response.cache_control.max_age = LONG_CACHE
            response.cache_control.public = True
            response.cache_control.immutable = True
        return response
    abort(404)


@bp.route("/branding/colors.css")
def colors() -> Response:
    """``:root`` custom properties from validated ``?<key>=<hex>`` pairs (see colors_url)."""
    values: dict[str, str] = {}
    for key, raw in request.args.items():
        color = f"#{raw}"
        if key not in COLOR_KEYS or not COLOR.match(color):
            abort(404)
        values[key] = color.lower()
    lines = [f"  --foyer-{key.replace('_', '-')}: {value};"
             for key, value in sorted(values.items())]
    if "primary" in values:
        primary = values["primary"]
        lines.append(f"  --foyer-on-primary: {readable_on(primary)};")
        # links and the monogram use the primary color on the surface: keep them readable
        surface = values.get("surface", "#ffffff")
        if contrast_ratio(primary, surface) < 4.5:
            lines.append(f"  --foyer-link: {readable_on(surface)};")
    body = ":root {\n" + "\n".join(lines) + "\n}\n"
    response = Response(body, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = LONG_CACHE
    response.cache_control.immutable = True
    return response


def readable_on(background: str) -> str:
    """Black or white text, whichever contrasts more with ``background`` (WCAG formula)."""
    lum = relative_luminance(background)
    on_white = (1.05) / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#000000"


def relative_luminance(color: str) -> float:
    hexes = color.lstrip("#")
    if len(hexes) in (3, 4):
        hexes = "".join(ch * 2 for ch in hexes[:3])
    channels = [int(hexes[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
