"""Rate limits on the credential forms and the password length cap."""

from __future__ import annotations

from app.testing import USER_PASSWORD
from app.testing import login
from app.testing import read_form
from app.testing import submit_form


def test_too_many_attempts_get_the_branded_429_with_retry_after(
    client, foyer_app, user, recorded_events
):
    foyer_app.extensions["foyer.settings"].rate_limit_login = "3 per minute"
    answers = [login(client, "alice@example.com", "wrong password, again") for _ in range(2)]
    assert [a.status_code for a in answers] == [400, 429]  # 2 POSTs each; the 4th is over

    limited = answers[-1]
    body = limited.get_data(as_text=True)
    assert 'id="error-title">Too many attempts' in body
    assert 'id="brand-name" dir="auto">Acme Inc.<' in body
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert recorded_events("rate_limited")


def test_rate_limit_counts_per_client_address(foyer_app, client, user):
    from app.testing import host_client

    foyer_app.extensions["foyer.settings"].rate_limit_login = "2 per minute"
    assert login(client, "alice@example.com", "wrong password, again").status_code == 400
    assert login(client, "alice@example.com", USER_PASSWORD).status_code == 429
    other = host_client(foyer_app)
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert login(other, "alice@example.com", USER_PASSWORD).status_code == 303


def test_pages_themselves_are_not_rate_limited(client, foyer_app, tenant):
    foyer_app.extensions["foyer.settings"].rate_limit_login = "1 per minute"
    for _ in range(5):
        assert client.get("/login", follow_redirects=True).status_code == 200


def test_over_long_password_is_refused_before_hashing(client, foyer_app, user, hash_checks):
    limit = foyer_app.extensions["foyer.settings"].password_max_length
    answer = login(client, "alice@example.com", "x" * (limit + 1))
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert f"Passwords are at most {limit} characters long." in body
    assert 'aria-describedby="password-error"' in body
    assert hash_checks == []


def test_password_of_the_maximum_length_is_checked(client, foyer_app, user, hash_checks):
    limit = foyer_app.extensions["foyer.settings"].password_max_length
    answer = login(client, "alice@example.com", "x" * limit)
    assert answer.status_code == 400
    assert "Wrong email or password." in answer.get_data(as_text=True)
    assert len(hash_checks) == 1


def test_password_field_has_no_maxlength_so_nothing_is_truncated(client, user):
    page = client.get("/login", follow_redirects=True)
    step = submit_form(client, page, "login-identifier-form", identifier="alice@example.com")
    page = client.get(step.headers["Location"]).get_data(as_text=True)
    read_form(page, "login-password-form")
    field = page[page.index('id="password"') - 200 : page.index('id="password"') + 200]
    assert "maxlength" not in field
