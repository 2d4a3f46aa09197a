"""The plugin manager: builtins, the ``plugins/`` folder and the ``foyer`` entry points.

One :class:`pluggy.PluginManager` per app (``app.extensions['foyer.pm']``). The core calls
hooks only through :func:`call_hook`, which leaves out scoped plugins that the current tenant
or organization does not enable and contains a failing plugin.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import typing as t
from pathlib import Path

import pluggy
from flask import current_app

from app import hookspecs

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = (
    "app.strategies.database",
    "app.oidc.default_claims",
    "app.events.default_sinks",
)
"""Foyer's own features, registered through the same hooks as any plugin."""


class PluginError(Exception):
    """A plugin raised inside a hook; carries the plugin and hook names for the error page."""

    def __init__(self, plugin: str, hook: str, original: BaseException) -> None:
        super().__init__(f"plugin {plugin!r} failed in {hook}: {original!r}")
        self.plugin = plugin
        self.hook = hook
        self.original = original


def build_plugin_manager(plugins_dir: str, extra: t.Iterable[object] = ()) -> pluggy.PluginManager:
    """Register builtins, entry points and the plugins folder, then validate hookimpls."""
    pm = pluggy.PluginManager("foyer")
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints("foyer")
    for module in _load_plugins_dir(Path(plugins_dir)):
        pm.register(module, name=module.__name__)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def load_plugins_for_cli() -> pluggy.PluginManager:
    """A manager for adding CLI commands before any app (or database) exists."""
    from app.config import Settings

    return build_plugin_manager(Settings.load().plugins_dir)


def _load_plugins_dir(folder: Path) -> list[object]:
    """Import every ``*.py`` module and package in the folder, sorted by name."""
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
        if mod_name in sys.modules:
            modules.append(sys.modules[mod_name])
            continue
        spec = importlib.util.spec_from_file_location(
            mod_name, file, submodule_search_locations=[str(path)] if path.is_dir() else None
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def plugin_manager() -> pluggy.PluginManager:
    return t.cast(pluggy.PluginManager, current_app.extensions["foyer.pm"])


def plugin_name(plugin: object) -> str:
    return plugin_manager().get_name(plugin) or repr(plugin)


def is_scoped(plugin: object) -> bool:
    """A plugin declaring ``FOYER_SCOPED = True`` runs only where enabled."""
    return bool(getattr(plugin, "FOYER_SCOPED", False))


def enabled_plugins(tenant: Tenant | None, organization: Organization | None) -> set[str]:
    """Names of scoped plugins enabled for the tenant (all its orgs) or the organization."""
    names: set[str] = set()
    if tenant is not None:
        names.update((tenant.settings or {}).get("plugins", {}) or {})
    if organization is not None:
        names.update(organization.plugins or {})
    return names


def call_hook(
    name: str,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
    contain: bool = False,
    **kwargs: t.Any,
) -> list[t.Any]:
    """Call hook ``name`` on the plugins active for this tenant/organization.

    Implementations run one by one (last registered first, as pluggy orders them) so one
    failure is contained: it is recorded as a ``plugin_failed`` event naming the plugin;
    then, with ``contain=True`` the other plugins still run, otherwise :class:`PluginError`
    is raised for the caller's error page. For ``firstresult`` hooks the list holds at most
    one answer.
    """
    pm = plugin_manager()
    caller = getattr(pm.hook, name)
    enabled = enabled_plugins(tenant, organization)
    firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
    results: list[t.Any] = []
    for impl in reversed(caller.get_hookimpls()):
        if is_scoped(impl.plugin) and impl.plugin_name not in enabled:
            continue
        args = {arg: kwargs[arg] for arg in impl.argnames}
        try:
            result = impl.function(**args)
        except Exception as exc:  # noqa: BLE001 - containment is the point
            _record_failure(impl.plugin_name, name, exc, tenant, organization)
            if contain:
                continue
            raise PluginError(impl.plugin_name, name, exc) from exc
        if result is not None:
            results.append(result)
            if firstresult:
                break
    return results


def _record_failure(
    plugin: str,
    hook: str,
    exc: BaseException,
    tenant: Tenant | None,
    organization: Organization | None,
) -> None:
    log.exception("plugin %s failed in hook %s", plugin, hook, exc_info=exc)
    if hook == "track_event":
        return  # never recurse into the sinks that just failed
    from app.events.record import record_event

    record_event(
        "plugin_failed",
        tenant=tenant,
        organization=organization,
        data={"plugin": plugin, "hook": hook, "error": type(exc).__name__},
    )
