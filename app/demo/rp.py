"""The demo relying party: a tiny separate Flask app signing in through Foyer.

It is what an integrator writes with authlib's Flask client: discovery, the authorization
code flow with PKCE, state and nonce (authlib keeps them in this app's session), the ID
token verified against the JWKS, userinfo, and RP-initiated logout with ``id_token_hint``
and ``post_logout_redirect_uri``. It runs on its own port with its own cookie name.

``foyer demo`` serves it with gunicorn: ``app.demo.rp:create_app_from_env()`` reads the
``FOYER_DEMO_RP_*`` variables.
"""

from __future__ import annotations

import json
import os
import secrets
import typing as t

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import Babel
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from app.i18n import TRANSLATIONS


def create_rp_app(
    issuer: str,
    client_id: str,
    client_secret: str,
    *,
    secret_key: str | None = None,
    organizations: t.Sequence[tuple[str, str]] = (),
    metadata: dict[str, t.Any] | None = None,
    partner: tuple[str, str] | None = None,
) -> Flask:
    """Build the demo application.

    :param issuer: Foyer's issuer URL; metadata comes from its discovery document.
    :param organizations: (name, display name) pairs offered as "Sign in to ..." buttons.
    :param metadata: Provider metadata to use instead of discovery (tests).
    :param partner: (client_id, secret) of a third-party application registered with
        consent; the page then offers to sign in as that application too.
    """
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="demo_rp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    oauth = OAuth(app)
    register: dict[str, t.Any] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "client_kwargs": {"scope": "openid profile email", "code_challenge_method": "S256"},
    }
    if metadata is not None:
        register.update(metadata)  # authlib keeps extra keywords as the server metadata
    else:
        register["server_metadata_url"] = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
    foyer = oauth.register("foyer", **register)
    registrations = {"foyer": foyer}
    if partner is not None:
        registrations["partner"] = oauth.register(
            "partner",
            **{
                **register,
                "client_id": partner[0],
                "client_secret": partner[1],
                "client_kwargs": {
                    "scope": "openid profile email offline_access",
                    "code_challenge_method": "S256",
                },
            },
        )
    app.extensions["demo_rp"] = {"issuer": issuer, "organizations": list(organizations)}

    @app.get("/")
    def home() -> str:
        signed_in = session.get("signed_in")
        return render_template(
            "rp/home.html",
            signed_in=signed_in,
            claims=_pretty(signed_in["claims"]) if signed_in else "",
            userinfo=_pretty(signed_in["userinfo"]) if signed_in else "",
            organizations=organizations,
            issuer=issuer,
            form_token=_form_token(),
            signed_out=request.args.get("signed_out") == "1",
            error=request.args.get("error"),
            error_description=request.args.get("error_description"),
            partner=partner is not None,
        )

    @app.post("/login")
    def login() -> Response:
        _check_form_token()
        params: dict[str, str] = {}
        org = request.form.get("organization", "")
        if org and org in {name for name, _ in organizations}:
            params["organization"] = org
        if request.form.get("as") == "partner" and "partner" in registrations:
            response = registrations["partner"].authorize_redirect(
                url_for("partner_callback", _external=True), **params
            )
        else:
            response = foyer.authorize_redirect(url_for("callback", _external=True), **params)
        response.status_code = 303
        return t.cast(Response, response)

    def finish(client: t.Any, as_partner: bool) -> Response:
        if "error" in request.args:
            return redirect(
                url_for(
                    "home",
                    error=request.args["error"][:100],
                    error_description=request.args.get("error_description", "")[:300] or None,
                ),
                303,
            )
        metadata_ = client.load_server_metadata()
        if "iss" in request.args and request.args["iss"] != metadata_["issuer"]:
            # RFC 9207: the response comes from another provider (mix-up attack)
            return redirect(url_for("home", error="issuer_mismatch"), 303)
        try:
            token = client.authorize_access_token()
        except OAuthError as exc:
            return redirect(
                url_for(
                    "home",
                    error=exc.error or "login_failed",
                    error_description=(exc.description or "")[:300] or None,
                ),
                303,
            )
        except JoseError:  # the ID token did not verify (signature, iss, aud, nonce...)
            return redirect(url_for("home", error="invalid_id_token"), 303)
        claims = dict(token.get("userinfo") or {})
        userinfo = dict(client.userinfo(token=token))
        session.clear()
        session["signed_in"] = {
            "claims": claims,
            "userinfo": userinfo,
            "id_token": token["id_token"],
            "partner": as_partner,
            "refresh_token": bool(token.get("refresh_token")),
        }
        return redirect(url_for("home"), 303)

    @app.get("/callback")
    def callback() -> Response:
        return finish(foyer, as_partner=False)

    @app.get("/partner/callback")
    def partner_callback() -> Response:
        if "partner" not in registrations:
            abort(404)
        return finish(registrations["partner"], as_partner=True)

    @app.post("/logout")
    def logout() -> Response:
        _check_form_token()
        signed_in = session.pop("signed_in", None)
        if not signed_in:
            return redirect(url_for("home"), 303)
        logout = foyer.create_logout_url(
            post_logout_redirect_uri=url_for("signed_out", _external=True),
            id_token_hint=signed_in["id_token"],
            client_id=partner[0] if signed_in.get("partner") and partner else client_id,
        )
        session["logout_state"] = logout["state"]
        return redirect(logout["url"], 303)

    @app.get("/signed-out")
    def signed_out() -> Response:
        expected = session.pop("logout_state", None)
        if expected is None or request.args.get("state") != expected:
            return redirect(url_for("home", error="logout_state_mismatch"), 303)
        return redirect(url_for("home", signed_out="1"), 303)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
            "form-action 'self' http://localhost:* http://127.0.0.1:*; frame-ancestors 'none'; "
            "base-uri 'none'",
        )
        return response

    return app


def _pretty(data: dict[str, t.Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _form_token() -> str:
    """A per-session token for the demo's two POST forms (sign in, sign out)."""
    token = session.get("form_token")
    if token is None:
        token = session["form_token"] = secrets.token_urlsafe(16)
    return t.cast(str, token)


def _check_form_token() -> None:
    expected = session.get("form_token")
    if not expected or not secrets.compare_digest(expected, request.form.get("token", "")):
        abort(400)


def create_app_from_env() -> Flask:
    """The app gunicorn serves for ``foyer demo`` (``FOYER_DEMO_RP_*`` variables)."""
    organizations = json.loads(os.environ.get("FOYER_DEMO_RP_ORGANIZATIONS", "[]"))
    partner_id = os.environ.get("FOYER_DEMO_RP_PARTNER_CLIENT_ID")
    partner_secret = os.environ.get("FOYER_DEMO_RP_PARTNER_CLIENT_SECRET", "")
    return create_rp_app(
        os.environ["FOYER_DEMO_RP_ISSUER"],
        os.environ["FOYER_DEMO_RP_CLIENT_ID"],
        os.environ["FOYER_DEMO_RP_CLIENT_SECRET"],
        secret_key=os.environ.get("FOYER_DEMO_RP_SECRET_KEY"),
        organizations=[tuple(o) for o in organizations],
        partner=(partner_id, partner_secret) if partner_id else None,
    )
