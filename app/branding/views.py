"""Theme assets and the brand-colors stylesheet.

``/assets/<digest>/<name>`` serves the content-addressed layout built by
:mod:`app.branding.assets` with ``Cache-Control: public, max-age=31536000, immutable``.
``/assets/<theme>/<path>`` serves a theme's file by its plain path (falling back through
its parents), for designers and hand-written links, with a short cache. Paths are looked
up, never joined from the request (no traversal).
"""

from __future__ import annotations

import typing as t

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import request
from flask import send_file
from werkzeug.wrappers import Response

from app.branding.assets import asset_index
from app.branding.themes import COLOR
from app.branding.themes import COLOR_KEYS
from app.branding.themes import ThemeRegistry
from app.branding.themes import contrast_ratio
from app.branding.themes import readable_on

bp = Blueprint("branding", __name__)

LONG_CACHE = 365 * 24 * 3600
SHORT_CACHE = 300


@bp.route("/assets/<first>/<path:rest>")
def asset(first: str, rest: str) -> Response:
    """A hashed asset (``<digest>/<name>``), else a theme's file (``<theme>/<path>``)."""
    index = asset_index()
    found = index.assets.get(f"{first}/{rest}")
    if found is not None:
        response = Response(found.read(), mimetype=found.mimetype)
        response.cache_control.public = True
        response.cache_control.max_age = LONG_CACHE
        response.cache_control.immutable = True
        response.headers["Access-Control-Allow-Origin"] = "*"  # fonts from a CDN origin
        response.set_etag(found.digest)
        return response.make_conditional(request)
    themes = t.cast(ThemeRegistry, current_app.extensions["foyer.themes"])
    if first not in themes:
        abort(404)
    located = themes.find_static(first, rest)
    if located is None:
        abort(404)
    response = send_file(located[1], max_age=SHORT_CACHE, conditional=True)
    return response


@bp.route("/branding/colors.css")
def colors() -> Response:
    """``:root`` custom properties from validated ``?<key>=<hex>`` pairs (see colors_url)."""
    values: dict[str, str] = {}
    surface = "#ffffff"
    for key, raw in request.args.items():
        color = f"#{raw}"
        if key not in COLOR_KEYS | {"on_surface"} or not COLOR.match(color):
            abort(404)
        if key == "on_surface":  # the theme's card color, for link contrast only
            surface = color.lower()
            continue
        values[key] = color.lower()
    lines = [
        f"  --foyer-{key.replace('_', '-')}: {value};" for key, value in sorted(values.items())
    ]
    if "primary" in values:
        primary = values["primary"]
        lines.append(f"  --foyer-on-primary: {readable_on(primary)};")
        # links and the monogram use the primary color on the surface: keep them readable
        surface = values.get("surface", surface)
        if contrast_ratio(primary, surface) < 4.5:
            lines.append(f"  --foyer-link: {readable_on(surface)};")
    body = ":root {\n" + "\n".join(lines) + "\n}\n"
    response = Response(body, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = LONG_CACHE
    response.cache_control.immutable = True
    return response
