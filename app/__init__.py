"""Foyer: a self-hosted, white-label B2B login platform and OpenID Connect provider.

The package root is the one import surface for plugins: every name a plugin needs comes
from here (``from app import hookimpl, LoginDecision, plugin_settings``), wherever it lives
inside. Names other than ``hookimpl`` load on first use (PEP 562), so importing one room of
the package never loads the others; :func:`create_app` is built in :mod:`app.factory`.
"""

from __future__ import annotations

import importlib
import typing as t

from app.hookspecs import hookimpl

_EXPORTS: dict[str, str] = {
    # the application
    "create_app": "app.factory",
    # calling and configuring plugins
    "PluginError": "app.hooks",
    "plugin_settings": "app.hooks",
    "time_left": "app.hooks",
    # login rules and steps (check_login)
    "LoginContext": "app.login.rules",
    "LoginDecision": "app.login.rules",
    "MFA": "app.login.rules",
    "step_done": "app.login.steps",
    "current_sign_in": "app.login.context",
    # home realm discovery (home_realm_for_identifier)
    "HomeRealm": "app.hrd.realm",
    # connection strategies (register_connection_strategies, register_legacy_stores)
    "AuthResult": "app.connections.strategies",
    "ConnectionStrategy": "app.connections.strategies",
    "RedirectStrategy": "app.connections.strategies",
    "StrategyUnavailable": "app.connections.strategies",
    "UpstreamLogin": "app.connections.strategies",
    "UpstreamAnswer": "app.connections.strategies",
    "CallbackStrategy": "app.connections.strategies",
    "UpstreamError": "app.connections.strategies",
    "UpstreamProfile": "app.connections.strategies",
    "new_state": "app.connections.strategies",
    "LegacyStore": "app.strategies.legacy",
    "LegacyUser": "app.strategies.legacy",
    "verify_hash": "app.strategies.legacy_hashes",
    "normalize_email": "app.accounts.services",
    "weak_password_reason": "app.accounts.password_strength",
    # reading organizations
    "find_organization_by_name": "app.orgs.services",
    "member_roles": "app.orgs.services",
    "organization_metadata": "app.orgs.services",
    # the objects hooks receive (for type hints)
    "Client": "app.clients.models",
    "Connection": "app.connections.models",
    "Organization": "app.orgs.models",
    "Tenant": "app.tenancy.models",
    "User": "app.accounts.models",
    # commands (register_commands)
    "AppContext": "app.clikit",
    "fail": "app.clikit",
    "pass_app": "app.clikit",
}
"""Public name -> the module that defines it."""

__all__ = ["hookimpl", *_EXPORTS]


def __getattr__(name: str) -> t.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if t.TYPE_CHECKING:  # the same names, for type checkers
    from app.accounts.models import User as User
    from app.accounts.password_strength import weak_password_reason as weak_password_reason
    from app.accounts.services import normalize_email as normalize_email
    from app.clients.models import Client as Client
    from app.clikit import AppContext as AppContext
    from app.clikit import fail as fail
    from app.clikit import pass_app as pass_app
    from app.connections.models import Connection as Connection
    from app.connections.strategies import AuthResult as AuthResult
    from app.connections.strategies import CallbackStrategy as CallbackStrategy
    from app.connections.strategies import ConnectionStrategy as ConnectionStrategy
    from app.connections.strategies import RedirectStrategy as RedirectStrategy
    from app.connections.strategies import StrategyUnavailable as StrategyUnavailable
    from app.connections.strategies import UpstreamAnswer as UpstreamAnswer
    from app.connections.strategies import UpstreamError as UpstreamError
    from app.connections.strategies import UpstreamLogin as UpstreamLogin
    from app.connections.strategies import UpstreamProfile as UpstreamProfile
    from app.connections.strategies import new_state as new_state
    from app.factory import create_app as create_app
    from app.hooks import PluginError as PluginError
    from app.hooks import plugin_settings as plugin_settings
    from app.hooks import time_left as time_left
    from app.hrd.realm import HomeRealm as HomeRealm
    from app.login.context import current_sign_in as current_sign_in
    from app.login.rules import MFA as MFA
    from app.login.rules import LoginContext as LoginContext
    from app.login.rules import LoginDecision as LoginDecision
    from app.login.steps import step_done as step_done
    from app.orgs.models import Organization as Organization
    from app.orgs.services import find_organization_by_name as find_organization_by_name
    from app.orgs.services import member_roles as member_roles
    from app.orgs.services import organization_metadata as organization_metadata
    from app.strategies.legacy import LegacyStore as LegacyStore
    from app.strategies.legacy import LegacyUser as LegacyUser
    from app.strategies.legacy_hashes import verify_hash as verify_hash
    from app.tenancy.models import Tenant as Tenant
