"""Builtin claims rule: the standard profile and email claims, released by scope.

Registered as a plugin (``BUILTIN_PLUGINS``) through the same ``extra_token_claims`` hook as
any claims rule, so a later plugin may reword a standard claim. Access tokens get none of
them: they carry only what an API needs (RFC 9068), the rest is one userinfo call away.
"""

from __future__ import annotations

import typing as t

from app.hookspecs import hookimpl
from app.oidc.claims import standard_claims

if t.TYPE_CHECKING:
    from app.accounts.models import User


@hookimpl(trylast=True)
def extra_token_claims(target: str, user: User, scopes: list[str]) -> dict[str, t.Any] | None:
    if target == "access_token":
        return None
    return standard_claims(user, scopes)
