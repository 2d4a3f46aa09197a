"""What every page carries: labels, autocomplete, stable ids, language and direction, brand."""

from __future__ import annotations

import re

import pytest

from app.db import session
from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import submit_form


def text(response) -> str:
    return response.get_data(as_text=True)


def html_lang(response) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', text(response))
    assert match, "no <html lang dir>"
    return match.group(1), match.group(2)


@pytest.fixture
def pages(client, user, make_login_tx) -> dict[str, str]:
    """Every hosted page's HTML, by name."""
    tx = make_login_tx()
    found = {"identifier": text(client.get(f"/login?tx={tx}"))}
    step = submit_form(
        client,
        client.get(f"/login?tx={tx}"),
        "login-identifier-form",
        identifier="alice@example.com",
    )
    found["password"] = text(client.get(step.headers["Location"]))
    login(client, "alice@example.com", USER_PASSWORD)
    found["signed_in"] = text(client.get("/login/done"))
    found["logout"] = text(client.get("/logout"))
    submit_form(client, client.get("/logout"), "logout-form")
    found["signed_out"] = text(client.get("/logout"))
    found["error"] = text(client.get("/login?tx=unknown"))
    return found


def test_identifier_field_has_label_and_username_autocomplete(pages):
    page = pages["identifier"]
    assert '<form class="form" id="login-identifier-form" method="post"' in page
    assert '<label class="field__label" for="identifier">Email or username</label>' in page
    field = re.search(r"<input [^>]*id=\"identifier\"[^>]*>", page).group(0)
    assert 'autocomplete="username"' in field
    assert "required" in field
    assert 'id="submit" type="submit"' in page


def test_password_field_has_label_and_current_password_autocomplete(pages):
    page = pages["password"]
    assert '<form class="form" id="login-password-form" method="post"' in page
    assert '<label class="field__label" for="password">Password</label>' in page
    field = re.search(r"<input [^>]*id=\"password\"[^>]*>", page).group(0)
    assert 'autocomplete="current-password"' in field
    assert 'type="password"' in field
    assert 'id="identity-value"' in page and "alice@example.com" in page


@pytest.mark.parametrize(
    "name", ["identifier", "password", "signed_in", "logout", "signed_out", "error"]
)
def test_every_page_has_the_layout_and_no_inline_style(pages, name):
    page = pages[name]
    assert page.startswith("<!doctype html>")
    assert '<html lang="en" dir="ltr">' in page
    assert '<a class="skip-link" href="#main">Skip to content</a>' in page
    assert '<main class="card" id="main"' in page
    assert 'id="brand-name" dir="auto">Acme Inc.<' in page
    assert 'id="language-switcher" aria-label="Language"' in page
    assert re.search(r"<title>[^<]+ · Acme Inc\.</title>", page)
    assert re.search(r'rel="stylesheet" href="/assets/[0-9a-f]{16}/default\.css"', page)
    assert " style=" not in page and "<style" not in page  # the CSP allows no inline style
    assert "<script>" not in page
    assert page.count("<h1") == 1


def test_every_post_form_carries_a_csrf_token(pages):
    for name, page in pages.items():
        for form in re.findall(r"<form .*?</form>", page, re.S):
            assert 'name="csrf_token"' in form, name


def test_language_switcher_changes_language_and_is_remembered(client, make_login_tx, tenant):
    tx = make_login_tx()
    page = client.get(f"/login?tx={tx}")
    assert f'href="/login?tx={tx}&amp;lang=fr"' in text(page)
    assert html_lang(client.get(f"/login?tx={tx}&lang=fr")) == ("fr", "ltr")
    assert html_lang(client.get(f"/login?tx={tx}")) == ("fr", "ltr")
    assert 'lang="fr" hreflang="fr" aria-current="true"' in text(client.get(f"/login?tx={tx}"))


def test_arabic_pages_are_right_to_left(client, make_login_tx, tenant):
    tx = make_login_tx()
    assert html_lang(client.get(f"/login?tx={tx}&lang=ar")) == ("ar", "rtl")
    assert html_lang(client.get("/login?tx=unknown")) == ("ar", "rtl")  # error pages too


def test_unknown_lang_value_is_ignored(client, make_login_tx, tenant):
    tx = make_login_tx()
    assert html_lang(client.get(f"/login?tx={tx}&lang=xx-evil")) == ("en", "ltr")


def test_ui_locales_of_the_application_come_first(client, make_login_tx, tenant):
    tx = make_login_tx(params={"ui_locales": "de-CH fr"})
    answer = client.get(f"/login?tx={tx}", headers={"Accept-Language": "es"})
    assert html_lang(answer) == ("de", "ltr")


def test_language_picked_after_the_sign_in_started_wins_over_ui_locales(
    client, make_login_tx, tenant
):
    tx = make_login_tx(params={"ui_locales": "de"})
    assert html_lang(client.get(f"/login?tx={tx}&lang=ja")) == ("ja", "ltr")
    assert html_lang(client.get(f"/login?tx={tx}")) == ("ja", "ltr")


def test_language_picked_before_the_sign_in_started_yields_to_ui_locales(
    client, make_login_tx, tenant
):
    client.get("/logout?lang=ja")
    tx = make_login_tx(params={"ui_locales": "de"})
    assert html_lang(client.get(f"/login?tx={tx}")) == ("de", "ltr")


def test_accept_language_then_tenant_default(client, make_login_tx, tenant):
    tx = make_login_tx()
    answer = client.get(f"/login?tx={tx}", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert html_lang(answer) == ("es", "ltr")
    tenant.default_locale = "fr"
    session.commit()
    assert html_lang(client.get(f"/login?tx={tx}")) == ("fr", "ltr")


def test_organization_default_locale_comes_before_the_tenant_default(
    client, make_organization, make_login_tx, tenant
):
    org = make_organization("globex", "Globex", default_locale="de")
    tenant.default_locale = "fr"
    session.commit()
    tx = make_login_tx(organization=org)
    assert html_lang(client.get(f"/login?tx={tx}")) == ("de", "ltr")


def test_brand_data_is_escaped(client, tenant, make_login_tx):
    tenant.display_name = '<script>alert("x")</script>'
    session.commit()
    page = text(client.get(f"/login?tx={make_login_tx()}"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_support_contact_and_legal_links_from_tenant_settings(client, tenant, make_login_tx):
    tenant.settings = {
        "support_email": "help@acme.test",
        "branding": {
            "support_url": "https://acme.test/help",
            "privacy_url": "https://acme.test/privacy",
            "terms_url": "javascript:alert(1)",
        },
    }
    session.commit()
    page = text(client.get(f"/login?tx={make_login_tx()}"))
    assert '<a href="mailto:help@acme.test" dir="ltr">help@acme.test</a>' in page
    assert 'href="https://acme.test/help"' in page
    assert 'href="https://acme.test/privacy"' in page
    assert "javascript:" not in page


def test_organization_logo_and_colors(client, make_organization, make_login_tx):
    org = make_organization("globex", "Globex")
    # stored as is: data from before validation, or edited in the database
    org.branding = {
        "logo_url": "https://cdn.globex.test/logo.png",
        "colors": {"primary": "#0f766e", "text": "red; }"},
    }
    session.commit()
    page = text(client.get(f"/login?tx={make_login_tx(organization=org)}"))
    assert (
        '<img class="brand__logo" id="brand-logo" src="https://cdn.globex.test/logo.png"'
        ' alt="Globex">'
    ) in page
    href = re.search(r'href="(/branding/colors\.css\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert "primary=0f766e" in href
    assert "red" not in href
    css = client.get(href)
    assert css.status_code == 200
    assert "--foyer-primary: #0f766e;" in text(css)
