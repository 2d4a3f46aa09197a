"""The plugin manager: builtins, the ``plugins/`` folder and the ``foyer`` entry points.

One :class:`FoyerPluginManager` per app (``app.extensions['foyer.pm']``). The core calls
runtime hooks only through :func:`call_hook`, which leaves out scoped plugins that the
current tenant or organization does not enable, gives each implementation a time budget,
tells it its settings (:func:`plugin_settings`) and contains a failing plugin.
Start-up hooks (``register_*``, ``extra_theme_dirs``) are called on ``pm.hook`` directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import importlib.util
import logging
import signal
import sys
import threading
import time
import types
import typing as t
from pathlib import Path

import pluggy
from flask import current_app

from app import hookspecs

if t.TYPE_CHECKING:
    from flask import Flask

    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = (
    "app.strategies.database",
    "app.strategies.legacy",
    "app.oidc.default_claims",
    "app.login.membership_rule",
    "app.hrd.by_parameter",
    "app.hrd.by_host",
    "app.hrd.by_plugin",
    "app.hrd.by_identifier_map",
    "app.hrd.by_email_domain",
    "app.hrd.by_user_lookup",
    "app.hrd.cli",
    "app.hrd.lookup_view",
    "app.hrd.explain_view",
    "app.mail.default_smtp",
    "app.events.default_sinks",
)
"""Foyer's own features, registered through the same hooks as any plugin."""

SOURCE_BUILTIN = "builtin"
SOURCE_ENTRY_POINT = "entry point"
SOURCE_PLUGINS_DIR = "plugins folder"
SOURCE_EXTRA = "registered by code"


class PluginError(Exception):
    """A plugin raised (or ran out of time) inside a hook; names the plugin and hook."""

    def __init__(
        self,
        plugin: str,
        hook: str,
        original: BaseException,
        organization: Organization | None = None,
    ) -> None:
        super().__init__(f"plugin {plugin!r} failed in {hook}: {original!r}")
        self.plugin = plugin
        self.hook = hook
        self.original = original
        self.organization = organization
        """The organization being served, so the error page can show its support contact."""


class HookTimeout(BaseException):
    """Raised inside a hook implementation that outlives its time budget.

    A ``BaseException`` so that a plugin's own ``except Exception`` cannot swallow it.
    """


class PluginSettingsInvalid(ValueError):
    """A plugin's configured settings do not fit its ``FOYER_SETTINGS`` schema."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class FoyerPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from (for ``foyer plugins``)."""

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
    pm.load_setuptools_entrypoints("foyer")
    for plugin, _dist in pm.list_plugin_distinfo():
        pm.sources[pm.get_name(plugin) or repr(plugin)] = SOURCE_ENTRY_POINT
    for name, module in _load_plugins_dir(Path(plugins_dir)):
        if pm.has_plugin(name):
            raise RuntimeError(f"two plugins are named {name!r} (see {module.__file__})")
        pm.register(module, name=name)
        pm.sources[name] = SOURCE_PLUGINS_DIR
    for plugin in extra:
        name = pm.register(plugin, name=getattr(plugin, "FOYER_NAME", None))
        if name:
            pm.sources[name] = SOURCE_EXTRA
    pm.check_pending()
    return pm


def load_plugins_for_cli() -> FoyerPluginManager:
    """A manager for adding CLI commands before any app (or database) exists."""
    from app.config import Settings

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


def plugin_manager() -> FoyerPluginManager:
    return t.cast(FoyerPluginManager, current_app.extensions["foyer.pm"])


def plugin_name(plugin: object) -> str:
    return plugin_manager().get_name(plugin) or repr(plugin)


def is_scoped(plugin: object) -> bool:
    """A plugin declaring ``FOYER_SCOPED = True`` runs only where enabled."""
    return bool(getattr(plugin, "FOYER_SCOPED", False))


def enabled_plugins(tenant: Tenant | None, organization: Organization | None) -> set[str]:
    """Names of plugins enabled for the tenant (all its orgs) or the organization."""
    names: set[str] = set()
    if tenant is not None:
        names.update((tenant.settings or {}).get("plugins", {}) or {})
    if organization is not None:
        names.update(organization.plugins or {})
    return names


# --- Settings ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _HookCall:
    plugin: str
    hook: str
    tenant: Tenant | None
    organization: Organization | None


_current_call: contextvars.ContextVar[_HookCall | None] = contextvars.ContextVar(
    "foyer_hook_call", default=None
)


def plugin_settings(
    name: str | None = None,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
) -> t.Any:
    """The settings of a plugin for a tenant and organization.

    Inside a hook implementation called by :func:`call_hook`, ``plugin_settings()`` with no
    argument answers for the running plugin, tenant and organization. The tenant's settings
    (``tenant.settings["plugins"][name]``) are defaults that the organization's
    (``organization.plugins[name]``) override key by key. A plugin with a ``FOYER_SETTINGS``
    dataclass gets an instance of it (defaults filled in); other plugins get a dict.

    :raises PluginSettingsInvalid: when the stored settings do not fit the schema (inside a
        hook this is contained like any plugin failure).
    """
    if name is None:
        call = _current_call.get()
        if call is None:
            raise RuntimeError("plugin_settings() without a name only works inside a hook")
        name, tenant, organization = call.plugin, call.tenant, call.organization
    merged: dict[str, t.Any] = {}
    if tenant is not None:
        merged.update(((tenant.settings or {}).get("plugins") or {}).get(name) or {})
    if organization is not None:
        merged.update((organization.plugins or {}).get(name) or {})
    plugin = plugin_manager().get_plugin(name)
    schema = getattr(plugin, "FOYER_SETTINGS", None)
    if schema is None:
        return merged
    return _build_settings(name, schema, merged)


def validate_plugin_settings(name: str, settings: t.Any) -> list[str]:
    """Check settings given to plugin ``name`` (config as code, admin forms).

    :returns: Human-readable errors, each starting with the plugin name; empty when valid.
    """
    plugin = plugin_manager().get_plugin(name)
    if plugin is None:
        known = ", ".join(sorted(n for n, _ in plugin_manager().list_name_plugin())) or "none"
        return [f"{name}: no plugin of that name is installed (installed: {known})"]
    if settings is None:
        settings = {}
    if not isinstance(settings, t.Mapping):
        return [f"{name}: settings must be a mapping of names to values"]
    schema = getattr(plugin, "FOYER_SETTINGS", None)
    if schema is None:
        return [f"{name}: this plugin takes no settings"] if settings else []
    try:
        _build_settings(name, schema, settings)
    except PluginSettingsInvalid as exc:
        return exc.errors
    return []


def settings_schema(plugin: object) -> list[tuple[str, str, str]]:
    """(name, type, default) of each setting a plugin declares, for ``foyer plugins``."""
    schema = getattr(plugin, "FOYER_SETTINGS", None)
    if schema is None:
        return []
    hints = t.get_type_hints(schema)
    rows = []
    for field in dataclasses.fields(schema):
        if field.default is not dataclasses.MISSING:
            default = repr(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = repr(field.default_factory())
        else:
            default = "(required)"
        rows.append((field.name, _type_name(hints[field.name]), default))
    return rows


def _build_settings(name: str, schema: type, values: t.Mapping[str, t.Any]) -> t.Any:
    hints = t.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    errors = [f"{name}: unknown setting {key!r}" for key in values if key not in fields]
    for field in fields.values():
        if field.name not in values:
            required = field.default_factory is dataclasses.MISSING
            if field.default is dataclasses.MISSING and required:
                errors.append(f"{name}: setting {field.name!r} is required")
            continue
        problem = _type_problem(values[field.name], hints[field.name])
        if problem:
            errors.append(f"{name}: setting {field.name!r} {problem}")
    if errors:
        raise PluginSettingsInvalid(errors)
    try:
        return schema(**dict(values))
    except (TypeError, ValueError) as exc:
        raise PluginSettingsInvalid([f"{name}: {exc}"]) from exc


def _type_problem(value: t.Any, hint: t.Any) -> str | None:
    """Why ``value`` does not fit the type ``hint`` (settings come from YAML or JSON)."""
    origin = t.get_origin(hint)
    args = t.get_args(hint)
    if hint is t.Any:
        return None
    if origin in (t.Union, types.UnionType):
        if any(_type_problem(value, arg) is None for arg in args):
            return None
        return f"must be {_type_name(hint)}"
    if hint is type(None):
        return None if value is None else "must be empty"
    if origin is t.Literal:
        return None if value in args else f"must be one of {', '.join(map(repr, args))}"
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return f"must be a list of {_type_name(args[0]) if args else 'values'}"
        if args:
            for index, item in enumerate(value):
                problem = _type_problem(item, args[0])
                if problem:
                    return f"item {index} {problem}"
        return None
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return "must be a mapping"
        if len(args) == 2:
            for key, item in value.items():
                problem = _type_problem(key, args[0]) or _type_problem(item, args[1])
                if problem:
                    return f"entry {key!r} {problem}"
        return None
    if hint is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be a whole number"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if hint is str:
        return None if isinstance(value, str) else "must be text"
    return None


def _type_name(hint: t.Any) -> str:
    if isinstance(hint, type) and not t.get_args(hint):
        return hint.__name__
    return str(hint).replace("typing.", "")


# --- Calling hooks -------------------------------------------------------------------------


def call_hook(
    name: str,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
    contain: bool = False,
    **kwargs: t.Any,
) -> list[t.Any]:
    """Call hook ``name`` on the plugins active for this tenant/organization.

    Implementations run one by one (in pluggy's order: tryfirst, then last registered
    first, then trylast) so one failure is contained: it is recorded as a ``plugin_failed``
    event naming the plugin and hook; then, with ``contain=True`` the other plugins still
    run, otherwise :class:`PluginError` is raised for the caller's error page. Each
    implementation has ``plugin_timeout`` seconds (see :func:`hook_budget`). For
    ``firstresult`` hooks the list holds at most one answer.
    """
    return [
        result
        for _plugin, result in call_hook_named(
            name, tenant=tenant, organization=organization, contain=contain, **kwargs
        )
    ]


def call_hook_named(
    name: str,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
    contain: bool = False,
    **kwargs: t.Any,
) -> list[tuple[str, t.Any]]:
    """:func:`call_hook`, with each answer paired with the name of the plugin that gave it.

    For callers that must say which plugin returned what (e.g. a rejected claim). The scope
    (``tenant``, ``organization``) is also passed to implementations that take it.
    """
    pm = plugin_manager()
    caller = getattr(pm.hook, name)
    enabled = enabled_plugins(tenant, organization)
    firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
    budget = float(current_app.extensions["foyer.settings"].plugin_timeout)
    results: list[tuple[str, t.Any]] = []
    available = {"tenant": tenant, "organization": organization, **kwargs}
    for impl in reversed(caller.get_hookimpls()):
        if is_scoped(impl.plugin) and impl.plugin_name not in enabled:
            continue
        args = {arg: available[arg] for arg in impl.argnames}
        token = _current_call.set(_HookCall(impl.plugin_name, name, tenant, organization))
        try:
            with hook_budget(budget, f"{impl.plugin_name} in {name}"):
                result = impl.function(**args)
        except (Exception, HookTimeout) as exc:  # noqa: BLE001 - containment is the point
            _record_failure(impl.plugin_name, name, exc, tenant, organization)
            if contain:
                continue
            raise PluginError(impl.plugin_name, name, exc, organization) from exc
        finally:
            _current_call.reset(token)
        if result is not None:
            results.append((impl.plugin_name, result))
            if firstresult:
                break
    return results


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "foyer_hook_deadline", default=None
)


def time_left(default: float) -> float:
    """Seconds left in the running hook's budget, at most ``default``.

    Plugins that call out (HTTP, LDAP, another database) use it for their own timeouts,
    so they give up cleanly before the budget runs out.
    """
    deadline = _deadline.get()
    if deadline is None:
        return default
    return max(0.05, min(default, deadline - time.monotonic()))


@contextlib.contextmanager
def hook_budget(seconds: float, what: str) -> t.Iterator[None]:
    """Give the code inside ``seconds``; past that it is interrupted with :class:`HookTimeout`.

    Interrupting uses a SIGALRM timer, available in the main thread of a Unix process (the
    test client, gunicorn's sync workers). Elsewhere the budget is only reported after the
    fact, and :func:`time_left` is the plugin's way to keep to it. Nested budgets run under
    the outer timer.
    """
    started = time.monotonic()
    outer = _deadline.get()
    deadline = started + seconds if outer is None else min(outer, started + seconds)
    token = _deadline.set(deadline)
    disarm = _arm_timer(deadline - started, what) if outer is None and seconds > 0 else None
    try:
        yield
    finally:
        if disarm is not None:
            disarm()
        _deadline.reset(token)
        elapsed = time.monotonic() - started
        if seconds > 0 and elapsed > seconds:
            log.warning("%s took %.1fs (budget %.1fs)", what, elapsed, seconds)


def _arm_timer(seconds: float, what: str) -> t.Callable[[], None] | None:
    if not hasattr(signal, "setitimer"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return None  # someone else's timer (pytest-timeout, an outer budget) is running
    state = {"armed": True}

    def on_alarm(_signum: int, _frame: t.Any) -> None:
        if state["armed"]:
            state["armed"] = False
            raise HookTimeout(f"{what} ran out of its {seconds:.1f}s budget")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))

    def disarm() -> None:
        state["armed"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    return disarm


def _record_failure(
    plugin: str,
    hook: str,
    exc: BaseException,
    tenant: Tenant | None,
    organization: Organization | None,
) -> None:
    log.error("plugin %s failed in hook %s", plugin, hook, exc_info=exc)
    if hook == "track_event":
        return  # never recurse into the sinks that just failed
    from app.events.record import record_event

    try:
        record_event(
            "plugin_failed",
            tenant=tenant,
            organization=organization,
            data={
                "plugin": plugin,
                "hook": hook,
                "error": type(exc).__name__,
                "timed_out": isinstance(exc, HookTimeout),
            },
        )
    except Exception:  # the database may be what failed
        log.exception("could not record the failure of plugin %s", plugin)


# --- Template variables --------------------------------------------------------------------


def init_template_hook(app: Flask) -> None:
    """Merge ``extra_template_vars`` answers into every template's context."""
    from flask import before_render_template

    before_render_template.connect(_add_template_vars, app, weak=False)


def _add_template_vars(
    sender: Flask, template: t.Any, context: dict[str, t.Any], **_extra: t.Any
) -> None:
    from flask import g
    from flask import has_request_context
    from flask import request

    from app.branding.context import current_organization

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
