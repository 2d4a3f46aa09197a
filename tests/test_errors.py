"""Every failure gets the branded error page (or plain text for unknown hosts), never a
framework default page."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from app import hookimpl
from app.db import session
from app.errors import ERRORS
from app.errors import error_page
from app.testing import USER_PASSWORD
from app.testing import host_client
from app.testing import login
from app.testing import read_form
from app.testing import submit_form


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_branded(response, status: int, title: str) -> str:
    body = text(response)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f'id="error-title">{title}<' in body
    assert 'id="brand-name" dir="auto">Acme Inc.<' in body
    assert 'rel="stylesheet" href="/assets/' in body and '/default.css"' in body  # theme bundle
    assert "Werkzeug" not in body and "Redirecting..." not in body
    assert "Traceback" not in body
    return body


def test_unknown_path_is_a_branded_404_counted_not_stored(client, tenant, recorded_events):
    before = REGISTRY.get_sample_value("foyer_error_pages_total", {"code": "not_found"}) or 0
    answer = client.get("/no/such/page", headers={"X-Request-ID": "lb-4711"})
    body = assert_branded(answer, 404, "Page not found")
    assert answer.headers["X-Request-ID"] == "lb-4711"
    assert 'id="error-reference" dir="ltr">lb-4711<' in body
    assert recorded_events("error_shown") == []  # a scanner does not grow the event table
    after = REGISTRY.get_sample_value("foyer_error_pages_total", {"code": "not_found"})
    assert after == before + 1


def test_the_reference_is_the_request_id_of_the_event_and_the_log(client, user, recorded_events):
    page = client.get("/login", follow_redirects=True)
    action = read_form(text(page), "login-identifier-form").action
    answer = client.post(action, data={"identifier": "a@b.test"}, headers={"X-Request-ID": "<x>"})
    rid = answer.headers["X-Request-ID"]
    assert rid != "<x>" and len(rid) == 32  # not an id a log line or a page may hold: a new one
    assert f'id="error-reference" dir="ltr">{rid}<' in text(answer)
    assert recorded_events("error_shown")[-1].data["request_id"] == rid


def test_wrong_method_is_a_branded_405_with_allow_header(client, tenant):
    token = read_form(
        text(client.get("/login", follow_redirects=True)), "login-identifier-form"
    ).fields["csrf_token"]
    answer = client.post("/login/done", data={"csrf_token": token})
    assert_branded(answer, 405, "This action is not available")
    assert "GET" in answer.headers["Allow"]


def test_oversized_form_is_a_branded_413(client, tenant):
    answer = client.post("/login?tx=x", data={"identifier": "x" * (2 * 1024 * 1024)})
    assert_branded(answer, 413, "The request is too large")


def test_missing_csrf_token_is_a_branded_400(client, user, recorded_events):
    page = client.get("/login", follow_redirects=True)
    action = read_form(text(page), "login-identifier-form").action
    answer = client.post(action, data={"identifier": "alice@example.com"})
    assert_branded(answer, 400, "Your form expired")
    assert recorded_events("error_shown")[-1].data["code"] == "csrf_failed"


def test_forged_csrf_token_is_a_branded_400(client, user):
    page = client.get("/login", follow_redirects=True)
    action = read_form(text(page), "login-identifier-form").action
    answer = client.post(action, data={"identifier": "a@b.test", "csrf_token": "forged"})
    assert_branded(answer, 400, "Your form expired")


def test_raising_plugin_is_a_branded_502_naming_nothing_secret(
    client, user, register_plugin, recorded_events
):
    class Exploding:
        @hookimpl
        def check_login(self, context):
            raise RuntimeError("database password is hunter2")

    register_plugin(Exploding(), name="exploding")
    body = assert_branded(
        login(client, "alice@example.com", USER_PASSWORD), 502, "Sign-in could not be completed"
    )
    assert "hunter2" not in body
    assert recorded_events("plugin_failed")[-1].data["plugin"] == "exploding"


def test_unexpected_exception_is_a_branded_500(client, user, monkeypatch, recorded_events):
    from app.login import discovery

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(discovery, "choose_connection", broken)
    page = client.get("/login", follow_redirects=True)
    form = read_form(text(page), "login-identifier-form")
    answer = client.post(form.action, data={**form.fields, "identifier": "alice@example.com"})
    body = assert_branded(answer, 500, "Something went wrong")
    assert "secret detail" not in body
    assert recorded_events("error_shown")[-1].data["error"] == "RuntimeError"


def test_failing_error_template_still_answers_with_our_own_page(client, tenant, monkeypatch):
    import app.errors

    def broken(*args, **kwargs):
        raise RuntimeError("template broken")

    monkeypatch.setattr(app.errors, "render_template", broken)
    answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert "<h1>Page not found</h1>" in text(answer)
    assert "Werkzeug" not in text(answer)


def test_error_page_never_raises_even_when_everything_fails(foyer_app, tenant, monkeypatch):
    import app.errors

    monkeypatch.setattr(app.errors, "_render_error", lambda *a, **k: 1 / 0)
    with foyer_app.test_request_context("/", base_url="https://login.test"):
        answer = error_page("server_error")
    assert answer.status_code == 500
    assert "Something went wrong" in text(answer)


@pytest.mark.parametrize("path", ["/login", "/no/such/page", "/logout"])
def test_unknown_host_gets_plain_text_that_repeats_nothing(foyer_app, tenant, path):
    answer = host_client(foyer_app, "evil.test").get(path)
    assert answer.status_code == 404
    assert answer.mimetype == "text/plain"
    assert "evil" not in text(answer)


def test_support_contact_of_the_tenant_is_on_the_error_page(client, tenant):
    tenant.settings = {"support_email": "help@acme.test", "support_url": "https://acme.test/help"}
    session.commit()
    body = text(client.get("/login?tx=gone"))
    assert 'id="error-support"' in body
    assert '<a href="mailto:help@acme.test" dir="ltr">help@acme.test</a>' in body
    assert 'href="https://acme.test/help"' in body
    assert 'id="support-contact"' not in body  # shown once, in the card


def test_organization_branding_gives_its_own_support_contact(
    client, make_organization, make_login_tx, tenant
):
    tenant.settings = {"support_email": "help@acme.test"}
    org = make_organization("globex", "Globex", branding={"support_email": "it@globex.test"})
    tx = make_login_tx(organization=org)
    org.connection_links.clear()
    session.commit()
    page = client.get(f"/login?tx={tx}")
    answer = submit_form(client, page, "login-identifier-form", identifier="x@globex.test")
    body = text(answer)
    assert answer.status_code == 503
    assert "it@globex.test" in body and "help@acme.test" not in body
    assert 'id="brand-name" dir="auto">Globex<' in body


def test_every_error_code_has_a_complete_message():
    for code, kind in ERRORS.items():
        assert 400 <= kind.status < 600, code
        for part in (kind.title, kind.message, kind.next_step):
            assert str(part).strip(), code


def test_language_links_on_a_404_never_point_to_another_host(client, tenant):
    for path in ("//evil.test/path", "/\\evil.test/path", "/\\/evil.test/path"):
        body = text(client.get("/", environ_overrides={"PATH_INFO": path}))
        assert 'href="/evil.test/path?lang=fr"' in body, path
        assert "\\" not in body and 'href="//' not in body
