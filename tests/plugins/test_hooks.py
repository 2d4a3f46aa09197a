"""Hooks are called the pluggy way: wrappers (new and old style), tryfirst/trylast and
firstresult behave as pluggy documents, under Foyer's budget, containment and scoping."""

from __future__ import annotations

import dataclasses
import time

import pytest

from app import hookimpl
from app.accounts.services import PasswordRejected
from app.db import session
from app.hooks import HookTimeout
from app.hooks import PluginError
from app.hooks import call_hook
from app.hooks import call_hook_named
from app.hooks import plugin_settings
from app.login.rules import LoginDecision
from app.orgs.services import add_member
from app.tenancy.models import TenantDomain
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import run_authorization_code_flow

TEAM_CLAIM = "https://login.test/claims/team"


class Timing:
    """The timing wrapper pluggy documents, around any one hook."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, float]] = []

    def timed(self) -> object:
        started = time.perf_counter()
        answer = yield
        self.calls.append((answer, time.perf_counter() - started))
        return answer


class TimesPasswordChecks(Timing):
    @hookimpl(wrapper=True)
    def check_password(self):
        return (yield from self.timed())


class TimesClaims(Timing):
    @hookimpl(wrapper=True)
    def extra_token_claims(self):
        return (yield from self.timed())


class TeamClaim:
    @hookimpl
    def extra_token_claims(self, target, user):
        return {TEAM_CLAIM: "red"} if target == "id_token" else None


class SlowRule:
    @hookimpl
    def check_password(self):
        time.sleep(0.02)


class ShortRule:
    @hookimpl
    def check_password(self, password):
        return "Too obvious." if password == "our company motto forever" else None


def test_timing_wrapper_around_check_password_lets_the_right_password_sign_in(
    foyer_app, client, make_user, register_plugin
):
    timing = register_plugin(TimesPasswordChecks(), name="timing")
    register_plugin(SlowRule(), name="slow-rule")
    make_user(email="tim@example.com")
    [(answer, seconds)] = timing.calls
    assert answer is None and seconds >= 0.02
    assert login(client, "tim@example.com", USER_PASSWORD).status_code == 303


def test_timing_wrapper_sees_a_rejection_and_passes_it_on(foyer_app, make_user, register_plugin):
    timing = register_plugin(TimesPasswordChecks(), name="timing")
    register_plugin(ShortRule(), name="short-rule")
    with pytest.raises(PasswordRejected, match="Too obvious"):
        make_user(email="tim@example.com", password="our company motto forever")
    assert [answer for answer, _ in timing.calls] == ["Too obvious."]


def test_timing_wrapper_around_extra_token_claims_keeps_the_claims(
    foyer_app, client, user, oidc_client, register_plugin
):
    timing = register_plugin(TimesClaims(), name="timing")
    register_plugin(TeamClaim(), name="team")
    model, secret = oidc_client
    result = run_authorization_code_flow(client, model, secret, "alice@example.com", USER_PASSWORD)
    assert result.id_token[TEAM_CLAIM] == "red"
    assert result.id_token["email"] == "alice@example.com"
    assert result.userinfo["email"] == "alice@example.com"
    assert timing.calls and all(isinstance(answer, list) for answer, _ in timing.calls)
    assert any({TEAM_CLAIM: "red"} in answer for answer, _ in timing.calls)


class OldStyleWrapper:
    """A ``hookwrapper=True`` implementation, receiving a ``pluggy.Result``."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @hookimpl(hookwrapper=True)
    def extra_token_claims(self, target):
        outcome = yield
        self.seen.append(target)
        if target == "id_token":
            added = [{TEAM_CLAIM: "blue"}, {"sub": "someone else"}]
            outcome.force_result([*added, *outcome.get_result()])


def test_old_style_hookwrapper_sees_and_changes_the_answers(
    foyer_app, client, user, oidc_client, register_plugin, recorded_events
):
    wrapper = register_plugin(OldStyleWrapper(), name="old-style")
    model, secret = oidc_client
    result = run_authorization_code_flow(client, model, secret, "alice@example.com", USER_PASSWORD)
    assert "id_token" in wrapper.seen and "userinfo" in wrapper.seen
    assert result.id_token[TEAM_CLAIM] == "blue"
    assert result.id_token["sub"] == user.id
    assert result.id_token["email"] == "alice@example.com"
    [rejected] = recorded_events("claim_rejected")
    assert (rejected.data["plugin"], rejected.data["claim"]) == ("old-style", "sub")


class Denies:
    def __init__(self, code: str) -> None:
        self.code = code

    @hookimpl
    def check_login(self, context):
        return LoginDecision(self.code, "Not today.")


class Watches:
    def __init__(self) -> None:
        self.called = 0

    @hookimpl
    def check_login(self, context):
        self.called += 1


def test_no_login_rule_runs_after_a_denial(
    foyer_app, client, user, register_plugin, recorded_events
):
    later = register_plugin(Watches(), name="later")
    register_plugin(Denies("first"), name="denies")  # registered last: pluggy calls it first
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 403
    assert later.called == 0
    [denied] = recorded_events("login_denied")
    assert denied.data["code"] == "first"


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def answer(self) -> dict[str, bool]:
        return {self.name: True}


class Plain(Named):
    @hookimpl
    def extra_template_vars(self):
        return self.answer()


class First(Named):
    @hookimpl(tryfirst=True)
    def extra_template_vars(self):
        return self.answer()


class Last(Named):
    @hookimpl(trylast=True)
    def extra_template_vars(self):
        return self.answer()


def _template_vars(tenant, organization=None, contain=False):
    return call_hook_named(
        "extra_template_vars",
        tenant=tenant,
        organization=organization,
        contain=contain,
        template="x.html",
        request=None,
    )


def test_tryfirst_then_last_registered_first_then_trylast(foyer_app, tenant, register_plugin):
    for plugin in (Last("last"), Plain("early"), First("first"), Plain("late")):
        register_plugin(plugin, name=plugin.name)
    assert [name for name, _ in _template_vars(tenant)] == ["first", "late", "early", "last"]


def test_a_denial_from_a_tryfirst_rule_wins(foyer_app, tenant, register_plugin):
    class DeniesFirst(Denies):
        @hookimpl(tryfirst=True)
        def check_login(self, context):
            return LoginDecision(self.code, "Not today.")

    register_plugin(DeniesFirst("tryfirst"), name="tryfirst")
    register_plugin(Denies("plain"), name="plain")
    [(plugin, decision)] = call_hook_named("check_login", tenant=tenant, context=None)
    assert (plugin, decision.code) == ("tryfirst", "tryfirst")


class BrokenWrapper:
    FOYER_SCOPED = True

    @hookimpl(wrapper=True)
    def check_login(self):
        raise ConnectionError("risk engine down")
        yield  # a generator all the same


@pytest.fixture
def orgs(tenant, make_organization, user):
    west, east = make_organization("west", "West Corp"), make_organization("east", "East Corp")
    for org in (west, east):
        tenant.domains.append(
            TenantDomain(hostname=f"{org.name}.login.test", organization_id=org.id)
        )
        add_member(org, user)
    session.commit()
    return west, east


def test_failing_wrapper_of_one_organization_leaves_the_other_alone(
    foyer_app, orgs, register_plugin, enable_plugin, recorded_events
):
    west, east = orgs
    register_plugin(BrokenWrapper(), name="broken-wrapper")
    enable_plugin("broken-wrapper", organization=west)
    west_page = login(host_client(foyer_app, "west.login.test"), "alice@example.com", USER_PASSWORD)
    assert west_page.status_code == 502
    [failed] = recorded_events("plugin_failed")
    assert (failed.data["plugin"], failed.data["hook"]) == ("broken-wrapper", "check_login")
    assert failed.organization_id == west.id
    east_page = login(host_client(foyer_app, "east.login.test"), "alice@example.com", USER_PASSWORD)
    assert east_page.status_code == 303


class Raises:
    @hookimpl
    def extra_template_vars(self):
        raise KeyError("boom")


class Passes:
    """A wrapper that lets whatever the others raise pass through."""

    @hookimpl(wrapper=True)
    def extra_template_vars(self):
        return (yield)


def test_a_wrapper_is_not_blamed_for_what_it_passes_through(
    foyer_app, tenant, register_plugin, recorded_events
):
    register_plugin(Raises(), name="raises")
    register_plugin(Passes(), name="passes")
    with pytest.raises(PluginError) as info:
        _template_vars(tenant)
    assert info.value.plugin == "raises"
    assert [e.data["plugin"] for e in recorded_events("plugin_failed")] == ["raises"]


class BreaksBeforeYield:
    @hookimpl(wrapper=True)
    def extra_template_vars(self):
        raise KeyError("boom")
        yield  # a generator all the same


def test_a_contained_wrapper_failure_leaves_the_call_as_if_it_were_not_there(
    foyer_app, tenant, register_plugin, recorded_events
):
    register_plugin(Plain("fine"), name="fine")
    register_plugin(BreaksBeforeYield(), name="breaks")
    assert _template_vars(tenant, contain=True) == [("fine", {"fine": True})]
    [failed] = recorded_events("plugin_failed")
    assert (failed.data["plugin"], failed.data["error"]) == ("breaks", "KeyError")


class Hangs:
    FOYER_SCOPED = True

    @hookimpl
    def extra_template_vars(self):
        time.sleep(30)


class HangsAfterYield:
    FOYER_SCOPED = True

    @hookimpl(wrapper=True)
    def extra_template_vars(self):
        answers = yield
        time.sleep(30)
        return [*answers, {"never": True}]


@pytest.mark.parametrize("plugin", [Hangs(), HangsAfterYield()], ids=["plain", "wrapper"])
def test_timed_out_plugin_is_contained(
    foyer_app, tenant, register_plugin, enable_plugin, recorded_events, plugin
):
    foyer_app.extensions["foyer.settings"].plugin_timeout = 0.3
    register_plugin(Plain("fine"), name="fine")
    register_plugin(plugin, name="slow")
    enable_plugin("slow")
    started = time.monotonic()
    assert _template_vars(tenant, contain=True) == [("fine", {"fine": True})]
    assert time.monotonic() - started < 3
    [failed] = recorded_events("plugin_failed")
    assert failed.data["plugin"] == "slow" and failed.data["timed_out"] is True


def test_timed_out_plugin_raises_when_not_contained(
    foyer_app, tenant, register_plugin, enable_plugin
):
    foyer_app.extensions["foyer.settings"].plugin_timeout = 0.3
    register_plugin(HangsAfterYield(), name="slow")
    enable_plugin("slow")
    with pytest.raises(PluginError) as info:
        _template_vars(tenant)
    assert info.value.plugin == "slow" and isinstance(info.value.original, HookTimeout)


@dataclasses.dataclass(frozen=True)
class Greeting:
    word: str = "hello"


class GreetsAround:
    FOYER_SCOPED = True
    FOYER_SETTINGS = Greeting

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def extra_template_vars(self):
        self.seen.append(plugin_settings().word)
        answers = yield
        self.seen.append(plugin_settings().word)
        return answers


class GreetsInside:
    """Calls another hook from inside its own, then reads its settings again."""

    FOYER_SCOPED = True
    FOYER_SETTINGS = Greeting

    @hookimpl
    def extra_template_vars(self, tenant):
        before = plugin_settings().word
        call_hook("check_password", tenant=tenant, password="x", user=None, email=None)
        return {"inside": (before, plugin_settings().word)}


def test_plugin_settings_answers_for_the_running_plugin(
    foyer_app, tenant, register_plugin, enable_plugin
):
    around = register_plugin(GreetsAround(), name="around")
    register_plugin(GreetsInside(), name="inside")
    register_plugin(ShortRule(), name="short-rule")
    enable_plugin("around", {"word": "outer"})
    enable_plugin("inside", {"word": "inner"})
    assert _template_vars(tenant) == [("inside", {"inside": ("inner", "inner")})]
    assert around.seen == ["outer", "outer"]
