"""The provider metadata (OpenID Connect Discovery 1.0, RFC 8414) of an issuer, cached."""

from __future__ import annotations

import json
import typing as t

from flask import Flask
from flask import current_app
from flask import request
from flask import url_for

from app.i18n import SUPPORTED_LOCALES
from app.login.assurance import ACR_LEVELS
from app.oidc import keys
from app.oidc.grants import AUTH_METHODS
from app.oidc.grants import CONFIDENTIAL_AUTH_METHODS

SCOPES_SUPPORTED = ["openid", "profile", "email", "offline_access"]
CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "locale",
    "email",
    "email_verified",
    "org_id",
    "org_name",
]
MAX_CACHED_ISSUERS = 256
CACHE_MAX_AGE = 300
"""Seconds relying parties may cache the metadata and the JWKS (``Cache-Control``)."""


def init_discovery(app: Flask) -> None:
    app.extensions["foyer.oidc.discovery"] = {}


def build_metadata(issuer: str) -> dict[str, t.Any]:
    """The metadata of ``issuer`` (:func:`app.tenancy.resolve.request_issuer`: configured,
    never taken from the request)."""

    def endpoint(name: str) -> str:
        # url_for keeps an /o/<name> path (app.tenancy.paths), which the issuer already ends with
        return issuer.removesuffix(request.script_root) + url_for(name)

    return {
        "issuer": issuer,
        "authorization_endpoint": endpoint("oidc.authorize"),
        "token_endpoint": endpoint("oidc.token"),
        "userinfo_endpoint": endpoint("oidc.userinfo"),
        "jwks_uri": endpoint("oidc.jwks"),
        "revocation_endpoint": endpoint("oidc.revoke"),
        "introspection_endpoint": endpoint("oidc.introspect"),
        "end_session_endpoint": endpoint("oidc.end_session"),
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "acr_values_supported": list(ACR_LEVELS),
        "ui_locales_supported": list(SUPPORTED_LOCALES),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


def metadata_json(issuer: str) -> bytes:
    """The serialized metadata, built once per issuer and process."""
    cache: dict[str, bytes] = current_app.extensions["foyer.oidc.discovery"]
    document = cache.get(issuer)
    if document is None:
        if len(cache) >= MAX_CACHED_ISSUERS:  # one per configured domain and path: bounded
            cache.clear()
        document = json.dumps(build_metadata(issuer), separators=(",", ":")).encode()
        cache[issuer] = document
    return document
