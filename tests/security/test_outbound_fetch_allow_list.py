"""F-11: IdP metadata, OpenID discovery, JWKS and token endpoints are fetched only over https
from public addresses, unless the ``outbound_allow`` setting lists the network (the test
suite lists loopback for its upstreams: app/testing.py). Redirects are not followed,
answers are read up to a cap, and every fetch has a timeout."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import typing as t

import pytest

from app.connections.strategies import StrategyUnavailable
from app.connections.strategies import UpstreamError
from app.security.outbound import OutboundRefused
from app.security.outbound import check_url
from app.strategies import oidc_metadata
from app.strategies import saml_idp_metadata


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers what the test puts in ``server.answer``; counts the requests it gets."""

    def do_GET(self) -> None:  # noqa: N802
        server = t.cast(t.Any, self.server)
        server.hits.append(self.path)
        status, headers, body = server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, *args: t.Any) -> None:
        pass


@pytest.fixture
def server() -> t.Iterator[t.Any]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.hits = []  # type: ignore[attr-defined]
    httpd.answer = (200, {"Content-Type": "application/json"}, b"{}")  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_allow_list(foyer_app):
    """The production default: nothing is allow-listed."""
    settings = foyer_app.extensions["foyer.settings"]
    saved, settings.outbound_allow = settings.outbound_allow, ""
    oidc_metadata.clear()
    yield foyer_app
    settings.outbound_allow = saved


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/metadata",
        "https://127.0.0.1/metadata",
        "https://localhost/.well-known/openid-configuration",
        "https://[::1]/jwks",
        "https://10.0.0.5/metadata",
        "https://172.16.3.4/metadata",
        "https://192.168.1.1/metadata",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/metadata",
        "https://[::ffff:127.0.0.1]/metadata",
        "https://100.64.0.1/metadata",
        "https://0.0.0.0/metadata",
        "http://93.184.216.34/metadata",
        "ftp://93.184.216.34/metadata",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ],
)
def test_private_loopback_link_local_and_plain_http_are_refused(no_allow_list, url):
    with pytest.raises(OutboundRefused):
        check_url(url)


def test_a_public_https_address_passes(no_allow_list):
    check_url("https://93.184.216.34/metadata")  # an IP literal: no DNS in the test


def test_the_allow_list_admits_its_networks_and_names_only(foyer_app):
    settings = foyer_app.extensions["foyer.settings"]
    settings.outbound_allow = "10.1.0.0/16, idp.corp.internal"
    check_url("http://10.1.2.3/metadata")
    with pytest.raises(OutboundRefused):
        check_url("https://10.2.0.1/metadata")
    with pytest.raises(OutboundRefused):
        check_url("https://127.0.0.1/metadata")


def test_saml_metadata_from_loopback_is_not_fetched_without_the_allow_list(no_allow_list, server):
    with pytest.raises(StrategyUnavailable, match="refused"):
        saml_idp_metadata.fetch(server.url + "/metadata")
    assert server.hits == []


def test_oidc_discovery_and_jwks_from_loopback_are_not_fetched_without_the_allow_list(
    no_allow_list, server
):
    with pytest.raises(UpstreamError) as refused:
        oidc_metadata.discovery(server.url, ttl=60, timeout=2)
    assert refused.value.code == "upstream_misconfigured"
    with pytest.raises(UpstreamError):
        oidc_metadata.key_set(server.url + "/jwks", ttl=60, timeout=2)
    assert server.hits == []


def test_with_the_allow_list_loopback_is_fetched(foyer_app, server):
    server.answer = (200, {"Content-Type": "application/xml"}, b"<EntityDescriptor/>")
    assert saml_idp_metadata.fetch(server.url + "/metadata") == "<EntityDescriptor/>"
    assert server.hits == ["/metadata"]


def test_a_redirect_to_an_internal_address_is_not_followed(foyer_app, server):
    server.answer = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    with pytest.raises(StrategyUnavailable, match="HTTP 302"):
        saml_idp_metadata.fetch(server.url + "/metadata")
    with pytest.raises(UpstreamError):
        oidc_metadata.get_json(server.url + "/jwks", 2, what="jwks")
    assert len(server.hits) == 2


def test_saml_metadata_larger_than_the_cap_is_refused(foyer_app, server):
    body = b"<EntityDescriptor>" + b" " * saml_idp_metadata.MAX_BYTES + b"</EntityDescriptor>"
    server.answer = (200, {"Content-Type": "application/xml"}, body)
    with pytest.raises(StrategyUnavailable, match="too large"):
        saml_idp_metadata.fetch(server.url + "/metadata")


def test_a_silent_metadata_server_times_out(foyer_app):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/metadata"
        with pytest.raises(StrategyUnavailable, match="unreachable"):
            saml_idp_metadata.fetch(url, timeout=0.5)
