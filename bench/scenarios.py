"""The scenarios: what one operation is, as a browser or a machine client would do it.

Every step checks the answer (status, redirect target, token fields), so a scenario that
silently failed cannot look fast. The same functions drive Foyer and the peers; a
:class:`Target` says where each endpoint lives and how a browser gets its first session.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import secrets
import time
import typing as t

from bench.http import Client
from bench.http import UnexpectedResponse
from bench.http import basic_auth
from bench.http import expect

REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclasses.dataclass
class Target:
    """An OpenID provider under test and the clients registered with it."""

    name: str
    port: int
    host: str
    """Host header of the tenant (``localhost:PORT``)."""
    client_secret: str
    authorize_path: str = "/authorize"
    token_path: str = "/oauth/token"
    discovery_path: str = "/.well-known/openid-configuration"
    jwks_path: str = "/.well-known/jwks.json"
    userinfo_path: str = "/userinfo"
    web_client: str = "bench-rp"
    userinfo_client: str = "bench-rp"
    """The web client whose access tokens the userinfo endpoint accepts."""
    machine_client: str = "bench-m2m"
    sso_scope: str = "openid profile email"
    login: t.Callable[[Client, str, str], Client] | None = None
    """Turns an authorization redirect into a signed-in browser; returns the client."""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    """Sent with every request: Foyer is measured behind a TLS-terminating proxy."""
    offline_params: dict[str, str] = dataclasses.field(default_factory=dict)
    """Extra authorization parameters for a refresh token (oidc-provider: prompt=consent)."""
    browsers: int = 1
    """Signed-in browsers per load thread, taking turns (a peer that cannot serve one user
    twice in a second gets several)."""
    reuse_seconds: float = 0.0
    """A browser waits this long between two of its operations (the client sleeps; the
    server spends no CPU on it)."""
    keepalive: bool = False
    """Clients keep their connection open between requests (the server offers keep-alive)."""

    @property
    def transport(self) -> str:
        return "keep-alive" if self.keepalive else "new connection per request"

    def client(self, host: str | None = None) -> Client:
        return Client(("127.0.0.1", self.port), host or self.host, self.headers, self.keepalive)


# --- The authorization code flow ------------------------------------------------------------


class Pkce(t.NamedTuple):
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(32)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorization_params(client_id: str, scope: str, pkce: Pkce, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def code_from(response: t.Any, state: str) -> str:
    if response.status not in (302, 303) or not response.location.startswith(REDIRECT_URI):
        raise UnexpectedResponse("no redirect back to the application", response)
    query = response.query()
    if query.get("state") != state or "code" not in query:
        raise UnexpectedResponse(f"the redirect carries no code ({query})", response)
    return query["code"]


def exchange(target: Target, browser: Client, client_id: str, code: str, pkce: Pkce) -> dict:
    """The application's back end redeems the code: its own connection, no browser cookie."""
    backend = getattr(browser, "backend", None)
    if backend is None:  # one per browser: with keep-alive, the back end's connection stays
        backend = target.client()
        backend.latencies = browser.latencies
        browser.backend = backend  # type: ignore[attr-defined]
    response = expect(
        backend.post(
            target.token_path,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": pkce.verifier,
            },
            headers=basic_auth(client_id, target.client_secret),
        ),
        200,
        "token exchange",
    )
    token = json.loads(response.body)
    if "id_token" not in token or "access_token" not in token:
        raise UnexpectedResponse("the token response lacks a token", response)
    return t.cast(dict, token)


def foyer_login(email: str, password: str) -> t.Callable[[Client, str, str], Client]:
    """Foyer's hosted pages: identifier page, then password page, whose answer is the
    redirect to the application (a version before that sent the browser to
    ``/authorize/resume`` for its code: both are followed, so two commits compare)."""

    def login(browser: Client, location: str, _state: str) -> Client:
        page = expect(browser.get(location), 200, "identifier page")
        sent = browser.post(location, {"csrf_token": page.csrf_token(), "identifier": email})
        if sent.status != 303:
            raise UnexpectedResponse("identifier not accepted", sent)
        page = expect(browser.get(sent.location), 200, "password page")
        done = browser.post(sent.location, {"csrf_token": page.csrf_token(), "password": password})
        if done.status != 303 or not finished_sign_in(done.location):
            raise UnexpectedResponse("password not accepted", done)
        if "/authorize/resume" in done.location:
            browser.resume = done.location  # type: ignore[attr-defined]
        else:
            browser.resume_response = done  # type: ignore[attr-defined]
        return browser

    return login


def finished_sign_in(location: str) -> bool:
    """The password page's answer ends the sign-in: the application's redirect with a code
    (or, before Foyer answered in that request, ``/authorize/resume``)."""
    return "/authorize/resume" in location or "code=" in location


def oidc_provider_login(account: str) -> t.Callable[[Client, str, str], Client]:
    """oidc-provider's development interactions: a login form, then a consent form."""

    def login(browser: Client, location: str, _state: str) -> Client:
        while "/interaction/" in location:
            page = expect(browser.get(location), 200, "interaction page")
            prompt = "consent" if b'value="consent"' in page.body else "login"
            form = {"prompt": prompt}
            if prompt == "login":
                form |= {"login": account, "password": "any"}
            sent = browser.post(location, form)
            if sent.status not in (302, 303):
                raise UnexpectedResponse("interaction not accepted", sent)
            resumed = browser.get(sent.location)
            location = resumed.location
            browser.resume_response = resumed  # type: ignore[attr-defined]
        return browser

    return login


def sign_in(
    target: Target,
    browser: Client,
    client_id: str | None = None,
    scope: str | None = None,
    extra: t.Mapping[str, str] | None = None,
) -> dict:
    """A whole interactive sign-in in ``browser``; returns the token response."""
    client_id = client_id or target.web_client
    pkce = Pkce.new()
    params = authorization_params(client_id, scope or target.sso_scope, pkce, **(extra or {}))
    started = browser.get(target.authorize_path, params)
    if started.status not in (302, 303):
        raise UnexpectedResponse("authorize did not redirect", started)
    assert target.login is not None
    target.login(browser, started.location, params["state"])
    if hasattr(browser, "resume"):  # an earlier Foyer: the code came from /authorize/resume
        final = browser.get(browser.resume)
        del browser.resume
    else:
        final = browser.resume_response  # type: ignore[attr-defined]
    return exchange(target, browser, client_id, code_from(final, params["state"]), pkce)


# --- Steps (one operation each; they return how many HTTP requests they made) --------------


def full_sign_in(target: Target) -> tuple[t.Callable[[int], t.Any], t.Callable[[t.Any], int]]:
    """A new browser each time: authorize -> identifier -> password -> code -> token."""

    def setup(_i: int) -> Holder:
        return Holder()

    def step(holder: Holder) -> int:
        before = len(holder.latencies)
        browser = target.client()
        browser.latencies = holder.latencies
        sign_in(target, browser)
        return len(holder.latencies) - before

    return setup, step


class Turns:
    """Per-thread signed-in browsers, one after the other."""

    def __init__(self, browsers: list[Client], reuse_seconds: float = 0.0) -> None:
        self.browsers = browsers
        self.reuse_seconds = reuse_seconds
        self.used = [time.monotonic()] * len(browsers)
        self.turn = 0
        self.latencies: list[float] = []
        for browser in browsers:
            browser.latencies = self.latencies
            if hasattr(browser, "backend"):
                browser.backend.latencies = self.latencies

    def next(self) -> Client:
        self.turn = (self.turn + 1) % len(self.browsers)
        if self.reuse_seconds:
            wait = self.used[self.turn] + self.reuse_seconds - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.used[self.turn] = time.monotonic()
        return self.browsers[self.turn]


class Holder:
    """Per-thread state that outlives the browsers a scenario makes (request latencies)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []


def sso_sign_in(target: Target, client_id: str | None = None) -> tuple[t.Any, t.Any]:
    """A signed-in browser comes back: authorize -> code at once -> token."""
    client_id = client_id or target.web_client

    def setup(_i: int) -> Turns:
        browsers = []
        for _ in range(target.browsers):
            browsers.append(target.client())
            sign_in(target, browsers[-1], client_id)
        return Turns(browsers, target.reuse_seconds)

    def step(turns: Turns) -> int:
        browser = turns.next()
        pkce = Pkce.new()
        params = authorization_params(client_id, target.sso_scope, pkce)
        code = code_from(browser.get(target.authorize_path, params), params["state"])
        exchange(target, browser, client_id, code, pkce)
        return 2

    return setup, step


def client_credentials(target: Target, client_id: str | None = None) -> tuple[t.Any, t.Any]:
    client_id = client_id or target.machine_client
    headers = basic_auth(client_id, target.client_secret)

    def setup(_i: int) -> Client:
        return target.client()

    def step(client: Client) -> int:
        response = expect(
            client.post(
                target.token_path,
                {"grant_type": "client_credentials", "scope": "api.read"},
                headers=headers,
            ),
            200,
            "client_credentials",
        )
        if b'"access_token"' not in response.body:
            raise UnexpectedResponse("no access token", response)
        return 1

    return setup, step


def refresh_rotation(target: Target) -> tuple[t.Any, t.Any]:
    """Use the refresh token, keep the new one (the old one is now spent)."""
    headers = basic_auth(target.web_client, target.client_secret)

    def setup(_i: int) -> Turns:
        browsers = []
        for _ in range(target.browsers):
            browser = target.client()
            token = sign_in(
                target,
                browser,
                scope=target.sso_scope + " offline_access",
                extra=target.offline_params,
            )
            if "refresh_token" not in token:
                raise UnexpectedResponse(f"no refresh token was issued ({sorted(token)})")
            browser.refresh_token = token["refresh_token"]  # type: ignore[attr-defined]
            browsers.append(browser)
        return Turns(browsers, target.reuse_seconds)

    def step(turns: Turns) -> int:
        browser: t.Any = turns.next()
        response = expect(
            browser.post(
                target.token_path,
                {"grant_type": "refresh_token", "refresh_token": browser.refresh_token},
                headers=headers,
            ),
            200,
            "refresh",
        )
        token = json.loads(response.body)
        if token.get("refresh_token") in (None, browser.refresh_token):
            raise UnexpectedResponse("the refresh token was not rotated", response)
        browser.refresh_token = token["refresh_token"]
        return 1

    return setup, step


def userinfo(target: Target) -> tuple[t.Any, t.Any]:
    """The application asks for the signed-in user's claims with its access token."""

    def setup(_i: int) -> Client:
        browser = target.client()
        token = sign_in(target, browser, target.userinfo_client)
        api = target.client()
        api.latencies = browser.latencies
        api.bearer = {"Authorization": "Bearer " + token["access_token"]}  # type: ignore[attr-defined]
        return api

    def step(api: t.Any) -> int:
        answer = expect(api.get(target.userinfo_path, headers=api.bearer), 200, "userinfo")
        if b'"sub"' not in answer.body:
            raise UnexpectedResponse("userinfo without sub", answer)
        return 1

    return setup, step


def interaction_page(target: Target) -> tuple[t.Any, t.Any]:
    """The peer's sign-in page (oidc-provider's development login form), fetched again and
    again, as :func:`login_page` fetches Foyer's."""

    def setup(_i: int) -> Client:
        browser = target.client()
        pkce = Pkce.new()
        params = authorization_params(target.web_client, target.sso_scope, pkce)
        started = browser.get(target.authorize_path, params)
        if started.status not in (302, 303):
            raise UnexpectedResponse("authorize did not redirect to the login page", started)
        browser.page = started.location  # type: ignore[attr-defined]
        page = expect(browser.get(started.location), 200, "login page")
        if b"<form" not in page.body:
            raise UnexpectedResponse("the login page has no form", page)
        return browser

    def step(browser: t.Any) -> int:
        expect(browser.get(browser.page), 200, "login page")
        return 1

    return setup, step


def fetch(target: Target, path: str) -> tuple[t.Any, t.Any]:
    def setup(_i: int) -> Client:
        return target.client()

    def step(client: Client) -> int:
        expect(client.get(path), 200, path)
        return 1

    return setup, step


def login_page(target: Target, host: str, locale: str) -> tuple[t.Any, t.Any]:
    """The identifier page of an organization's vanity host, in its theme and language."""

    def setup(_i: int) -> Client:
        browser = target.client(host)
        pkce = Pkce.new()
        params = authorization_params(target.web_client, target.sso_scope, pkce, ui_locales=locale)
        started = browser.get(target.authorize_path, params)
        if started.status != 302:
            raise UnexpectedResponse("authorize did not redirect to the login page", started)
        browser.page = started.location  # type: ignore[attr-defined]
        page = expect(browser.get(started.location), 200, "login page")
        if f'lang="{locale}"'.encode() not in page.body or b"theme-bench-brand" not in page.body:
            raise UnexpectedResponse(f"the page is not themed and in {locale}", page)
        return browser

    def step(browser: t.Any) -> int:
        expect(browser.get(browser.page), 200, "login page")
        return 1

    return setup, step


HRD_KINDS = ("email_domain", "identifier_map", "pattern")


def hrd_lookup(
    target: Target, host: str, organizations: int, *, pages: bool = False
) -> tuple[t.Any, t.Any]:
    """Where does this identifier sign in? Asked of ``POST /hrd/lookup`` (JSON), or with
    ``pages`` through the hosted pages a user sees: a new sign-in (``GET /login``) and the
    identifier page's POST, which must route to the password page.

    The identifiers cycle through an email domain, an exact identifier-map entry and a
    pattern entry of a random organization among ``organizations``.
    """
    from bench.seed import hrd_identifier

    def identifier(state: t.Any) -> str:
        state.turn = (state.turn + 1) % len(HRD_KINDS)
        return hrd_identifier(HRD_KINDS[state.turn], random.randrange(organizations))

    def setup(_i: int) -> Client:
        browser = target.client(host)
        browser.turn = 0  # type: ignore[attr-defined]
        if pages:
            started = browser.get("/login")
            page = expect(browser.get(started.location), 200, "identifier page")
            browser.csrf = page.csrf_token()  # type: ignore[attr-defined]
        return browser

    def step(browser: t.Any) -> int:
        if not pages:
            body = json.dumps({"identifier": identifier(browser)}).encode()
            answer = expect(
                browser.request(
                    "POST", "/hrd/lookup", body=body, headers={"Content-Type": "application/json"}
                ),
                200,
                "HRD lookup",
            )
            if json.loads(answer.body).get("organization") is None:
                raise UnexpectedResponse("the identifier found no organization", answer)
            return 1
        started = browser.get("/login")
        if started.status != 302:
            raise UnexpectedResponse("no sign-in started", started)
        sent = browser.post(
            started.location, {"csrf_token": browser.csrf, "identifier": identifier(browser)}
        )
        if sent.status != 303 or "/login/password" not in sent.location:
            raise UnexpectedResponse("the identifier was not routed", sent)
        return 2

    return setup, step
