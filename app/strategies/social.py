"""Social presets of the ``oidc`` strategy: ``strategy: google`` and ``strategy: microsoft``.

A preset is the generic strategy with the provider's issuer, scopes and rules filled in, so
a connection needs only ``client_id`` (and the ``client_secret`` secret); every ``oidc``
option still applies (``upstream_logout``, ``mapping``, ``timeout``...), except
``assume_email_verified``: a preset takes an address only when the provider says it verified
it, by the provider's own rule:

- Google: the ``email_verified`` claim; ``hosted_domain`` (a Google Workspace domain) is
  sent as ``hd`` and the token's ``hd`` claim must match it.
- Microsoft (Entra ID, multi-tenant): the ``email`` claim of Entra is whatever the tenant's
  admin typed; it is taken only with the ``xms_edov`` claim (the email domain is verified
  by the tenant that owns it). The discovery document of ``…/organizations/v2.0`` names the
  issuer ``…/{tenantid}/v2.0``: the token's ``iss`` must be that template with the token's
  own ``tid``, and ``tenants`` (when set) lists the only tenants let in.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing as t
from urllib.parse import urlencode

from joserfc import jws

from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamLogin
from app.connections.strategies import UpstreamProfile
from app.hookspecs import hookimpl
from app.strategies import oidc_metadata
from app.strategies.oidc import OidcStrategy
from app.strategies.oidc import map_profile
from app.strategies.oidc_options import OidcOptions
from app.strategies.oidc_options import OptionsError
from app.strategies.oidc_options import check_secrets
from app.strategies.oidc_options import parse_options

if t.TYPE_CHECKING:
    from app.connections.strategies import ConnectionStrategy

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TENANT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TENANT_SEGMENT = re.compile(r"/(common|organizations|consumers|[0-9a-fA-F-]{36})/v2\.0/?$")
TEMPLATE = "{tenantid}"


def truthy(value: t.Any) -> bool:
    """A boolean claim as providers send it (``true``, ``"true"``, ``1``)."""
    return (
        value is True or value == 1 or (isinstance(value, str) and value.lower() in ("true", "1"))
    )


class PresetStrategy(OidcStrategy):
    """An ``oidc`` connection whose issuer, scopes and email rule are the provider's."""

    label: t.ClassVar[str]
    """The provider's name, on the button when the connection has no display name."""
    defaults: t.ClassVar[dict[str, t.Any]]
    extra: t.ClassVar[tuple[str, ...]] = ()
    """Options of this preset only (not passed to the generic parser)."""

    @classmethod
    def generic(cls, options: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
        given = {k: v for k, v in (options or {}).items() if k not in cls.extra}
        return {**cls.defaults, **given}

    @classmethod
    def check_extra(cls, options: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
        return []

    @classmethod
    def check_options(  # type: ignore[override]
        cls, options: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any] | None
    ) -> list[tuple[str, str]]:
        """Every problem of the options (and, when given, secrets)."""
        options = dict(options or {})
        problems = cls.check_extra(options)
        if "assume_email_verified" in options:
            problems.append(
                ("assume_email_verified", f"{cls.label} says itself which addresses it verified")
            )
        try:
            parsed = parse_options(cls.generic(options))
        except OptionsError as exc:
            return problems + exc.problems
        if secrets is not None:
            problems += check_secrets(parsed.auth_method, secrets)
        return problems

    @property
    def options(self) -> OidcOptions:
        raw = dict(self.connection.options or {})
        problems = self.check_options(raw, None)
        if problems:
            raise UpstreamError("upstream_misconfigured", str(OptionsError(problems)))
        return parse_options(self.generic(raw))

    def email_verified(self, claims: t.Mapping[str, t.Any]) -> bool:
        raise NotImplementedError

    def profile(
        self,
        options: OidcOptions,
        claims: dict[str, t.Any],
        id_token: str,
        tokens: t.Mapping[str, t.Any],
    ) -> UpstreamProfile:
        """The generic mapping, then the address only when the provider verified it."""
        profile = map_profile(options, claims, id_token)
        verified = bool(profile.email) and self.email_verified(claims)
        return dataclasses.replace(
            profile, email=profile.email if verified else None, email_verified=verified
        )


class GoogleStrategy(PresetStrategy):
    """``strategy: google``: Sign in with Google (Google accounts and Google Workspace)."""

    name: t.ClassVar[str] = "google"
    label = "Google"
    defaults: t.ClassVar[dict[str, t.Any]] = {
        "issuer": "https://accounts.google.com",
        "scope": "openid email profile",
    }
    extra = ("hosted_domain",)

    @classmethod
    def check_extra(cls, options: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
        domain = options.get("hosted_domain")
        if domain is not None and (not isinstance(domain, str) or not DOMAIN.match(domain)):
            return [("hosted_domain", "a Google Workspace domain such as example.com")]
        return []

    @property
    def hosted_domain(self) -> str | None:
        return (self.connection.options or {}).get("hosted_domain")

    def start_login(self, login: UpstreamLogin) -> str:
        url = super().start_login(login)
        if self.hosted_domain:  # Google's account chooser shows that domain's accounts
            url += "&" + urlencode({"hd": self.hosted_domain})
        return url

    def email_verified(self, claims: t.Mapping[str, t.Any]) -> bool:
        return truthy(claims.get("email_verified"))

    def profile(
        self,
        options: OidcOptions,
        claims: dict[str, t.Any],
        id_token: str,
        tokens: t.Mapping[str, t.Any],
    ) -> UpstreamProfile:
        domain = self.hosted_domain
        if domain and claims.get("hd") != domain:  # hd is a hint: the token decides
            raise UpstreamError("access_denied", f"not an account of {domain} (hd)")
        return super().profile(options, claims, id_token, tokens)


class MicrosoftStrategy(PresetStrategy):
    """``strategy: microsoft``: Sign in with Microsoft (Entra ID work and school accounts of
    any tenant, or of the ``tenants`` listed)."""

    name: t.ClassVar[str] = "microsoft"
    label = "Microsoft"
    defaults: t.ClassVar[dict[str, t.Any]] = {
        "issuer": "https://login.microsoftonline.com/organizations/v2.0",
        "scope": "openid profile email",
    }
    extra = ("tenants",)

    @classmethod
    def check_extra(cls, options: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
        tenants = options.get("tenants")
        if tenants is not None and (
            not isinstance(tenants, list)
            or not all(isinstance(x, str) and TENANT_ID.match(x.lower()) for x in tenants)
        ):
            return [("tenants", "a list of Entra tenant ids (GUIDs)")]
        return []

    @property
    def tenants(self) -> set[str]:
        return {x.lower() for x in (self.connection.options or {}).get("tenants") or []}

    @staticmethod
    def template(issuer: str) -> str:
        """``…/organizations/v2.0`` → ``…/{tenantid}/v2.0``, the issuer its discovery names."""
        return TENANT_SEGMENT.sub(f"/{TEMPLATE}/v2.0", issuer)

    def discovery(self, options: OidcOptions) -> dict[str, t.Any]:
        return oidc_metadata.discovery(
            options.issuer,
            options.discovery_ttl,
            options.timeout,
            also=(self.template(options.issuer),),
            strategy=self.name,
        )

    def issuer_for(self, metadata: t.Mapping[str, t.Any], tid: t.Any) -> str:
        """The issuer of tenant ``tid``: the discovery's issuer, its template filled in."""
        if not isinstance(tid, str) or not TENANT_ID.match(tid):
            raise UpstreamError("invalid_response", "no tenant id (tid) in the ID token")
        if self.tenants and tid not in self.tenants:
            raise UpstreamError("access_denied", f"tenant {tid} is not one of this connection's")
        return str(metadata.get("issuer", "")).replace(TEMPLATE, tid)

    def issuer_matches(
        self, options: OidcOptions, metadata: t.Mapping[str, t.Any], issuer: str
    ) -> bool:
        issuer_template = str(metadata.get("issuer", ""))
        if TEMPLATE not in issuer_template:
            return issuer == issuer_template
        head, tail = issuer_template.split(TEMPLATE, 1)
        tid = issuer[len(head) : len(issuer) - len(tail)] if issuer.startswith(head) else ""
        return issuer.endswith(tail) and bool(TENANT_ID.match(tid))

    def token_issuer(
        self, options: OidcOptions, metadata: t.Mapping[str, t.Any], id_token: str
    ) -> str:
        """Read ``tid`` before the signature is checked only to know which ``iss`` to
        demand; the signature and every claim are then checked as for any IdP."""
        try:
            payload = jws.extract_compact(id_token.encode()).payload
            tid = json.loads(payload).get("tid")
        except Exception as exc:  # noqa: BLE001 - any unreadable token is refused
            raise UpstreamError("invalid_response", "the ID token cannot be read") from exc
        return self.issuer_for(metadata, tid)

    def email_verified(self, claims: t.Mapping[str, t.Any]) -> bool:
        return truthy(claims.get("xms_edov"))


PRESETS: dict[str, type[PresetStrategy]] = {
    cls.name: cls for cls in (GoogleStrategy, MicrosoftStrategy)
}


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [GoogleStrategy, MicrosoftStrategy]
