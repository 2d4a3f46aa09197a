"""Building the plugin manager: builtins, the ``foyer`` entry points, the ``plugins/`` folder.

One :class:`FoyerPluginManager` per app (``app.extensions['foyer.pm']``); runtime code calls
its hooks through :func:`app.hooks.call_hook`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import sys
import types
import typing as t
from pathlib import Path

from flask import before_render_template
from flask import g
from flask import has_request_context
from flask import request
from pluggy import PluginValidationError

from app import hookspecs
from app.branding.context import current_organization
from app.clikit import did_you_mean
from app.config import Settings
from app.hooks import GuardedPluginManager
from app.hooks import call_hook_named

if t.TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = (
    "app.strategies.database",
    "app.strategies.legacy",
    "app.strategies.oidc",
    "app.strategies.saml",
    "app.strategies.saml_cli",
    "app.strategies.social",
    "app.strategies.github",
    "app.oidc.default_claims",
    "app.oidc.revocation",
    "app.login.membership_rule",
    "app.login.breached_password",
    "app.hrd.by_parameter",
    "app.hrd.by_host",
    "app.hrd.by_plugin",
    "app.hrd.by_identifier_map",
    "app.hrd.by_email_domain",
    "app.hrd.by_user_lookup",
    "app.hrd.cli",
    "app.connections.cli",
    "app.hrd.lookup_view",
    "app.hrd.explain_view",
    "app.mail.default_smtp",
    "app.mailbox.views",
    "app.events.default_sinks",
    "app.events.cli",
    "app.events.streams",
    "app.accounts.cli",
    "app.oidc.cli",
    "app.orgs.cli",
    "app.scim.cli",
    "app.mail.cli",
    "app.branding.cli",
    "app.configfile.cli",
    "app.demo.cli",
    "app.doctor.cli",
    "app.backup.cli",
    "app.plugin_commands",
)
"""Foyer's own features, registered through the same hooks as any plugin."""

BUILTIN_NAMED: dict[str, str] = {"log_streams": "app.events.streams:TENANT_STREAMS"}
"""Builtin scoped plugins that tenants enable by name in their configuration file."""

SOURCE_BUILTIN = "builtin"
SOURCE_ENTRY_POINT = "entry point"
SOURCE_PLUGINS_DIR = "plugins folder"
SOURCE_EXTRA = "registered by code"


class PluginLoadError(RuntimeError):
    """A plugin cannot be loaded: one line saying which plugin and why (no traceback)."""


class FoyerPluginManager(GuardedPluginManager):
    """The app's manager; remembers where each plugin came from (for ``foyer plugins``)."""

    def __init__(self) -> None:
        super().__init__("foyer")
        self.sources: dict[str, str] = {}


def build_plugin_manager(plugins_dir: str, extra: t.Iterable[object] = ()) -> FoyerPluginManager:
    """Register builtins, entry points and the plugins folder, then validate hookimpls."""
    pm = FoyerPluginManager()
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
        pm.sources[name] = SOURCE_BUILTIN
    for name, target in BUILTIN_NAMED.items():
        module, attribute = target.split(":")
        pm.register(getattr(importlib.import_module(module), attribute), name=name)
        pm.sources[name] = SOURCE_BUILTIN
    pm.load_setuptools_entrypoints("foyer")
    for plugin, _dist in pm.list_plugin_distinfo():
        pm.sources[pm.get_name(plugin) or repr(plugin)] = SOURCE_ENTRY_POINT
    for name, module in _load_plugins_dir(Path(plugins_dir)):
        if pm.has_plugin(name):
            raise PluginLoadError(f"two plugins are named {name!r} (see {module.__file__})")
        _register(pm, module, name)
        pm.sources[name] = SOURCE_PLUGINS_DIR
    for plugin in extra:
        name = _register(pm, plugin, getattr(plugin, "FOYER_NAME", None))
        if name:
            pm.sources[name] = SOURCE_EXTRA
    check_hook_names(pm)
    return pm


def _register(pm: FoyerPluginManager, plugin: object, name: str | None) -> str | None:
    """Register ``plugin``; an implementation taking an argument its hook does not offer
    is a :class:`PluginLoadError` naming the plugin, the hook and the arguments."""
    try:
        return pm.register(plugin, name=name)
    except PluginValidationError as exc:
        hook = re.search(r"for hook '(\w+)'", str(exc))
        spec = getattr(pm.hook, hook.group(1), None) if hook else None
        offered = ", ".join(spec.spec.argnames) if spec is not None and spec.spec else "?"
        wrong = re.search(r"Argument\(s\) (\{.*?\}) are declared", str(exc))
        label = name or getattr(plugin, "__name__", repr(plugin))
        raise PluginLoadError(
            f"plugin {label!r}: {hook.group(1) if hook else 'a hook'} takes "
            f"{wrong.group(1) if wrong else 'arguments'} that the hook does not offer "
            f"(it offers: {offered})"
        ) from None


def check_hook_names(pm: FoyerPluginManager) -> None:
    """Every ``@hookimpl`` names a Foyer hook: a misspelt name is one line saying which
    plugin, and the hook it probably means."""
    known = [name for name in vars(pm.hook) if not name.startswith("_")]
    specified = [name for name in known if getattr(pm.hook, name).spec is not None]
    for name in known:
        caller = getattr(pm.hook, name)
        if caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            raise PluginLoadError(
                f"plugin {impl.plugin_name!r}: {name!r} is not a Foyer hook"
                + did_you_mean(name, specified)
                + " (every hook: docs/hooks.md)"
            )
    pm.check_pending()


def load_plugins_for_cli() -> FoyerPluginManager:
    """A manager for adding CLI commands before any app (or database) exists."""
    return build_plugin_manager(Settings.load().plugins_dir)


def _load_plugins_dir(folder: Path) -> list[tuple[str, types.ModuleType]]:
    """Import every ``*.py`` module and package in the folder, sorted by name.

    A plugin's name is its ``FOYER_NAME`` or else the file (or package) name without
    ``.py``: that is the name configuration uses to enable it.
    """
    if not folder.is_dir():
        return []
    modules = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            file = path / "__init__.py"
        elif path.suffix == ".py":
            file = path
        else:
            continue
        mod_name = f"foyer_plugins.{path.stem}"
        module = sys.modules.get(mod_name)
        if module is None or getattr(module, "__file__", None) != str(file):
            spec = importlib.util.spec_from_file_location(
                mod_name, file, submodule_search_locations=[str(path)] if path.is_dir() else None
            )
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        modules.append((str(getattr(module, "FOYER_NAME", path.stem)), module))
    return modules


# --- Template variables --------------------------------------------------------------------


def init_template_hook(app: Flask) -> None:
    """Merge ``extra_template_vars`` answers into every template's context."""
    before_render_template.connect(_add_template_vars, app, weak=False)


def _add_template_vars(
    sender: Flask, template: t.Any, context: dict[str, t.Any], **_extra: t.Any
) -> None:
    in_request = has_request_context()
    tenant = context.get("tenant")
    if tenant is None and in_request:
        domain = g.get("tenant_domain")
        tenant = domain.tenant if domain is not None else None
    organization = context.get("organization")
    if organization is None and in_request:
        organization = current_organization()
        if organization is None and g.get("tenant_domain") is not None:
            organization = g.tenant_domain.organization
    answers = call_hook_named(
        "extra_template_vars",
        tenant=tenant,
        organization=organization,
        contain=True,
        template=template.name,
        request=request._get_current_object() if in_request else None,  # type: ignore[attr-defined]
    )
    for plugin, answer in answers:
        if not isinstance(answer, dict):
            log.warning("plugin %s: extra_template_vars must return a dict", plugin)
            continue
        for key, value in answer.items():
            if key in context:
                log.warning("plugin %s may not replace template variable %r", plugin, key)
                continue
            context[key] = value
