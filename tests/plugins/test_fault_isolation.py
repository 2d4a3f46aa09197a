"""A plugin that raises or hangs is contained, named in an event, and bounded in time."""

from __future__ import annotations

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
