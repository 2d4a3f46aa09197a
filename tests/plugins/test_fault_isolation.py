"""A plugin that raises or hangs is contained, named in an event, and bounded in time."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from app import hookimpl
from app.hooks import HookTimeout
from app.hooks import PluginError
from app.hooks import call_hook
from app.hooks import hook_budget
from app.hooks import time_left


class Raises:
    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self):
        raise KeyError("boom")


class Hangs:
    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self):
        time.sleep(30)
        return {"never": True}


class Swallows:
    """A plugin whose own ``except Exception`` must not swallow the timeout."""

    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self):
        try:
            time.sleep(30)
        except Exception:
            return {"swallowed": True}
        return None


class Spins:
    """Busy in Python: what the budget watchdog interrupts off the main thread."""

    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self):
        try:
            while True:
                time.sleep(0.01)
        except Exception:
            return {"swallowed": True}


class Fine:
    @hookimpl
    def extra_template_vars(self):
        return {"fine": True}


def _call(tenant, organization=None, contain=False):
    return call_hook(
        "extra_template_vars",
        tenant=tenant,
        organization=organization,
        contain=contain,
        template="x.html",
        request=None,
    )


def test_raising_plugin_becomes_plugin_error_naming_plugin_and_hook(
    foyer_app, tenant, organization, register_plugin, enable_plugin, recorded_events
):
    register_plugin(Raises(), name="raises")
    enable_plugin("raises", organization=organization)
    with pytest.raises(PluginError) as info:
        _call(tenant, organization)
    assert (info.value.plugin, info.value.hook) == ("raises", "extra_template_vars")
    assert info.value.organization is organization
    [event] = recorded_events("plugin_failed")
    assert event.data == {
        "plugin": "raises",
        "hook": "extra_template_vars",
        "error": "KeyError",
        "timed_out": False,
    }
    assert event.organization_id == organization.id


def test_contained_failure_lets_other_plugins_answer(
    foyer_app, tenant, register_plugin, enable_plugin
):
    register_plugin(Fine(), name="fine")
    register_plugin(Raises(), name="raises")
    enable_plugin("raises")
    assert _call(tenant, contain=True) == [{"fine": True}]


def test_failing_plugin_of_one_organization_leaves_the_other_alone(
    foyer_app, tenant, make_organization, register_plugin, enable_plugin
):
    register_plugin(Raises(), name="raises")
    broken, healthy = make_organization("broken"), make_organization("healthy")
    enable_plugin("raises", organization=broken)
    with pytest.raises(PluginError):
        _call(tenant, broken)
    assert _call(tenant, healthy) == []


@pytest.mark.parametrize("plugin", [Hangs(), Swallows()], ids=["hangs", "swallows-exception"])
def test_hanging_plugin_is_interrupted_within_its_budget(
    foyer_app, tenant, register_plugin, enable_plugin, recorded_events, plugin
):
    foyer_app.extensions["foyer.settings"].plugin_timeout = 0.3
    register_plugin(plugin, name="slow")
    enable_plugin("slow")
    started = time.monotonic()
    with pytest.raises(PluginError) as info:
        _call(tenant)
    assert time.monotonic() - started < 3
    assert isinstance(info.value.original, HookTimeout)
    [event] = recorded_events("plugin_failed")
    assert event.data["plugin"] == "slow" and event.data["timed_out"] is True


def test_time_left_shrinks_inside_a_budget_and_nested_budgets_share_the_timer(foyer_app):
    assert time_left(7.0) == 7.0
    with hook_budget(1.0, "outer"):
        assert time_left(7.0) <= 1.0
        with hook_budget(5.0, "inner"):
            assert time_left(7.0) <= 1.0
        time.sleep(0.05)
    with pytest.raises(HookTimeout):
        with hook_budget(0.1, "sleepy"):
            time.sleep(5)


def _in_thread(call):
    """Run ``call`` in a request thread of its own, as granian and gthread do (with this
    thread's app context), and give back what it returned or raised."""
    outcome = {}
    context = contextvars.copy_context()

    def run():
        try:
            outcome["returned"] = context.run(call)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["raised"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return outcome


@pytest.mark.parametrize("where", ["main thread", "request thread"])
def test_busy_plugin_is_interrupted_within_its_budget_in_any_thread(
    foyer_app, tenant, register_plugin, enable_plugin, recorded_events, where
):
    foyer_app.extensions["foyer.settings"].plugin_timeout = 0.3
    register_plugin(Spins(), name="spins")
    enable_plugin("spins")
    started = time.monotonic()
    if where == "main thread":
        with pytest.raises(PluginError) as info:
            _call(tenant)
        error = info.value
    else:
        error = _in_thread(lambda: _call(tenant))["raised"]
    assert time.monotonic() - started < 3
    assert isinstance(error, PluginError) and isinstance(error.original, HookTimeout)
    assert "spins in extra_template_vars ran out of its 0.3s budget" in str(error.original)
    [event] = recorded_events("plugin_failed")
    assert event.data["plugin"] == "spins" and event.data["timed_out"] is True


def test_budget_in_a_request_thread_never_fires_after_its_block():
    """A budget that ends as the watchdog fires withdraws the exception: none surfaces
    later in the thread, and the thread's deadline is reset each time."""

    def many_short_budgets():
        for _ in range(2000):
            try:
                with hook_budget(0.001, "short"):
                    sum(range(200))
            except HookTimeout:
                pass  # fired inside its block: allowed
            assert time_left(7.0) == 7.0
        ends = time.monotonic() + 0.3
        while time.monotonic() < ends:
            sum(range(100))
        return "done"

    assert _in_thread(many_short_budgets) == {"returned": "done"}


def test_time_left_in_a_request_thread_and_blocking_calls_return_first():
    """Off the main thread a blocking call is not cut short: the budget interrupts at the
    next Python instruction after it, and time_left is what keeps calls within it."""

    def sleeps_past_the_budget():
        with hook_budget(0.1, "sleepy"):
            assert time_left(7.0) <= 0.1
            time.sleep(0.3)
            while True:
                pass

    started = time.monotonic()
    outcome = _in_thread(sleeps_past_the_budget)
    assert isinstance(outcome["raised"], HookTimeout)
    assert 0.3 <= time.monotonic() - started < 3
