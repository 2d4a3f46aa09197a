"""Calling hooks for the current tenant and organization, the pluggy way.

Runtime code calls hooks only through :func:`call_hook` (or :func:`call_hook_named`): it
leaves out the scoped plugins (``FOYER_SCOPED = True``) that the tenant or organization does
not enable with ``pm.subset_hook_caller``, then calls pluggy's hook caller, so ``wrapper=True``
and ``hookwrapper=True`` implementations, ``tryfirst``/``trylast`` and ``firstresult``
behave as pluggy documents. Foyer adds its own guard around every implementation, installed
once when a plugin is registered (:class:`GuardedPluginManager`): a time budget, the running
plugin for :func:`plugin_settings`, and fault containment. Start-up hooks (``register_*``,
``extra_theme_dirs``) are called on ``pm.hook`` directly, unguarded.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import heapq
import logging
import os
import signal
import threading
import time
import types
import typing as t

import blinker
import pluggy
from flask import current_app

from app.clikit import did_you_mean
from app.observability import metrics
from app.request_watchdog import set_async_exc

if t.TYPE_CHECKING:
    from app.orgs.models import Organization
    from app.tenancy.models import Tenant

log = logging.getLogger(__name__)


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

    def __init__(self, *args: object) -> None:
        # the budget watchdog raises the class in another thread: its message waits there
        waiting = _timeout_messages.pop(threading.get_ident(), "ran out of its budget")
        super().__init__(*(args or (waiting,)))


class PluginSettingsInvalid(ValueError):
    """A plugin's configured settings do not fit its ``FOYER_SETTINGS`` schema."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


hook_failed = blinker.Signal(
    """Sent by :func:`report_failure` with the app as sender and ``plugin``, ``hook``,
    ``error``, ``tenant``, ``organization``; the app records it as a ``plugin_failed`` event."""
)


def report_failure(
    plugin: str,
    hook: str,
    error: BaseException,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
) -> None:
    """Log a plugin's failure with its traceback and tell :data:`hook_failed` listeners."""
    log.error("plugin %s failed in hook %s", plugin, hook, exc_info=error)
    metrics.count_hook_failure(plugin, hook)
    hook_failed.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        plugin=plugin,
        hook=hook,
        error=error,
        tenant=tenant,
        organization=organization,
    )


# --- The manager ---------------------------------------------------------------------------


class GuardedPluginManager(pluggy.PluginManager):
    """A pluggy manager whose hook implementations run under Foyer's guard in hook calls."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name=name)
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or []:
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        # pluggy offers no public way to wrap an implementation: the guard
                        # replaces the function once, keeping the argnames pluggy read from it
                        impl.function = _guard(impl, caller.name)  # type: ignore[misc]
        return registered


def plugin_manager() -> GuardedPluginManager:
    return t.cast(GuardedPluginManager, current_app.extensions["foyer.pm"])


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


# --- Calling hooks -------------------------------------------------------------------------


@dataclasses.dataclass
class _Call:
    """One :func:`call_hook_named`: its scope and mode, and the answers given so far."""

    hook: str
    tenant: Tenant | None
    organization: Organization | None
    contain: bool
    budget: float
    firstresult: bool
    answers: list[tuple[str, t.Any]] = dataclasses.field(default_factory=list)


_calling: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "foyer_hook_call", default=None
)
_running: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "foyer_hook_plugin", default=None
)


def call_hook(
    name: str,
    *,
    tenant: Tenant | None = None,
    organization: Organization | None = None,
    contain: bool = False,
    **kwargs: t.Any,
) -> list[t.Any]:
    """Call hook ``name`` on the plugins active for this tenant/organization.

    Pluggy calls the implementations in its order (tryfirst, then last registered first,
    then trylast; wrappers around them) and stops at the first answer of a ``firstresult``
    hook, so the list holds at most one answer. Each implementation has ``plugin_timeout``
    seconds (see :func:`hook_budget`). One that raises or runs out of time is reported
    (:func:`report_failure`, a ``plugin_failed`` event naming the plugin and hook); then,
    with ``contain=True``, it counts as no answer and the others still run; otherwise
    :class:`PluginError` is raised for the caller's error page.
    """
    return [
        answer
        for _plugin, answer in call_hook_named(
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
    if not caller.get_hookimpls():
        return []  # what calling it answers, without finding the enabled plugins first
    enabled = enabled_plugins(tenant, organization)
    left_out = [
        impl.plugin
        for impl in caller.get_hookimpls()
        if impl.plugin_name not in enabled and is_scoped(impl.plugin)
    ]
    if left_out:
        caller = pm.subset_hook_caller(name, remove_plugins=left_out)
    call = _Call(
        hook=name,
        tenant=tenant,
        organization=organization,
        contain=contain,
        budget=float(current_app.extensions["foyer.settings"].plugin_timeout),
        firstresult=bool(caller.spec and caller.spec.opts.get("firstresult")),
    )
    token = _calling.set(call)
    try:
        result = caller(tenant=tenant, organization=organization, **kwargs)
    finally:
        _calling.reset(token)
    return [(_answered_by(call, answer), answer) for answer in _answers(call, result)]


def _answers(call: _Call, result: t.Any) -> list[t.Any]:
    """The answers in a hook caller's result: one value for firstresult hooks, else a list."""
    if call.firstresult:
        return [] if result is None else [result]
    return [answer for answer in result if answer is not None]


def _answered_by(call: _Call, answer: t.Any) -> str:
    for index, (plugin, given) in enumerate(call.answers):
        if given is answer:
            del call.answers[index]  # the same object given twice belongs to each in turn
            return plugin
    return "(unknown)"


def _guard(impl: pluggy.HookImpl, hook: str) -> t.Callable[..., t.Any]:
    """The implementation's function, run under :func:`_contained` inside hook calls."""
    if impl.hookwrapper or impl.wrapper:
        return _guard_wrapper(impl.function, impl.plugin_name, hook, old_style=impl.hookwrapper)
    function, plugin = impl.function, impl.plugin_name

    @functools.wraps(function)
    def run(*args: t.Any, **kwargs: t.Any) -> t.Any:
        call = _calling.get()
        if call is None or call.hook != hook:  # a start-up hook, or pm.hook called directly
            return function(*args, **kwargs)
        answer = None
        with _contained(plugin, call):
            answer = function(*args, **kwargs)
        if answer is not None:
            call.answers.append((plugin, answer))
        return answer

    return run


def _guard_wrapper(
    function: t.Callable[..., t.Any], plugin: str, hook: str, old_style: bool
) -> t.Callable[..., t.Any]:
    """A wrapper's code before and after its ``yield`` runs guarded, each part with its own
    budget; what the inner implementations raise passes through as pluggy documents. A
    contained failure leaves the call as if this wrapper were not there."""

    @functools.wraps(function)
    def run(*args: t.Any, **kwargs: t.Any) -> t.Generator[None, t.Any, t.Any]:
        call = _calling.get()
        if call is None or call.hook != hook:
            return (yield from function(*args, **kwargs))
        teardown = function(*args, **kwargs)
        started = False
        with _contained(plugin, call):
            next(teardown)
            started = True
        if old_style:  # receives a pluggy.Result and returns nothing
            outcome = yield
            if started:
                with _contained(plugin, call, passing=outcome.exception):
                    _finish(teardown, outcome, None)
                if outcome.exception is None:
                    _claim(call, plugin, outcome.get_result())
            return None
        result, inner = None, None
        try:
            result = yield
        except BaseException as exc:  # the wrapper sees it, as in pluggy
            inner = exc
        if started:
            with _contained(plugin, call, passing=inner):
                answer = _finish(teardown, result, inner)
                _claim(call, plugin, answer)
                return answer
        if inner is not None:
            raise inner
        return result

    return run


def _finish(
    teardown: t.Generator[None, t.Any, t.Any], sent: t.Any, thrown: BaseException | None
) -> t.Any:
    """Resume a wrapper after its ``yield``; return what it returns."""
    try:
        if thrown is None:
            teardown.send(sent)
        else:
            teardown.throw(thrown)
    except StopIteration as stop:
        return stop.value
    teardown.close()
    raise RuntimeError("a hook wrapper yielded twice")


def _claim(call: _Call, plugin: str, answer: t.Any) -> None:
    """Answers a wrapper added (rather than passed on) are paired with the wrapper's plugin."""
    for item in [answer] if call.firstresult else list(answer or []):
        if item is not None and not any(item is given for _, given in call.answers):
            call.answers.append((plugin, item))


@contextlib.contextmanager
def _contained(plugin: str, call: _Call, passing: BaseException | None = None) -> t.Iterator[None]:
    """Run a plugin's code as the running plugin, within the budget.

    A failure (other than ``passing``, an inner implementation's, on its way through a
    wrapper) is reported, then raised as :class:`PluginError` or, with ``contain``,
    swallowed: the code after the ``with`` block runs.
    """
    token = _running.set(plugin)
    started = time.perf_counter()
    try:
        with hook_budget(call.budget, f"{plugin} in {call.hook}"):
            yield
    except (Exception, HookTimeout) as exc:  # noqa: BLE001 - containment is the point
        if exc is passing:
            raise
        report_failure(plugin, call.hook, exc, call.tenant, call.organization)
        if not call.contain:
            raise PluginError(plugin, call.hook, exc, call.organization) from exc
    finally:
        _running.reset(token)
        metrics.observe_hook(plugin, call.hook, time.perf_counter() - started)


# --- Time budget ---------------------------------------------------------------------------


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

    In the main thread of a Unix process (the test client, gunicorn's sync workers) a
    SIGALRM timer interrupts it, blocking calls included. In any other thread (granian's
    and gthread's request threads) the budget watchdog raises :class:`HookTimeout` in that
    thread, at its next Python instruction: a blocking C call (a socket read, a sleep)
    returns first, which is why a plugin that calls out gives :func:`time_left` as its
    timeout. Nested budgets run under the outer one's interruption.
    """
    started = time.monotonic()
    outer = _deadline.get()
    deadline = started + seconds if outer is None else min(outer, started + seconds)
    token = _deadline.set(deadline)
    disarm = None
    try:
        # armed inside the ``try``: the budget may run out (the exception be raised here)
        # before ``_arm`` returns, and the deadline must still be reset
        if outer is None and seconds > 0:
            disarm = _arm(deadline - started, what)
        yield
    finally:
        try:
            if disarm is not None:
                disarm()
        finally:
            _deadline.reset(token)
        elapsed = time.monotonic() - started
        if seconds > 0 and elapsed > seconds:
            log.warning("%s took %.1fs (budget %.1fs)", what, elapsed, seconds)


def _arm(seconds: float, what: str) -> t.Callable[[], None] | None:
    message = f"{what} ran out of its {seconds:.1f}s budget"
    if threading.current_thread() is not threading.main_thread():
        return _watchdog().arm(seconds, message)
    return _arm_timer(seconds, message)


def _arm_timer(seconds: float, message: str) -> t.Callable[[], None] | None:
    if not hasattr(signal, "setitimer"):
        return None
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return None  # someone else's timer (pytest-timeout, an outer budget) is running
    state = {"armed": True}

    def on_alarm(_signum: int, _frame: t.Any) -> None:
        if state["armed"]:
            state["armed"] = False
            raise HookTimeout(message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))

    def disarm() -> None:
        state["armed"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    return disarm


@dataclasses.dataclass(order=True)
class _Budget:
    deadline: float
    thread: int = dataclasses.field(compare=False)
    message: str = dataclasses.field(compare=False)
    done: bool = dataclasses.field(default=False, compare=False)
    """Disarmed, or already fired (set under the watchdog's lock)."""


class _Watchdog:
    """One thread per process that interrupts budgets running out in other threads.

    It raises :class:`HookTimeout` in the budget's thread with CPython's
    ``PyThreadState_SetAsyncExc``. Firing and disarming take one lock, so an exception is
    only ever sent to a thread still inside its budget; one sent but not yet raised when the
    budget ends is withdrawn, so it never surfaces after the ``with`` block.
    """

    def __init__(self) -> None:
        # Threads that may receive the exception take the bare lock, whose ``with`` enters
        # in C: an exception raised inside a Python ``__enter__`` (the Condition's) after
        # it acquired the lock would leave it held for good. Only the watchdog, which
        # receives none, waits on the Condition.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: list[_Budget] = []
        threading.Thread(target=self._run, name="foyer-hook-budgets", daemon=True).start()

    def arm(self, seconds: float, message: str) -> t.Callable[[], None]:
        budget = _Budget(time.monotonic() + seconds, threading.get_ident(), message)
        with self._lock:
            heapq.heappush(self._due, budget)
            if self._due[0] is budget:
                # the watchdog sleeps until the earliest deadline, a disarmed one included:
                # woken only when that moves earlier, not once per hook call (a thread
                # switch each time)
                self._wake.notify()

        def disarm() -> None:
            with self._lock:
                fired, budget.done = budget.done, True
            if fired:
                set_async_exc(budget.thread, None)  # withdraw it, if not raised yet
                _timeout_messages.pop(budget.thread, None)

        return disarm

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._due and self._due[0].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                wait = self._due[0].deadline - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                budget = heapq.heappop(self._due)
                budget.done = True
                _timeout_messages[budget.thread] = budget.message
                set_async_exc(budget.thread, HookTimeout)


_timeout_messages: dict[int, str] = {}
"""The message of the :class:`HookTimeout` the watchdog raises in a thread (the exception is
created there, from its class)."""

_watchdog_of_process: list[_Watchdog] = []


def _watchdog() -> _Watchdog:
    with _watchdog_started:
        if not _watchdog_of_process:
            _watchdog_of_process.append(_Watchdog())
        return _watchdog_of_process[0]


_watchdog_started = threading.Lock()
os.register_at_fork(after_in_child=_watchdog_of_process.clear)  # its thread stays behind


# --- Settings ------------------------------------------------------------------------------


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
        call, running = _calling.get(), _running.get()
        if call is None or running is None:
            raise RuntimeError("plugin_settings() without a name only works inside a hook")
        name, tenant, organization = running, call.tenant, call.organization
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
        names = sorted(n for n, _ in plugin_manager().list_name_plugin())
        hint = did_you_mean(name, names)
        known = ", ".join(names) or "none"
        return [
            f"{name}: no plugin of that name is installed"
            + (hint if hint else f" (installed: {known})")
        ]
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
    errors = [
        f"{name}: unknown setting {key!r}" + did_you_mean(key, fields)
        for key in values
        if key not in fields
    ]
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
