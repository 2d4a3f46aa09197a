"""Theme assets the way a CDN wants them: bundled, minified, content-addressed.

For every theme, webassets concatenates the stylesheets of its chain in order (``default``
first, the theme last, so a child's rules win) and its scripts likewise, minified with
rcssmin / rjsmin. Every bundle and every file under a theme's ``static/`` gets the URL
``/assets/<digest>/<name>``, where ``<digest>`` is a hash of the bytes: a URL always names
the same bytes, so it is served with ``Cache-Control: public, max-age=31536000,
immutable``, and a changed file gets a new URL. ``url(...)`` references inside stylesheets
(images, fonts) are rewritten to those URLs, relative (``../<digest>/<name>``), so the
layout works unchanged on any host.

``foyer themes build OUTDIR`` writes the same ``<digest>/<name>`` layout to a folder;
upload it to a CDN and set ``FOYER_ASSET_BASE_URL`` to its URL. With
``FOYER_THEME_DEVELOPMENT`` (or Flask debug) the index is rebuilt when a theme file
changes, so edits show on reload.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import logging
import mimetypes
import os
import posixpath
import re
import typing as t
from pathlib import Path

from flask import current_app
from flask import has_request_context
from flask import url_for
from webassets import Bundle
from webassets import Environment
from webassets.filter import Filter
from webassets.filter import get_filter

from app.branding.themes import FONT_KEYS
from app.branding.themes import Theme
from app.branding.themes import ThemeRegistry
from app.branding.themes import contrast_ratio
from app.branding.themes import readable_on

log = logging.getLogger(__name__)

DIGEST_LENGTH = 16
CSS_URL = re.compile(r"""url\(\s*(?P<quote>['"]?)(?P<ref>[^'")]+?)(?P=quote)\s*\)""")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|/|#)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Asset:
    """One file of the CDN layout: ``<digest>/<name>``."""

    digest: str
    name: str
    mimetype: str
    data: bytes | None = None
    """Built bundles are kept in memory; theme files are read from ``path`` when served."""
    path: Path | None = None

    @property
    def key(self) -> str:
        return f"{self.digest}/{self.name}"

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


@dataclasses.dataclass
class ThemeAssets:
    """The bundles of one theme (keys into :attr:`AssetIndex.assets`)."""

    css: str | None = None
    js: str | None = None


class AssetIndex:
    """Every asset of every theme by ``<digest>/<name>``, and each theme's bundles."""

    def __init__(self, themes: ThemeRegistry) -> None:
        self.themes = themes
        self.assets: dict[str, Asset] = {}
        self.files: dict[tuple[str, str], str] = {}
        """(owner theme, path under static/) -> key."""
        self.bundles: dict[str, ThemeAssets] = {}
        for theme in themes:
            self._add_static(theme)
        for theme in themes:
            self.bundles[theme.name] = self._bundle(theme)

    def __contains__(self, key: object) -> bool:
        return key in self.assets

    def static_key(self, theme_name: str, path: str) -> str | None:
        """Key of ``static/<path>`` as the theme sees it (its own, else an ancestor's)."""
        found = self.themes.find_static(theme_name, path)
        if found is None:
            return None
        owner, _full = found
        return self.files.get((owner.name, path))

    def _add(self, name: str, data: bytes | None = None, path: Path | None = None) -> str:
        content = data if data is not None else t.cast(Path, path).read_bytes()
        digest = hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH]
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        asset = Asset(digest, name, mimetype, data=data, path=path)
        self.assets[asset.key] = asset
        return asset.key

    def _add_static(self, theme: Theme) -> None:
        if not theme.static_dir.is_dir():
            return
        for full in sorted(theme.static_dir.rglob("*")):
            if not full.is_file() or full.name.startswith("."):
                continue
            rel = full.relative_to(theme.static_dir).as_posix()
            self.files[(theme.name, rel)] = self._add(full.name, path=full)

    def _bundle(self, theme: Theme) -> ThemeAssets:
        """For each theme of the chain, parents first: its ``theme.toml`` colors and fonts
        as custom properties, then its stylesheets. So a theme's CSS overrides what its
        parents declare, and its manifest overrides its parents' CSS."""
        out = ThemeAssets()
        parts = []
        rewrite = _RewriteUrls(self, theme.name)
        for owner in reversed(self.themes.chain(theme.name)):
            parts.append(theme_variables(owner))
            styles = [(owner, owner.static_dir / path) for path in owner.styles]
            parts.append(_run_bundle(styles, [rewrite, _minifier("rcssmin")]))
        parts.append(link_variable(self.themes.colors(theme.name)))
        css = "".join(part for part in parts if part)
        if css.strip():
            out.css = self._add(f"{theme.name}.css", data=css.encode("utf-8"))
        scripts = [
            (owner, owner.static_dir / path) for owner, path in self.themes.scripts(theme.name)
        ]
        if scripts:
            js = _run_bundle(scripts, [_minifier("rjsmin")])
            out.js = self._add(f"{theme.name}.js", data=js.encode("utf-8"))
        return out

    def write(self, folder: Path) -> list[Path]:
        """Write the CDN layout (``<digest>/<name>`` + ``manifest.json``) under ``folder``."""
        written = []
        for key, asset in sorted(self.assets.items()):
            target = folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(asset.read())
            written.append(target)
        manifest = {
            "themes": {
                name: dataclasses.asdict(bundle) for name, bundle in sorted(self.bundles.items())
            },
            "files": {f"{owner}/{path}": key for (owner, path), key in sorted(self.files.items())},
        }
        target = folder / "manifest.json"
        target.write_text(json.dumps(manifest, indent=2) + "\n")
        written.append(target)
        return written


def theme_variables(theme: Theme) -> str:
    """``:root`` custom properties from a theme's manifest colors and fonts (validated in
    theme.toml), with readable text on its primary color."""
    names = {"body": "--foyer-font", "heading": "--foyer-heading-font"}
    lines = [
        f"--foyer-{key.replace('_', '-')}:{value}" for key, value in sorted(theme.colors.items())
    ]
    if "primary" in theme.colors:
        lines.append(f"--foyer-on-primary:{readable_on(theme.colors['primary'])}")
    lines += [f"{names[key]}:{theme.fonts[key]}" for key in sorted(FONT_KEYS) if key in theme.fonts]
    return ":root{" + ";".join(lines) + "}\n" if lines else ""


def link_variable(colors: t.Mapping[str, str]) -> str:
    """Links use the primary color on the surface: a readable color when it is too light."""
    primary, surface = colors.get("primary"), colors.get("surface", "#ffffff")
    if primary and contrast_ratio(primary, surface) < 4.5:
        return f":root{{--foyer-link:{readable_on(surface)}}}\n"
    return ""


class _RewriteUrls(Filter):  # type: ignore[misc]
    """Point ``url(relative)`` at the hashed URL of the file, found along the theme chain
    of the bundle (so a child theme may replace an image its parent's CSS uses)."""

    name = "foyer_rewrite_urls"  # type: ignore[assignment]

    def __init__(self, index: AssetIndex, theme_name: str) -> None:
        super().__init__()
        self.index = index
        self.theme_name = theme_name

    def unique(self) -> t.Any:
        return self.theme_name

    def input(self, _in: t.IO[str], out: t.IO[str], **kw: t.Any) -> None:
        source = Path(kw["source_path"])
        owner = t.cast(Theme, kw.get("foyer_owner"))
        base = posixpath.dirname(source.relative_to(owner.static_dir).as_posix()) if owner else ""

        def replace(match: re.Match[str]) -> str:
            ref = match.group("ref").strip()
            if EXTERNAL.match(ref):
                return match.group(0)
            bare = re.split(r"[?#]", ref, maxsplit=1)[0]
            resolved = posixpath.normpath(posixpath.join(base, bare))
            key = self.index.static_key(self.theme_name, resolved)
            if key is None:
                log.warning("%s: url(%s) names no file of theme %r", source, ref, self.theme_name)
                return match.group(0)
            fragment = ref[len(bare) :]
            return f'url("../{key}{fragment}")'

        out.write(CSS_URL.sub(replace, _in.read()))


def _minifier(name: str) -> Filter | None:
    """webassets' pure-Python minifier filter, or None when the package is not installed
    (bundles are then only concatenated)."""
    if importlib.util.find_spec(name) is None:
        return None
    return get_filter(name)


def _run_bundle(files: list[tuple[Theme, Path]], filters: list[Filter | None]) -> str:
    """Concatenate and filter ``files`` with webassets; returns the text."""
    if not files:
        return ""
    active = [f for f in filters if f is not None]
    parts = []
    # one bundle per source file, so the url rewriting knows which theme owns the file
    env = Environment(
        directory=str(files[0][1].parent),
        url="/assets",
        cache=False,
        manifest=False,
        auto_build=False,
        url_expire=False,
    )
    for owner, path in files:
        bundle = Bundle(
            str(path),
            output=f"{owner.name}.out",
            filters=[
                _OwnerAware(flt, owner) if isinstance(flt, _RewriteUrls) else flt for flt in active
            ],
        )
        bundle.env = env
        buffer = io.StringIO()
        bundle.build(output=buffer, force=True)
        parts.append(buffer.getvalue())
    return "\n".join(part.rstrip("\n") for part in parts) + "\n"


class _OwnerAware(Filter):  # type: ignore[misc]
    """Passes the source file's theme to :class:`_RewriteUrls`."""

    name = "foyer_owner_aware"  # type: ignore[assignment]

    def __init__(self, inner: _RewriteUrls, owner: Theme) -> None:
        super().__init__()
        self.inner = inner
        self.owner = owner

    def unique(self) -> t.Any:
        return (self.inner.unique(), self.owner.name)

    def input(self, _in: t.IO[str], out: t.IO[str], **kw: t.Any) -> None:
        self.inner.input(_in, out, foyer_owner=self.owner, **kw)


# --- the index of the running app ------------------------------------------------------------


def live_reload(app: t.Any) -> bool:
    return bool(app.debug or app.extensions["foyer.settings"].theme_development)


def asset_index() -> AssetIndex:
    """The app's index (rebuilt before a request when theme files changed, under live
    reload: see :func:`app.branding.loader.reload_themes_if_changed`)."""
    return t.cast(AssetIndex, current_app.extensions["foyer.assets"])


def tree_signature(
    folders: t.Iterable[Path], themes: ThemeRegistry
) -> tuple[tuple[str, int, int], ...]:
    """Theme folders present, and every file of every theme with its mtime and size
    (cheap change detection for live reload)."""
    entries = []
    for folder in folders:
        if Path(folder).is_dir():
            entries += [(str(path), 0, 0) for path in Path(folder).glob("*/theme.toml")]
    for theme in themes:
        for root, _dirs, names in os.walk(theme.path):
            for name in names:
                full = os.path.join(root, name)
                try:
                    stat = os.stat(full)
                except OSError:
                    continue
                entries.append((full, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def asset_href(key: str) -> str:
    """The URL of an asset: on the CDN when ``asset_base_url`` is set, else on Foyer."""
    base = current_app.extensions["foyer.settings"].asset_base_url.rstrip("/")
    if base:
        return f"{base}/{key}"
    digest, name = key.split("/", 1)
    if has_request_context():
        return url_for("branding.asset", first=digest, rest=name)
    return f"/assets/{key}"


def theme_asset_url(theme_name: str, path: str) -> str | None:
    """Hashed URL of ``static/<path>`` as ``theme_name`` sees it (None when missing)."""
    key = asset_index().static_key(theme_name, path)
    return asset_href(key) if key else None
