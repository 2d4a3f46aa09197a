"""A fuzzing net (#13): arbitrary input to ``/authorize``, ``/oauth/token``,
``/hrd/lookup``, ``/login`` and discovery never gets a 500, never logs an error or a
traceback, and a refused request writes no row.

One app serves the whole module (Hypothesis runs each test many times); each request
comes from its own client address, so rate limits do not hide the code behind them.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import logging
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.accounts.models import User
from app.accounts.services import create_user
from app.clients.services import create_client
from app.connections.services import create_connection
from app.db import session
from app.models import metadata
from app.orgs.services import create_organization
from app.tenancy.services import create_tenant
from app.testing import TENANT_HOST
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import pkce_pair
from app.testing import read_form
from app.testing import running_app
from app.testing import sign_in
from app.testing import throwaway_settings

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
REDIRECT_URI = "https://app.test/callback"
GUARDED_TABLES = (
    "user",
    "identity",
    "sso_session",
    "authorization_code",
    "token_grant",
    "refresh_token",
    "consent",
    "membership",
    "invitation",
    "one_time_token",
    "client",
    "organization",
)
"""What a refused request must never write (events and counters of attempts it may)."""

# --- Strategies --------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "\x00", "%", "%zz", "\r\nX-Injected: 1", "../../etc", "é" * 200]),
    st.text(alphabet="[]{}\"'<>&;:/?#@%\\", max_size=60),
    st.builds(lambda n: "a" * n, st.integers(min_value=1000, max_value=5000)),
)


HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
"""What a header value can hold (latin-1, no line breaks)."""


def maybe(valid: t.Any) -> st.SearchStrategy[t.Any]:
    """The valid value, nothing, or anything."""
    return st.one_of(st.just(valid), st.none(), TEXT)


# --- One app for the module --------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Records logged at ERROR, or with a traceback, anywhere in the app."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)


@dataclasses.dataclass
class World:
    app: t.Any
    client_id: str
    secret: str
    public_client_id: str
    errors: ErrorLog
    addresses: t.Iterator[int]

    def browser(self, host: str = TENANT_HOST) -> t.Any:
        """A new browser from a new client address."""
        browser = host_client(self.app, host)
        n = next(self.addresses)
        browser.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        return browser


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, foyer_database_url: str) -> t.Iterator[World]:
    folder = tmp_path_factory.mktemp("fuzz")
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        with running_app(throwaway_settings(folder, foyer_database_url)) as app:
            tenant = create_tenant("acme", "Acme Inc.", [f"https://{TENANT_HOST}"])
            connection = create_connection(tenant, "users", "database", "Acme users")
            create_user(
                connection, email="alice@example.com", password=USER_PASSWORD, email_verified=True
            )
            create_organization(tenant, "globex", "Globex", connections=[connection])
            confidential, secret = create_client(tenant, "App", redirect_uris=[REDIRECT_URI])
            public, _none = create_client(
                tenant, "SPA", token_endpoint_auth_method="none", redirect_uris=[REDIRECT_URI]
            )
            session.commit()
            assert secret is not None
            yield World(
                app,
                confidential.client_id,
                secret,
                public.client_id,
                errors,
                itertools.count(1),
            )
    finally:
        logging.getLogger().removeHandler(errors)


def row_counts() -> tuple[int, ...]:
    tables = [metadata.tables[name] for name in GUARDED_TABLES]
    counts = [sa.select(sa.func.count()).select_from(table).scalar_subquery() for table in tables]
    return tuple(session.execute(sa.select(*counts)).one())


class Checked:
    """Around one request: no 5xx, nothing logged as an error; ``refused()`` asserts that
    no guarded row was written."""

    def __init__(self, world: World) -> None:
        self.world = world

    def __enter__(self) -> Checked:
        session.rollback()
        self.world.errors.records.clear()
        self.before = row_counts()
        return self

    def __exit__(self, *exc: object) -> None:
        session.rollback()

    def answer(self, response: t.Any) -> t.Any:
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        logged = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.world.errors.records]
        assert not logged, logged
        return response

    def refused(self) -> None:
        session.rollback()
        assert row_counts() == self.before


def location_query(response: t.Any) -> dict[str, str]:
    query = urlsplit(response.headers.get("Location", "")).query
    return {k: v[0] for k, v in parse_qs(query).items()}


# --- /authorize ----------------------------------------------------------------------------


def authorize_params(world: World) -> st.SearchStrategy[dict[str, t.Any]]:
    _verifier, challenge = pkce_pair()
    return st.fixed_dictionaries(
        {
            "client_id": st.one_of(
                st.sampled_from([world.client_id, world.public_client_id]), st.none(), TEXT
            ),
            "redirect_uri": maybe(REDIRECT_URI),
            "response_type": maybe("code"),
            "scope": maybe("openid profile email"),
            "code_challenge": maybe(challenge),
            "code_challenge_method": st.one_of(st.sampled_from(["S256", "plain"]), TEXT),
        },
        optional={
            name: TEXT
            for name in (
                "state",
                "nonce",
                "prompt",
                "max_age",
                "login_hint",
                "ui_locales",
                "acr_values",
                "organization",
                "connection",
                "response_mode",
                "request",
                "request_uri",
                "id_token_hint",
                "claims",
            )
        },
    ).map(lambda params: {k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_authorize(world: World, signed_in: bool, method: str) -> None:
    @FUZZ
    @given(params=authorize_params(world))
    def run(params: dict[str, t.Any]) -> None:
        browser = world.browser()
        with Checked(world) as check:
            if signed_in:
                sign_in(browser, alice())
                check.before = row_counts()
            if method == "GET":
                response = browser.get("/authorize", query_string=params)
            else:
                response = browser.post("/authorize", data=params)
            check.answer(response)
            if "code" not in location_query(response):
                check.refused()

    run()


def alice() -> User | None:
    return session.scalar(sa.select(User).where(User.email == "alice@example.com"))


@FUZZ
@given(raw=st.binary(max_size=400))
def test_authorize_raw_query_strings(world: World, raw: bytes) -> None:
    with Checked(world) as check:
        raw_query = raw.decode("latin-1")  # WSGI's QUERY_STRING: the bytes as latin-1
        check.answer(
            world.browser().get("/authorize", environ_overrides={"QUERY_STRING": raw_query})
        )
        check.refused()


# --- /oauth/token --------------------------------------------------------------------------


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def authorization_header(world: World) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.just(basic(world.client_id, world.secret)),
        st.builds(basic, TEXT, TEXT),
        st.builds(lambda text: "Basic " + text, HEADER_VALUE),
        st.builds(lambda text: "Bearer " + text, HEADER_VALUE),
        HEADER_VALUE,
    )


@FUZZ
@given(data=st.data())
def test_token(world: World, data: st.DataObject) -> None:
    form = data.draw(
        st.fixed_dictionaries(
            {
                "grant_type": st.one_of(
                    st.sampled_from(["authorization_code", "refresh_token", "client_credentials"]),
                    TEXT,
                )
            },
            optional={
                name: TEXT
                for name in (
                    "code",
                    "redirect_uri",
                    "code_verifier",
                    "refresh_token",
                    "scope",
                    "audience",
                    "client_id",
                    "client_secret",
                    "client_assertion",
                    "client_assertion_type",
                )
            },
        )
    )
    header = data.draw(authorization_header(world))
    headers = {"Authorization": header} if header is not None else {}
    with Checked(world) as check:
        response = check.answer(world.browser().post("/oauth/token", data=form, headers=headers))
        if response.status_code != 200:
            assert response.mimetype == "application/json"
            assert "error" in response.get_json()
            check.refused()


@FUZZ
@given(
    body=st.binary(max_size=400),
    content_type=st.one_of(
        st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data"]),
        HEADER_VALUE,
    ),
)
def test_token_raw_bodies(world: World, body: bytes, content_type: str) -> None:
    with Checked(world) as check:
        response = world.browser().post(
            "/oauth/token",
            data=body,
            headers={
                "Content-Type": content_type,
                "Authorization": basic(world.client_id, world.secret),
            },
        )
        check.answer(response)
        check.refused()


@FUZZ
@given(
    path=st.sampled_from(["/oauth/revoke", "/oauth/introspect", "/userinfo", "/oidc/logout"]),
    form=st.dictionaries(
        st.sampled_from(
            ["token", "token_type_hint", "client_id", "id_token_hint", "post_logout_redirect_uri"]
        ),
        TEXT,
        max_size=4,
    ),
    header=st.data(),
)
def test_other_protocol_endpoints(
    world: World, path: str, form: dict[str, str], header: st.DataObject
) -> None:
    value = header.draw(authorization_header(world))
    headers = {"Authorization": value} if value is not None else {}
    with Checked(world) as check:
        check.answer(world.browser().post(path, data=form, headers=headers))
        check.refused()


# --- /hrd/lookup ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.one_of(st.just("identifier"), TEXT), children, max_size=4)
    ),
    max_leaves=20,
)


@FUZZ
@given(body=JSON)
def test_hrd_lookup_json(world: World, body: t.Any) -> None:
    with Checked(world) as check:
        response = check.answer(world.browser().post("/hrd/lookup", json=body))
        assert response.mimetype == "application/json"
        check.refused()


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=600), st.text(alphabet='[]{}",:0 ', max_size=600)),
    content_type=st.sampled_from(["application/json", "text/plain", "application/json; x=y", ""]),
)
def test_hrd_lookup_raw_bodies(world: World, body: bytes | str, content_type: str) -> None:
    with Checked(world) as check:
        response = world.browser().post("/hrd/lookup", data=body, content_type=content_type)
        check.answer(response)
        assert response.mimetype == "application/json"
        check.refused()


# --- /login --------------------------------------------------------------------------------


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["tx", "lang", "login_hint", "organization", "q", "needed", "next"]),
        TEXT,
        max_size=4,
    )
)
def test_login_pages(world: World, query: dict[str, str]) -> None:
    with Checked(world) as check:
        browser = world.browser()
        for path in ("/login", "/login/password", "/o/globex/login"):
            check.answer(browser.get(path, query_string=query))
        check.refused()


@FUZZ
@given(identifier=TEXT, password=TEXT, extra=st.dictionaries(TEXT, TEXT, max_size=3))
def test_login_forms(world: World, identifier: str, password: str, extra: dict[str, str]) -> None:
    with Checked(world) as check:
        browser = world.browser()
        page = check.answer(browser.get("/login", follow_redirects=True))
        form = read_form(page.get_data(as_text=True), "login-identifier-form")
        step = check.answer(
            browser.post(form.action, data={**extra, **form.fields, "identifier": identifier})
        )
        if step.status_code == 303 and "/login/password" in step.headers["Location"]:
            page = check.answer(browser.get(step.headers["Location"]))
            if page.status_code == 200:
                form = read_form(page.get_data(as_text=True), "login-password-form")
                check.answer(browser.post(form.action, data={**form.fields, "password": password}))
        # a forged form (no CSRF token) is refused too
        check.answer(browser.post("/login", data={"identifier": identifier, **extra}))
        check.refused()


# --- Discovery: any Host header ------------------------------------------------------------


@FUZZ
@given(
    host=st.one_of(
        st.builds(lambda port: f"{TENANT_HOST}:{port}", st.integers(0, 99999)),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:[]", max_size=60),
        HEADER_VALUE,
        st.builds(lambda text: TENANT_HOST + text, st.sampled_from(["\x00", "\t", "_", "é"])),
        st.sampled_from([TENANT_HOST.upper(), f"{TENANT_HOST}.", "[::1]:1", ":", "login.test:x"]),
    )
)
def test_discovery_with_any_host(world: World, host: str) -> None:
    with Checked(world) as check:
        response = check.answer(
            world.browser().get("/.well-known/openid-configuration", headers={"Host": host})
        )
        if response.status_code == 200:
            assert response.get_json()["issuer"] == f"https://{TENANT_HOST}"
        check.refused()
