"""A small HTTP/1.1 client for the load generator: one cookie jar, no redirects followed.

``requests`` spends more CPU per call than the server it measures; on a two-core machine the
load generator shares the cores with the server, so a lean client leaves more of them to
the server. It connects to a loopback address and sends the tenant's host name in ``Host``.
"""

from __future__ import annotations

import base64
import http.client
import random
import re
import time
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


class Response(t.NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def query(self) -> dict[str, str]:
        """The query parameters of the redirect target."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    def csrf_token(self) -> str:
        found = CSRF.search(self.body)
        if found is None:
            raise UnexpectedResponse("no csrf_token in the page", self)
        return found.group(1).decode()


class UnexpectedResponse(Exception):
    """A step of a scenario did not answer as a working server would."""

    def __init__(self, what: str, response: Response | None = None) -> None:
        detail = ""
        if response is not None:
            detail = f" (status {response.status}, {response.body[:300]!r})"
        super().__init__(what + detail)
        self.response = response


class Client:
    """One browser or one machine client: a cookie jar, and a connection per request or one
    kept alive.

    gunicorn's sync workers close every connection after one response; with ``keepalive``
    the client keeps its connection open between requests (HTTP/1.1 keep-alive) for the
    servers that offer it, and opens a new one when the server closed it.
    """

    def __init__(
        self,
        address: tuple[str, int],
        host: str,
        headers: t.Mapping[str, str] | None = None,
        keepalive: bool = False,
    ) -> None:
        self.address = address
        self.host = host
        self.keepalive = keepalive
        self.connection: http.client.HTTPConnection | None = None
        self.headers = dict(headers or {})
        """Sent with every request (a TLS-terminating proxy's X-Forwarded-* headers)."""
        self.cookies: dict[str, str] = {}
        self.latencies: list[float] = []
        """Seconds of every request this client made (for p50/p99 per request)."""

    def request(
        self,
        method: str,
        target: str,
        form: t.Mapping[str, str] | None = None,
        headers: t.Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        send = {"Host": self.host, "Accept-Language": "en", **self.headers, **(headers or {})}
        if "X-Forwarded-For" in self.headers:
            send["X-Forwarded-For"] = client_address()
        if self.cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        raw, data = self._send(method, target, body, send)
        seconds = time.perf_counter() - started
        self.latencies.append(seconds)
        for header in raw.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return Response(raw.status, raw.headers, data, seconds)

    def _send(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        if not self.keepalive:
            connection = http.client.HTTPConnection(*self.address, timeout=60)
            try:
                connection.request(method, target, body=body, headers=headers)
                raw = connection.getresponse()
                return raw, raw.read()
            finally:
                connection.close()
        reused = self.connection is not None
        if self.connection is None:
            self.connection = http.client.HTTPConnection(*self.address, timeout=60)
        try:
            self.connection.request(method, target, body=body, headers=headers)
            raw = self.connection.getresponse()
            data = raw.read()
        except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
            self.close()
            if not reused:
                raise
            return self._send(method, target, body, headers)  # the server closed an idle one
        if raw.will_close:
            self.close()
        return raw, data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def get(self, target: str, params: t.Mapping[str, str] | None = None, **kw: t.Any) -> Response:
        if params:
            target = f"{target}?{urlencode(params)}"
        return self.request("GET", target, **kw)

    def post(self, target: str, form: t.Mapping[str, str], **kw: t.Any) -> Response:
        return self.request("POST", target, form=form, **kw)


ADDRESSES = 4096
"""Client addresses the proxy reports: many users and applications, none of which sends
enough to reach the per-address rate limits Foyer ships with."""


def client_address() -> str:
    n = random.randrange(ADDRESSES)
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1 Basic credentials (form-encoded id and secret)."""
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def expect(response: Response, status: int, what: str) -> Response:
    if response.status != status:
        raise UnexpectedResponse(f"{what}: expected {status}", response)
    return response
