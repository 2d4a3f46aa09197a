"""Branding is data: validated, layered tenant -> application -> organization, escaped."""

from __future__ import annotations

import re

import pytest

from app.branding.data import clean_branding
from app.branding.data import validate_branding
from app.db import session
from tests.configfile.conftest import BASE
from tests.configfile.conftest import Foyer

HOSTILE_NAME = "</title><script>alert(1)</script><style>body{display:none}</style>\"'&"


def body(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("colors", {"primary": "red;}body{display:none"}, "is not a #rgb or #rrggbb color"),
        ("colors", {"primary": "#fff;}</style>"}, "is not a #rgb or #rrggbb color"),
        ("colors", {"bogus": "#ffffff"}, "unknown color 'bogus'"),
        ("logo_url", "javascript:alert(1)", "is not an https:// URL"),
        ("logo_url", "JaVaScRiPt:alert(1)", "is not an https:// URL"),
        ("support_url", "http://plain.example", "is not an https:// URL"),
        ("privacy_url", "https://user:pw@example.com/", "must not contain a user name"),
        ("terms_url", "https://example.com/ x", "contains spaces"),
        ("logo_url", "https://x.example/" + "a" * 2100, "is longer than 2048"),
        ("support_email", "not-an-address", "is not an email address"),
        ("email_reply_to", "a@b.example\r\nBcc: victim@x.example", "is not an email address"),
        ("display_name", "x" * 121, "is longer than 120"),
        ("display_name", "Acme\u202egnp.exe", "control character U+202E"),
        ("display_name", "Line\nbreak", "control character U+000A"),
        ("email_sender_name", "IT <ceo@example.com>", "must not contain"),
        ("email_sender_name", "Help\r\nBcc: x@y.example", "control character"),
        ("unknown", "x", "unknown field"),
    ],
)
def test_validation_refuses_hostile_values(field, value, message):
    clean, problems = validate_branding({field: value})
    assert field not in clean
    assert [p.field for p in problems] == [field]
    assert message in problems[0].message


def test_valid_branding_is_kept_and_normalized():
    clean, problems = validate_branding(
        {
            "display_name": "  Globex <Europe> & Co  ",
            "logo_url": "https://cdn.globex.example/logo.svg",
            "colors": {"primary": "#0B5CAD"},
            "support_email": "help@globex.example",
            "email_sender_name": "Globex IT",
            "email_reply_to": "it@globex.example",
            "terms_url": None,
        }
    )
    assert problems == []
    assert clean == {
        "display_name": "Globex <Europe> & Co",
        "logo_url": "https://cdn.globex.example/logo.svg",
        "colors": {"primary": "#0b5cad"},
        "support_email": "help@globex.example",
        "email_sender_name": "Globex IT",
        "email_reply_to": "it@globex.example",
    }


def test_theme_is_an_application_field_only():
    assert validate_branding({"theme": "ember"})[1][0].field == "theme"
    clean, problems = validate_branding(
        {"theme": "ember"}, allow_theme=True, installed_themes={"ember"}
    )
    assert clean == {"theme": "ember"} and problems == []
    assert validate_branding({"theme": "gone"}, allow_theme=True, installed_themes={"ember"})[1][
        0
    ].message.startswith("no theme")


def test_stored_bad_entries_are_dropped_not_shown():
    assert clean_branding(
        {
            "colors": {"primary": "#112233", "text": "red;}x{"},
            "logo_url": "javascript:alert(1)",
            "support_email": "ok@example.com",
        }
    ) == {"colors": {"primary": "#112233"}, "support_email": "ok@example.com"}
    assert clean_branding("not a mapping") == {}


def test_hostile_stored_branding_never_reaches_the_page_as_code(
    client, tenant, make_organization, make_login_tx
):
    org = make_organization("evil", "Evil")
    # stored as is: data from before validation, or edited in the database
    org.branding = {
        "display_name": HOSTILE_NAME,
        "logo_url": "javascript:alert(1)",
        "colors": {"primary": "red;}body{display:none", "text": "#fff;}</style>"},
        "support_url": "javascript:alert(2)",
        "privacy_url": "data:text/html,<script>alert(3)</script>",
        "support_email": 'x@y.example"><script>',
    }
    session.commit()
    page = body(client.get(f"/login?tx={make_login_tx(organization=org)}"))
    assert "<script>" not in page and "<style>" not in page and "</title><" not in page
    assert "javascript:" not in page and "data:text/html" not in page
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # escaped in the heading too, isolated for bidi
    assert re.search(r'id="page-title">\s*Sign in to <bdi>&lt;/title&gt;', page)
    assert 'id="brand-logo"' not in page  # the bad logo is dropped: monogram instead
    assert "/branding/colors.css" not in page  # no valid color override: none linked


def test_colors_stylesheet_refuses_injection(client, tenant):
    for query in (
        "primary=red;}body{display:none",
        "primary=fff;}</style>",
        "primary=%3C/style%3E",
        "text=112233&primary=x",
    ):
        assert client.get(f"/branding/colors.css?{query}").status_code == 404


def test_branding_layers_tenant_then_application_then_organization(
    client, tenant, make_organization, make_login_tx, make_client
):
    tenant.settings = {
        "support_email": "tenant@acme.test",
        "branding": {
            "colors": {"primary": "#111111", "background": "#eeeeee"},
            "privacy_url": "https://acme.test/privacy",
            "terms_url": "https://acme.test/terms",
        },
    }
    app_client, _secret = make_client(
        "Portal",
        settings={
            "branding": {
                "theme": "harbor",
                "colors": {"primary": "#222222"},
                "support_url": "https://portal.acme.test/help",
                "terms_url": "https://portal.acme.test/terms",
            }
        },
    )
    session.commit()

    page = body(client.get(f"/login?tx={make_login_tx(app_client=app_client)}"))
    assert "sign-in-notice" in page  # the application's theme (harbor)
    assert "primary=222222" in page and "background=eeeeee" in page
    assert 'href="https://portal.acme.test/help"' in page
    assert 'href="https://portal.acme.test/terms"' in page
    assert 'href="https://acme.test/privacy"' in page
    assert "mailto:tenant@acme.test" in page

    org = make_organization(
        "north",
        "North",
        theme="nocturne",
        branding={
            "display_name": "North Division",
            "colors": {"primary": "#333333"},
            "support_email": "north@acme.test",
        },
    )
    tx = make_login_tx(app_client=app_client, organization=org)
    page = body(client.get(f"/login?tx={tx}"))
    assert "theme-nocturne" in page and "sign-in-notice" not in page  # org theme wins
    assert "primary=333333" in page and "background=eeeeee" in page
    assert "Sign in to <bdi>North Division</bdi>" in page
    assert "<title>Sign in · North Division</title>" in page
    assert "mailto:north@acme.test" in page
    assert 'href="https://portal.acme.test/help"' in page  # not overridden: kept


def test_error_pages_carry_the_organization_brand_and_support_contacts(
    foyer_app, tenant, make_organization
):
    from app.tenancy.services import set_domains
    from app.testing import host_client

    org = make_organization(
        "north",
        "North",
        theme="harbor",
        branding={"support_email": "north@acme.test", "support_url": "https://help.north.test/"},
    )
    set_domains(
        tenant, [(d.base_url, None) for d in tenant.domains] + [("https://north.acme.test", org.id)]
    )
    session.commit()
    page = host_client(foyer_app, "north.acme.test").post("/login", data={})  # no CSRF token
    assert page.status_code == 400
    html = body(page)
    assert "theme-harbor" in html and "<title>Your form expired · North</title>" in html
    assert 'id="error-support"' in html and "mailto:north@acme.test" in html
    assert 'href="https://help.north.test/"' in html


@pytest.fixture
def foyer(foyer_app, tmp_path) -> Foyer:
    return Foyer(foyer_app, tmp_path)


def test_config_as_code_refuses_hostile_branding_naming_the_line(foyer):
    text = BASE.replace(
        "      logo_url: https://cdn.acme.test/north.png",
        "      logo_url: javascript:alert(1)\n"
        '      email_sender_name: "IT <ceo@acme.test>"\n'
        "      display_name: North",
    )
    result = foyer.apply(text)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert any("organizations[0].branding.logo_url" in e and "https://" in e for e in errors)
    assert any("organizations[0].branding.email_sender_name" in e for e in errors)
    assert not any("display_name" in e for e in errors)


def test_config_as_code_applies_the_new_branding_fields(foyer):
    from app.orgs.models import Organization

    text = BASE.replace(
        "      logo_url: https://cdn.acme.test/north.png",
        "      logo_url: https://cdn.acme.test/north.png\n"
        "      email_sender_name: North IT\n"
        "      email_reply_to: it@north.acme.test\n"
        "      display_name: North (EU)",
    )
    result = foyer.apply(text)
    assert result.exit_code == 0, result.output + result.stderr
    org = session.query(Organization).filter_by(name="north").one()
    assert org.branding["email_sender_name"] == "North IT"
    assert org.branding["email_reply_to"] == "it@north.acme.test"
    assert org.branding["display_name"] == "North (EU)"


def test_a_form_expired_during_an_organizations_sign_in_keeps_its_brand(
    foyer_app, tenant, make_organization, oidc_client
):
    """The CSRF check runs before the page loads its sign-in: the error page still finds
    the organization of ``?tx=``, its theme and its language."""
    from app.testing import host_client

    make_organization("north", "North", theme="harbor", default_locale="fr")
    model, _secret = oidc_client
    browser = host_client(foyer_app)
    started = browser.get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": model.client_id,
            "redirect_uri": model.redirect_uris[0],
            "scope": "openid",
            "organization": "north",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert started.status_code == 302 and "tx=" in started.headers["Location"]
    page = browser.post(started.headers["Location"], data={"identifier": "a@north.test"})
    assert page.status_code == 400
    html = body(page)
    assert "theme-harbor" in html and 'lang="fr"' in html
    assert "· North</title>" in html


def test_a_changed_brand_shows_on_the_next_page_of_the_same_worker(
    client, tenant, make_organization, make_login_tx
):
    """Brands are kept per worker (app.branding.context.BrandCache): a change made through
    this process clears them with the row cache, so the next page shows it."""
    org = make_organization("west", "West", branding={"colors": {"primary": "#123456"}})
    session.commit()
    tx = make_login_tx(organization=org)
    assert "primary=123456" in body(client.get(f"/login?tx={tx}"))
    assert "primary=123456" in body(client.get(f"/login?tx={tx}"))  # kept: same brand

    org.branding = {"display_name": "West Coast", "colors": {"primary": "#654321"}}
    session.commit()
    page = body(client.get(f"/login?tx={tx}"))
    assert "primary=654321" in page and "primary=123456" not in page
    assert "Sign in to <bdi>West Coast</bdi>" in page
