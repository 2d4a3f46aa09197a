"""The pytest kit for Foyer and for plugin authors (registered as the ``foyer`` pytest plugin).

Fixtures give an app on a throwaway database (SQLite, or PostgreSQL when
``FOYER_TEST_DATABASE_URL`` is set: each run creates its own database and drops only it),
a tenant with a database connection, users, clients and a test client on the tenant's host.
Rows are deleted after each test, so tests do not see each other's data.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import os
import secrets
import typing as t
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from flask import g
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from app import create_app
from app.accounts.background import shutdown_background
from app.accounts.background import wait_for_background
from app.accounts.services import create_user
from app.clients.services import create_client
from app.connections.services import create_connection
from app.connections.services import find_connection
from app.db import Database
from app.db import session as db_session
from app.events.models import Event
from app.events.streams import shutdown_streams
from app.hooks import validate_plugin_settings
from app.hookspecs import hookimpl
from app.login import flow
from app.models import metadata
from app.oidc import keys
from app.orgs.services import create_organization
from app.security import argon2_block
from app.security.counters import DatabaseCounters
from app.sessions.services import SIGNED_IN_KEY
from app.sessions.services import new_sso_session
from app.tenancy.services import create_tenant
from app.worker import shutdown_worker

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.clients.models import Client
    from app.connections.models import Connection
    from app.mail.message import EmailMessage
    from app.orgs.models import Organization
    from app.sessions.models import SsoSession
    from app.tenancy.models import Tenant

TENANT_HOST = "login.test"
CLIENT_REDIRECT_URI = "https://app.test/callback"
USER_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def foyer_database_url(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """A migrated database for this test run (one per xdist worker)."""
    # pytest start-up time: migrate pulls in Alembic, only needed once a test uses the app
    from app.migrate import upgrade

    admin_url = os.environ.get("FOYER_TEST_DATABASE_URL")
    if not admin_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'foyer.db'}"
        upgrade(Database(url))
        yield url
        return
    name = f"foyer_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database)
    database.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def throwaway_settings(folder: t.Any, database_url: str) -> dict[str, t.Any]:
    """Settings overrides of a test app whose instance files live under ``folder``."""
    return {
        "instance_path": str(folder / "instance"),
        "database_url": database_url,
        "redis_url": os.environ.get("FOYER_TEST_REDIS_URL", ""),
        "plugins_dir": str(folder / "no-plugins"),
        "argon2_time_cost": 1,
        "argon2_memory_cost": 8,
        # a failed email is retried at once, three times in all (the backoff is not waited)
        "mail_retry_seconds": 0.0,
        "mail_max_attempts": 3,
        "outbound_allow": "127.0.0.0/8,::1/128,localhost",  # the test upstreams
    }


@pytest.fixture
def foyer_config(tmp_path: t.Any, foyer_database_url: str) -> dict[str, t.Any]:
    """Settings overrides for the test app; override this fixture to change settings."""
    return throwaway_settings(tmp_path, foyer_database_url)


@pytest.fixture
def foyer_plugins() -> list[object]:
    """Extra plugins registered on the test app; override to add your own."""
    return []


@contextlib.contextmanager
def running_app(
    config: t.Mapping[str, t.Any], plugins: t.Iterable[object] = ()
) -> t.Iterator[Flask]:
    """A Foyer app on the throwaway database, inside an app context, while the block runs;
    its rows are deleted after. ``foyer_app`` is one per test; a module-scoped fixture (one
    app shared by Hypothesis' examples) uses this directly."""
    app = create_app(config, plugins=plugins)
    app.testing = True
    _fresh_globals_per_request(app)
    with app.app_context():
        yield app
        db_session.rollback()
    _finish_background_work(app)
    _delete_all_rows(app)
    app.extensions["foyer.db"].dispose()


@pytest.fixture
def foyer_app(foyer_config: dict[str, t.Any], foyer_plugins: list[object]) -> t.Iterator[Flask]:
    """A Foyer app on the throwaway database, inside an app context."""
    with running_app(foyer_config, foyer_plugins) as app:
        yield app


def _finish_background_work(app: Flask) -> None:
    """Let emails and logout tokens queued by the test's requests finish before their rows
    are deleted."""
    shutdown_background(app)
    shutdown_worker(app)
    shutdown_streams(app)


def _delete_all_rows(app: Flask) -> None:
    database = app.extensions["foyer.db"]
    with database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    if database.counters_apart:  # beside an SQLite file: the counters' own file
        DatabaseCounters(database).clear_all()


@pytest.fixture
def register_plugin(foyer_app: Flask) -> t.Iterator[t.Callable[..., object]]:
    """Register a plugin object for one test: ``register_plugin(MyPlugin(), name="x")``."""
    pm = foyer_app.extensions["foyer.pm"]
    added: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        pm.register(plugin, name=name)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        pm.unregister(plugin)


@pytest.fixture
def tenant(foyer_app: Flask) -> Tenant:
    """Tenant ``acme`` on https://login.test with a ``users`` database connection."""
    tenant = create_tenant("acme", "Acme Inc.", [f"https://{TENANT_HOST}"])
    create_connection(tenant, "users", "database", "Acme users")
    db_session.commit()
    return tenant


@pytest.fixture
def connection(tenant: Tenant) -> Connection:
    found = find_connection(tenant, "users")
    assert found is not None
    return found


@pytest.fixture
def make_user(connection: Connection) -> t.Callable[..., User]:
    """Create a user: ``make_user(email="a@b.test", password=...)``."""

    def make(
        email: str = "alice@example.com",
        password: str = USER_PASSWORD,
        connection_: Connection | None = None,
        **fields: t.Any,
    ) -> User:
        user = create_user(connection_ or connection, email=email, password=password, **fields)
        db_session.commit()
        return user

    return make


@pytest.fixture
def user(make_user: t.Callable[..., User]) -> User:
    """alice@example.com with password ``USER_PASSWORD``, email verified."""
    return make_user(email_verified=True, name="Alice Example")


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hash of every argon2 verification made (the unknown user's dummy too)."""
    calls: list[str] = []
    original = argon2_block.verify_password

    def counting(encoded: str, password: str) -> bool:
        calls.append(encoded)
        return original(encoded, password)

    monkeypatch.setattr(argon2_block, "verify_password", counting)
    return calls


@pytest.fixture
def make_client(tenant: Tenant) -> t.Callable[..., tuple[Client, str | None]]:
    """Register a client: returns (client, secret)."""

    def make(name: str = "Demo app", **fields: t.Any) -> tuple[Client, str | None]:
        fields.setdefault("redirect_uris", [CLIENT_REDIRECT_URI])
        result = create_client(tenant, name, **fields)
        db_session.commit()
        return result

    return make


@pytest.fixture
def oidc_client(make_client: t.Callable[..., tuple[Client, str | None]]) -> tuple[Client, str]:
    """A confidential client (client_secret_basic) with redirect https://app.test/callback."""
    client, secret = make_client(
        post_logout_redirect_uris=["https://app.test/signed-out"],
    )
    assert secret is not None
    return client, secret


class HostClient(FlaskClient):
    """A test client whose relative URLs go to one ``scheme://host``.

    Werkzeug's EnvironBuilder sets ``HTTP_HOST`` from the base URL after applying
    ``environ_base``, so the host must travel as ``base_url``, for requests and for
    ``session_transaction`` alike (cookies are kept per host).
    """

    host_url = f"https://{TENANT_HOST}"

    def open(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        path = args[0] if args else kwargs.get("path", "/")
        if isinstance(path, str) and "://" not in path:
            kwargs.setdefault("base_url", self.host_url)
        return super().open(*args, **kwargs)

    def session_transaction(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("base_url", self.host_url)
        return super().session_transaction(*args, **kwargs)


def host_client(app: Flask, host: str = TENANT_HOST, scheme: str = "https") -> FlaskClient:
    """A test browser whose requests go to ``scheme://host`` (https keeps Secure cookies)."""
    browser = HostClient(app, app.response_class, use_cookies=True)
    browser.host_url = f"{scheme}://{host}"
    browser.environ_base.update({"HTTP_HOST": host, "wsgi.url_scheme": scheme})
    return browser


@pytest.fixture
def client(foyer_app: Flask) -> FlaskClient:
    """A test browser on the tenant's host (https, so Secure cookies are kept)."""
    return host_client(foyer_app)


# --- Signing in and running the OpenID Connect flow without a browser ----------------------


def sign_in(
    browser: FlaskClient,
    user: User,
    *,
    amr: t.Sequence[str] = ("pwd",),
    organization: Organization | None = None,
    auth_time: dt.datetime | None = None,
) -> SsoSession:
    """Give ``browser`` an SSO session for ``user`` without the login pages.

    Creates the server-side session row and puts its ``sid`` in the browser's session cookie
    the way Flask-Login does, so ``/authorize`` finds a signed-in user.

    :param auth_time: When the user authenticated (default: now); set it in the past to
        test ``max_age``.
    """
    sso = new_sso_session(user, amr, organization, auth_time)
    db_session.commit()
    with browser.session_transaction() as cookie:
        cookie[SIGNED_IN_KEY] = sso.sid
        cookie["_fresh"] = True
        cookie.permanent = True
    g.pop("_login_user", None)  # the test's app context is shared with its requests
    return sso


def pkce_pair() -> tuple[str, str]:
    """A PKCE (verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize(browser: FlaskClient, client: Client, **params: t.Any) -> dict[str, str]:
    """Run ``/authorize`` for a signed-in browser with PKCE (S256), state and nonce.

    Parameters override the defaults (``scope="openid profile email"``, the client's first
    redirect_uri); a parameter given as None is left out of the request.

    :returns: The parameters of the redirect to the client (``code``, ``state``, ``iss`` or
        ``error``...) plus ``verifier`` (empty when the request carried no challenge of the
        kit's: a client registered with ``require_pkce=False``), ``nonce`` and
        ``redirect_uri`` for the exchange.
    :raises AssertionError: when ``/authorize`` does not send the browser back to the client
        (no session: it went to the login page; or an error page).
    """
    verifier, challenge = pkce_pair()
    query: dict[str, t.Any] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(params)
    query = {key: value for key, value in query.items() if value is not None}
    response = browser.get("/authorize", query_string=query)
    location = response.headers.get("Location", "")
    redirect_uri = query.get("redirect_uri", "")
    if response.status_code not in (302, 303) or not location.startswith(redirect_uri):
        raise AssertionError(
            f"/authorize did not return to the client: {response.status_code} {location!r}"
        )
    result = dict(parse_qsl(urlsplit(location).query))
    result.update(
        verifier=verifier if query.get("code_challenge") == challenge else "",
        nonce=query.get("nonce", ""),
        redirect_uri=redirect_uri,
    )
    return result


def exchange_code(
    browser: FlaskClient,
    client: Client,
    result: t.Mapping[str, str],
    secret: str | None = None,
    **form: str,
) -> t.Any:
    """POST the code of an :func:`authorize` result to ``/oauth/token``, authenticating the
    way the client is registered to; ``form`` adds or overrides fields.

    :returns: The token endpoint's response (``.get_json()`` holds the tokens or the error).
    """
    data = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": result["redirect_uri"],
        "code_verifier": result.get("verifier") or None,
    }
    data.update(form)
    return token_request(browser, client, secret, **data)


def token_request(
    browser: FlaskClient, client: Client, secret: str | None = None, **form: str
) -> t.Any:
    """POST ``form`` to ``/oauth/token`` with the client's registered authentication."""
    headers = {}
    data = {key: value for key, value in form.items() if value is not None}
    method = client.token_endpoint_auth_method
    if method == "client_secret_basic":
        pair = f"{quote(client.client_id, safe='')}:{quote(secret or '', safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif method == "client_secret_post":
        data.update(client_id=client.client_id, client_secret=secret or "")
    else:
        data["client_id"] = client.client_id
    return browser.post("/oauth/token", data=data, headers=headers)


# --- Organizations, connections and plugins -------------------------------------------------


@pytest.fixture
def make_connection(tenant: Tenant) -> t.Callable[..., Connection]:
    """Create a connection: ``make_connection("legacy-db", "legacy", options={...})``."""

    def make(
        name: str,
        strategy: str = "database",
        options: dict[str, t.Any] | None = None,
        secrets: dict[str, t.Any] | None = None,
        **fields: t.Any,
    ) -> Connection:
        created = create_connection(tenant, name, strategy, options=options, secrets=secrets)
        for key, value in fields.items():
            setattr(created, key, value)
        db_session.commit()
        return created

    return make


@pytest.fixture
def make_organization(tenant: Tenant, connection: Connection) -> t.Callable[..., Organization]:
    """Create an organization of the tenant, by default enabling the ``users`` connection.

    ``make_organization("globex", plugins={"my_plugin": {...}}, branding={...})``.
    """

    def make(
        name: str = "globex",
        display_name: str | None = None,
        connections: t.Sequence[Connection] | None = None,
        **fields: t.Any,
    ) -> Organization:
        org = create_organization(
            tenant,
            name,
            display_name or name.replace("-", " ").title(),
            connections=[connection] if connections is None else connections,
            **fields,
        )
        db_session.commit()
        return org

    return make


@pytest.fixture
def organization(make_organization: t.Callable[..., Organization]) -> Organization:
    """Organization ``globex`` (display name "Globex") enabling the ``users`` connection."""
    return make_organization("globex", "Globex")


@pytest.fixture
def enable_plugin(tenant: Tenant) -> t.Callable[..., None]:
    """Enable a scoped plugin with settings, for the tenant or one organization.

    ``enable_plugin("deny_ip_ranges", {"cidrs": ["10.0.0.0/8"]}, organization=org)``;
    settings are checked against the plugin's ``FOYER_SETTINGS`` first.
    """

    def enable(
        name: str,
        settings: dict[str, t.Any] | None = None,
        organization: Organization | None = None,
    ) -> None:
        errors = validate_plugin_settings(name, settings or {})
        assert not errors, errors
        if organization is not None:
            organization.plugins = {**(organization.plugins or {}), name: settings or {}}
        else:
            current = dict(tenant.settings or {})
            current["plugins"] = {**(current.get("plugins") or {}), name: settings or {}}
            tenant.settings = current
        db_session.commit()

    return enable


class SentEmails(list["EmailMessage"]):
    """The emails delivered so far. Emails go through the outbox and the app's worker
    thread: reading this list first waits (up to 30 s) until what was queued is sent."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def settle(self) -> None:
        wait_for_background(self.app, timeout=30)

    def __iter__(self) -> t.Iterator[EmailMessage]:
        self.settle()
        return super().__iter__()

    def __len__(self) -> int:
        self.settle()
        return super().__len__()

    def __getitem__(self, index: t.Any) -> t.Any:
        self.settle()
        return super().__getitem__(index)

    def __bool__(self) -> bool:
        return len(self) > 0


@pytest.fixture
def outbox(foyer_app: Flask, register_plugin: t.Callable[..., object]) -> list[EmailMessage]:
    """Every email sent during the test, delivered to a list instead of a mail server
    (reading it waits until the queued emails are sent)."""
    messages = SentEmails(foyer_app)

    class Outbox:
        @hookimpl(tryfirst=True)
        def deliver_email(self, message: EmailMessage) -> bool:
            list.append(messages, message)
            return True

    register_plugin(Outbox(), name="foyer-test-outbox")
    return messages


@pytest.fixture
def recorded_events(foyer_app: Flask) -> t.Callable[..., list[t.Any]]:
    """The events stored so far, oldest first: ``recorded_events("plugin_failed")``."""

    def query(*types: str) -> list[t.Any]:
        stmt = sa.select(Event).order_by(Event.created_at)
        if types:
            stmt = stmt.where(Event.type.in_(types))
        with foyer_app.extensions["foyer.db"].sessionmaker() as s:
            return list(s.scalars(stmt))

    return query


# --- Driving the hosted login pages -------------------------------------------------------


class PageForm(t.NamedTuple):
    """A form read from a page: where it posts and its pre-filled fields (CSRF included)."""

    action: str
    fields: dict[str, str]


def read_form(html: str, form_id: str) -> PageForm:
    """Find ``<form id=form_id>`` in ``html``; raises LookupError when the page has none."""

    class _Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False
            self.action: str | None = None
            self.fields: dict[str, str] = {}

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "form" and a.get("id") == form_id:
                self.inside = True
                self.action = a.get("action", "")
            elif tag == "input" and self.inside and a.get("name"):
                if a.get("type") not in ("submit", "button", "checkbox", "radio"):
                    self.fields[a["name"]] = a.get("value", "")

        def handle_endtag(self, tag: str) -> None:
            if tag == "form":
                self.inside = False

    parser = _Parser()
    parser.feed(html)
    if parser.action is None:
        raise LookupError(f"no form #{form_id} on the page")
    return PageForm(parser.action, parser.fields)


def submit_form(browser: FlaskClient, response: t.Any, form_id: str, **values: str) -> t.Any:
    """Post the form ``form_id`` of ``response``'s page with ``values`` filled in."""
    form = read_form(response.get_data(as_text=True), form_id)
    return browser.post(form.action, data={**form.fields, **values})


def login(browser: FlaskClient, email: str, password: str, tx: str | None = None) -> t.Any:
    """Sign in through the hosted pages: the identifier page, then the password page.

    :param tx: A login transaction id (from ``/authorize``); without it the sign-in starts
        on ``/login`` like a visit without an application.
    :returns: The response to the password form: a 303 to the signed-in page or to the
        application on success, the page with its error otherwise. If the identifier page
        does not lead to the password page, its response is returned instead.
    """
    page = browser.get(f"/login?tx={tx}" if tx else "/login", follow_redirects=True)
    if page.status_code != 200:
        return page
    step = submit_form(browser, page, "login-identifier-form", identifier=email)
    if step.status_code != 303:
        return step
    page = browser.get(step.headers["Location"])
    if page.status_code != 200:
        return page
    return submit_form(browser, page, "login-password-form", password=password)


@pytest.fixture
def make_login_tx(foyer_app: Flask, client: FlaskClient, tenant: Tenant) -> t.Callable[..., str]:
    """Start a login transaction, as ``/authorize`` does; its id.

    ``make_login_tx(params={"login_hint": "a@b.test", "ui_locales": "fr"}, force_login=True)``
    then ``login(client, email, password, tx=...)``: the first browser to open it (normally
    ``client``) is the only one that may use it. With ``app_client`` the sign-in is for
    that application and its last page answers with the redirect to the application (its
    code); ``created_at`` backdates it.
    """

    def make(
        params: dict[str, str] | None = None,
        organization: Organization | None = None,
        app_client: Client | None = None,
        force_login: bool = False,
        created_at: float | None = None,
    ) -> str:
        base_url = getattr(client, "host_url", f"https://{TENANT_HOST}")
        with foyer_app.test_request_context("/authorize", base_url=base_url):
            tx = flow.begin(
                tenant,
                params=params,
                client=app_client,
                organization=organization,
                force_login=force_login,
            )
            if created_at is not None:
                tx.created_at = created_at
                flow.save(tx)
        return tx.id

    return make


def decode_jwt(browser: FlaskClient, token: str) -> dict[str, t.Any]:
    """Verify a JWT against the tenant's published JWKS, as an application would; its claims."""
    keyset = KeySet.import_key_set(browser.get("/.well-known/jwks.json").get_json())
    return dict(jwt.decode(token, keyset, algorithms=["RS256", "ES256"]).claims)


class SigningKeyPool:
    """Signing keys recycled from test to test, each key used at most once per test.

    Making an RSA-2048 key takes about 0.1 s and most tests sign tokens for a fresh tenant,
    so generating its keys was the largest single cost of the suite. A test still gets keys
    no other key of the same test shares, and the rows of one test are deleted before the
    next, so no test can tell a recycled key from a new one.
    """

    def __init__(self, generate: t.Callable[[str], t.Any]) -> None:
        self.generate = generate
        self.keys: dict[str, list[t.Any]] = {}

    def for_one_test(self) -> t.Callable[[str], t.Any]:
        taken: dict[str, int] = {}

        def generate(alg: str) -> t.Any:
            pool = self.keys.setdefault(alg, [])
            n = taken.get(alg, 0)
            if n == len(pool):
                pool.append(self.generate(alg))
            taken[alg] = n + 1
            return pool[n]

        return generate


@pytest.fixture(scope="session")
def _signing_key_pool() -> SigningKeyPool:
    return SigningKeyPool(keys._generate)


@pytest.fixture(autouse=True)
def _recycled_signing_keys(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests with an app draw tenant signing keys from :class:`SigningKeyPool`."""
    if "foyer_app" not in request.fixturenames:
        return
    pool: SigningKeyPool = request.getfixturevalue("_signing_key_pool")
    monkeypatch.setattr(keys, "_generate", pool.for_one_test())


KEPT_REQUEST_GLOBALS = frozenset({"db_session"})
"""What a test-client request keeps of ``flask.g``: the session shared with the test."""


def _fresh_globals_per_request(app: Flask) -> None:
    """Give every test-client request a clean ``flask.g``, as a real server does.

    :func:`running_app` keeps one app context open for the whole test and Flask reuses it
    for test-client requests, so ``g`` would carry the tenant, the signed-in user, CSRF
    state (Flask-WTF's ``csrf_valid``) and the locale from one request, or one browser, into
    the next. Only the database session shared with the test is kept.
    """

    def clear_request_globals() -> None:
        for key in [key for key in g if key not in KEPT_REQUEST_GLOBALS]:
            g.pop(key, None)

    app.before_request_funcs.setdefault(None, []).insert(0, clear_request_globals)


# --- The whole authorization code flow, without a browser -----------------------------------


class FlowStopped(AssertionError):
    """The flow did not reach the application: ``response`` is the page the user saw."""

    def __init__(self, message: str, response: t.Any) -> None:
        super().__init__(f"{message}: {response.status_code}")
        self.response = response


@dataclasses.dataclass
class FlowResult:
    """What an application gets at the end of the flow, decoded and verified."""

    tokens: dict[str, t.Any]
    """The token endpoint's JSON answer (raw ``id_token``, ``access_token``...)."""
    id_token: dict[str, t.Any]
    """The ID token's claims, verified against the tenant's JWKS."""
    access_token: dict[str, t.Any]
    """The access token's claims (Foyer's access tokens are JWTs)."""
    userinfo: dict[str, t.Any]
    """The userinfo endpoint's answer for the access token."""


def run_authorization_code_flow(
    browser: FlaskClient,
    client: Client,
    secret: str | None,
    email: str,
    password: str,
    *,
    scope: str = "openid profile email",
    **params: t.Any,
) -> FlowResult:
    """Sign in through ``/authorize``, the hosted login pages and ``/oauth/token``.

    Like an application with a user at the keyboard: PKCE, state and nonce are checked;
    when the browser already has a session the login pages are skipped. Extra ``params`` go
    to ``/authorize`` (``organization``, ``prompt``, ``ui_locales``...).

    :raises FlowStopped: when the flow ends anywhere but at the application with a code
        (wrong password, a login rule's denial, an error page); ``.response`` is that page.
    """
    verifier, challenge = pkce_pair()
    redirect_uri = params.pop("redirect_uri", client.redirect_uris[0])
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    response = browser.get("/authorize", query_string=query)
    location = response.headers.get("Location", "")
    if response.status_code in (302, 303) and not location.startswith(redirect_uri):
        tx = dict(parse_qsl(urlsplit(location).query)).get("tx")
        response = login(browser, email, password, tx=tx)
        if response.status_code != 303:
            raise FlowStopped("the login pages did not finish the sign-in", response)
        location = response.headers.get("Location", "")
        if not location.startswith(redirect_uri):  # another step first: its page
            response = browser.get(location)
            location = response.headers.get("Location", "")
    if response.status_code not in (302, 303) or not location.startswith(redirect_uri):
        raise FlowStopped("the flow did not return to the application", response)
    answer = dict(parse_qsl(urlsplit(location).query))
    if "code" not in answer:
        raise FlowStopped(f"the application got an error: {answer.get('error')}", response)
    assert answer.get("state") == state, "state was not returned unchanged"
    result = {"code": answer["code"], "redirect_uri": redirect_uri, "verifier": verifier}
    token_response = exchange_code(browser, client, result, secret)
    if token_response.status_code != 200:
        raise FlowStopped("the token endpoint refused the code", token_response)
    tokens = t.cast(dict[str, t.Any], token_response.get_json())
    id_token = decode_jwt(browser, tokens["id_token"])
    assert id_token.get("nonce") == nonce, "the ID token's nonce does not match"
    userinfo = browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    return FlowResult(
        tokens=tokens,
        id_token=id_token,
        access_token=decode_jwt(browser, tokens["access_token"]),
        userinfo=t.cast(dict[str, t.Any], userinfo.get_json()),
    )
