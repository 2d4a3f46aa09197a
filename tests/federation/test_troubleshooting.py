"""The troubleshooting table of docs/federation.md lists every error page a federated
sign-in can show and every code its events carry: a code added to the federation code
without a row fails here."""

from __future__ import annotations

import re
from pathlib import Path

from app.errors import ERRORS
from app.login.federated import PAGES
from app.strategies.oidc import DENIED
from app.strategies.oidc import UNAVAILABLE

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "app/login/federated.py",
    ROOT / "app/login/linking.py",
    ROOT / "app/login/saml_views.py",
    *sorted((ROOT / "app/strategies").glob("*.py")),
]
PATTERNS = {
    "page": re.compile(r'error_page\(\s*"([a-z_]+)"'),
    "upstream": re.compile(r'UpstreamError\(\s*"([a-z_]+)"'),
    "reason": re.compile(r'reason="([a-z_]+)"'),
    "event": re.compile(r'"code": "([a-z_]+)"'),
}


def codes_in_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {kind: set() for kind in PATTERNS}
    for source in SOURCES:
        text = source.read_text()
        for kind, pattern in PATTERNS.items():
            found[kind].update(pattern.findall(text))
    found["page"].update(PAGES.values())
    found["upstream"].update(PAGES)
    return found


def troubleshooting() -> str:
    text = (ROOT / "docs/federation.md").read_text()
    section = text.split("\n## Troubleshooting\n", 1)[1]
    return section.split("\n## ", 1)[0]


def page_rows() -> dict[str, str]:
    """Page code -> what the user sees, from the table's rows."""
    rows = re.findall(r'^\| `([a-z_]+)` \(\d{3}\) \| "([^"]+)" \|', troubleshooting(), re.M)
    return dict(rows)


def test_the_search_finds_the_codes():
    found = codes_in_code()
    assert {"upstream_failed", "login_expired", "no_connection"} <= found["page"]
    assert {"invalid_response", "upstream_misconfigured", "email_in_use"} <= found["upstream"]
    assert "upstream_state_unknown" in found["reason"]


def test_every_error_code_of_federation_is_in_the_troubleshooting_table():
    section = troubleshooting()
    found = codes_in_code()
    codes = set().union(*found.values(), DENIED, UNAVAILABLE)
    missing = sorted(code for code in codes if f"`{code}`" not in section)
    assert not missing, f"not in docs/federation.md#troubleshooting: {missing}"


def test_every_page_has_its_row_with_the_title_the_user_sees(foyer_app):
    rows = page_rows()
    pages = codes_in_code()["page"]
    assert pages <= set(rows), sorted(pages - set(rows))
    with foyer_app.test_request_context(headers={"Accept-Language": "en"}):
        for code, seen in rows.items():
            assert code in ERRORS, code
            assert seen == str(ERRORS[code].title), code
