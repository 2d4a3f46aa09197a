"""Plugin settings (schema, validation, tenant defaults and organization overrides) and scoping."""

from __future__ import annotations

import dataclasses

import pytest

from app import hookimpl
from app.db import session
from app.hooks import PluginSettingsInvalid
from app.hooks import call_hook
from app.hooks import plugin_settings
from app.hooks import validate_plugin_settings


def test_validation_names_every_problem(foyer_app):
    assert validate_plugin_settings("deny_ip_ranges", {"cidrs": ["10.0.0.0/8"]}) == []
    [unknown] = validate_plugin_settings("nope", {})
    assert unknown.startswith("nope: no plugin of that name is installed (installed: ")
    assert validate_plugin_settings("deny_ip_range", {}) == [
        "deny_ip_range: no plugin of that name is installed (did you mean 'deny_ip_ranges'?)"
    ]
    assert validate_plugin_settings("deny_ip_ranges", {"cidr": ["10.0.0.0/8"]})[0] == (
        "deny_ip_ranges: unknown setting 'cidr' (did you mean 'cidrs'?)"
    )
    assert validate_plugin_settings("deny_ip_ranges", {}) == [
        "deny_ip_ranges: setting 'cidrs' is required"
    ]
    assert validate_plugin_settings("deny_ip_ranges", {"cidrs": "10.0.0.0/8", "x": 1}) == [
        "deny_ip_ranges: unknown setting 'x'",
        "deny_ip_ranges: setting 'cidrs' must be a list of str",
    ]
    assert validate_plugin_settings("deny_ip_ranges", {"cidrs": ["10.0.0.0/33"]}) == [
        "deny_ip_ranges: '10.0.0.0/33' is not an IP network in CIDR notation"
    ]
    assert validate_plugin_settings("org_claims", {"roles": "yes"}) == [
        "org_claims: setting 'roles' must be true or false"
    ]
    assert validate_plugin_settings("require_verified_email", {"a": 1}) == [
        "require_verified_email: this plugin takes no settings"
    ]
    assert validate_plugin_settings("org_claims", ["roles"]) == [
        "org_claims: settings must be a mapping of names to values"
    ]


@dataclasses.dataclass(frozen=True)
class GreeterSettings:
    greeting: str = "hello"
    shout: bool = False
    limit: int | None = None


class Greeter:
    """A scoped plugin reading its settings inside a hook, with no arguments."""

    FOYER_SCOPED = True
    FOYER_SETTINGS = GreeterSettings

    @hookimpl
    def extra_template_vars(self, template):
        settings = plugin_settings()
        text = settings.greeting.upper() if settings.shout else settings.greeting
        return {"greeting": text, "limit": settings.limit}


def _vars(tenant, organization=None):
    return call_hook(
        "extra_template_vars",
        tenant=tenant,
        organization=organization,
        template="x.html",
        request=None,
    )


def test_scoped_plugin_runs_only_where_enabled(
    foyer_app, tenant, make_organization, register_plugin, enable_plugin
):
    register_plugin(Greeter(), name="greeter")
    acme_west, acme_east = make_organization("west"), make_organization("east")
    assert _vars(tenant) == []
    enable_plugin("greeter", {"greeting": "howdy"}, organization=acme_west)
    assert _vars(tenant, acme_west) == [{"greeting": "howdy", "limit": None}]
    assert _vars(tenant, acme_east) == []
    assert _vars(tenant) == []


def test_tenant_settings_are_defaults_the_organization_overrides(
    foyer_app, tenant, make_organization, register_plugin, enable_plugin
):
    register_plugin(Greeter(), name="greeter")
    west, east = make_organization("west"), make_organization("east")
    enable_plugin("greeter", {"greeting": "hi", "limit": 3})
    enable_plugin("greeter", {"shout": True}, organization=west)
    assert _vars(tenant, west) == [{"greeting": "HI", "limit": 3}]
    assert _vars(tenant, east) == [{"greeting": "hi", "limit": 3}]
    assert plugin_settings("greeter", tenant=tenant, organization=west) == GreeterSettings(
        "hi", True, 3
    )


def test_bad_stored_settings_fail_the_plugin_not_the_app(
    foyer_app, tenant, register_plugin, recorded_events
):
    register_plugin(Greeter(), name="greeter")
    tenant.settings = {"plugins": {"greeter": {"limit": "many"}}}
    session.commit()
    with pytest.raises(PluginSettingsInvalid):
        plugin_settings("greeter", tenant=tenant)
    assert (
        call_hook(
            "extra_template_vars", tenant=tenant, contain=True, template="x.html", request=None
        )
        == []
    )
    failed = recorded_events("plugin_failed")
    assert [e.data["plugin"] for e in failed] == ["greeter"]
    assert failed[0].data["error"] == "PluginSettingsInvalid"


def test_plugin_settings_outside_a_hook_needs_a_name(foyer_app):
    with pytest.raises(RuntimeError):
        plugin_settings()


def test_scoped_event_sink_sees_only_enabling_tenants(
    foyer_app, tenant, register_plugin, enable_plugin
):
    from app.events.record import record_event
    from app.tenancy.services import create_tenant

    seen = []

    class Sink:
        FOYER_SCOPED = True

        @hookimpl
        def track_event(self, event):
            seen.append((event.type, event.tenant_id))

    register_plugin(Sink(), name="sink")
    other = create_tenant("other", "Other", ["https://other.test"])
    session.commit()
    enable_plugin("sink")
    record_event("config_applied", tenant=tenant)
    record_event("config_applied", tenant=other)
    record_event("config_applied", tenant_id=tenant.id)
    assert seen == [("config_applied", tenant.id), ("config_applied", tenant.id)]
