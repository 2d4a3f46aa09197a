"""Linking an upstream identity to an existing account: never on an address the IdP did
not verify, never between connections the tenant did not pair (``link_to``), and then only
after the user proves the account with its password. One test per known takeover pattern.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import Identity
from app.accounts.models import User
from app.db import session
from app.testing import USER_PASSWORD
from app.testing import host_client
from tests.federation.conftest import callback
from tests.federation.conftest import come_back
from tests.federation.conftest import exchange
from tests.federation.conftest import follow_connection
from tests.federation.conftest import start_by_email
from tests.federation.conftest import submit
from tests.federation.conftest import text
from tests.federation.conftest import users_of
from tests.federation.upstream_idp import CLIENT_SECRET

VICTIM = "victim@acme.example"


@pytest.fixture
def victim(make_user, connection) -> User:
    """An account of the tenant's database connection (``users``), with a password."""
    return make_user(VICTIM, email_verified=True)


@pytest.fixture
def linkable(realm, connection):
    """The tenant allows linking acme's IdP identities to ``users`` accounts."""
    realm.acme_sso.options = {**realm.acme_sso.options, "link_to": [connection.name]}
    session.commit()
    return realm


def sign_in_upstream(browser, idp, app, sub, email=VICTIM):
    redirected, request = start_by_email(browser, app, email)
    return come_back(browser, idp, redirected, sub), request


def identities_of(user):
    return session.scalars(sa.select(Identity).where(Identity.user_id == user.id)).all()


def test_an_unverified_address_is_never_linked(client, linkable, idp, victim, app_client):
    idp.person("mallory", email=VICTIM, email_verified=False)
    app, secret = app_client
    done, request = sign_in_upstream(client, idp, app, "mallory")
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] != victim.id  # a separate account, not the victim's
    assert identities_of(victim) == []
    [separate] = users_of(linkable.acme_sso)
    assert separate.email_verified is False


def test_a_verified_address_links_only_after_the_password(
    client, linkable, idp, victim, app_client, recorded_events
):
    idp.person("vic", email=VICTIM, email_verified=True)
    app, secret = app_client
    page, request = sign_in_upstream(client, idp, app, "vic")
    assert page.status_code == 200 and 'id="link-password-form"' in text(page)
    assert identities_of(victim) == []  # nothing linked yet

    wrong = submit(client, page, "link-password-form", password="not the password")
    assert wrong.status_code == 400 and identities_of(victim) == []
    assert recorded_events("identity_link_failed")

    done = submit(client, wrong, "link-password-form", password=USER_PASSWORD)
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] == victim.id
    [identity] = identities_of(victim)
    assert (identity.connection_id, identity.subject) == (linkable.acme_sso.id, "vic")
    assert recorded_events("identity_linked")[0].user_id == victim.id
    assert users_of(linkable.acme_sso) == []  # no second account

    later = host_client(client.application)  # next time: straight in, no question
    done, request = sign_in_upstream(later, idp, app, "vic")
    assert exchange(later, secret, request, callback(done, request)).id_token["sub"] == victim.id


def test_the_user_may_keep_a_separate_account(client, linkable, idp, victim, app_client):
    idp.person("vic", email=VICTIM, email_verified=True)
    app, secret = app_client
    page, request = sign_in_upstream(client, idp, app, "vic")
    done = submit(client, page, "link-separate-form")
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] != victim.id and identities_of(victim) == []
    assert [u.email for u in users_of(linkable.acme_sso)] == [VICTIM]


def test_connections_the_tenant_did_not_pair_are_never_linked(
    client, realm, idp, victim, app_client
):
    idp.person("vic", email=VICTIM, email_verified=True)
    app, secret = app_client
    done, request = sign_in_upstream(client, idp, app, "vic")  # acme-sso has no link_to
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] != victim.id and identities_of(victim) == []


def test_a_case_variant_still_needs_the_proof(client, linkable, idp, victim, app_client):
    idp.person("vic", email="VICTIM@Acme.EXAMPLE", email_verified=True)
    page, _request = sign_in_upstream(client, idp, app_client[0], "vic")
    assert 'id="link-password-form"' in text(page)  # the same address: proof first
    assert identities_of(victim) == []


@pytest.mark.parametrize(
    "lookalike",
    [
        "v\u0456ctim@acme.example",  # Cyrillic i
        "\uff56\uff49\uff43\uff54\uff49\uff4d@acme.example",  # fullwidth letters
        "victim\u200b@acme.example",  # a zero-width space
    ],
)
def test_unicode_lookalikes_are_other_addresses(
    client, linkable, idp, victim, app_client, lookalike
):
    idp.person("look", email=lookalike, email_verified=True)
    app, secret = app_client
    done, request = sign_in_upstream(client, idp, app, "look")
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] != victim.id and identities_of(victim) == []


def test_an_address_changed_upstream_never_moves_an_account(
    client, linkable, idp, victim, app_client, recorded_events
):
    app, secret = app_client
    idp.person("alpha", email="alpha@acme.example", email_verified=True)
    idp.person("beta", email="beta@acme.example", email_verified=True)
    ids = {}
    for sub in ("alpha", "beta"):
        browser = host_client(client.application)
        done, request = sign_in_upstream(browser, idp, app, sub, f"{sub}@acme.example")
        ids[sub] = exchange(browser, secret, request, callback(done, request)).id_token["sub"]

    # the IdP (or its admin, or a user editing their profile) moves alpha to beta's address,
    # then to the victim's: alpha stays alpha, keeps its own address, links to nobody
    for moved_to in ("beta@acme.example", VICTIM):
        idp.person("alpha", email=moved_to, email_verified=True)
        browser = host_client(client.application)
        done, request = sign_in_upstream(browser, idp, app, "alpha", "alpha@acme.example")
        tokens = exchange(browser, secret, request, callback(done, request))
        assert tokens.id_token["sub"] == ids["alpha"]
    session.expire_all()
    alpha = session.get(User, ids["alpha"])
    assert alpha.email == VICTIM  # no account held it in acme-sso: the refresh took it
    assert session.get(User, ids["beta"]).email == "beta@acme.example"
    assert identities_of(victim) == []
    assert recorded_events("upstream_email_conflict")[0].user_id == ids["alpha"]


def test_a_new_subject_with_an_address_in_use_is_refused(
    client, realm, idp, app_client, recorded_events
):
    app, secret = app_client
    idp.person("first", email="same@acme.example", email_verified=True)
    done, request = sign_in_upstream(client, idp, app, "first", "same@acme.example")
    exchange(client, secret, request, callback(done, request))
    idp.person("second", email="same@acme.example", email_verified=True)  # a recycled address
    browser = host_client(client.application)
    page, _request = sign_in_upstream(browser, idp, app, "second", "same@acme.example")
    assert page.status_code == 409 and "help@acme.example" in text(page)
    assert recorded_events("upstream_failed")[-1].data["code"] == "email_in_use"
    assert len(users_of(realm.acme_sso)) == 1


def test_an_attacker_controlled_upstream_claiming_the_victims_domain(
    client, tenant, realm, idp, app_client, make_connection, make_organization, victim
):
    """Another customer's IdP (``evil``) asserts a verified acme.example address: it gets an
    account of its own connection, never the victim's, and no way into acme."""
    evil_sso = make_connection(
        "evil-sso",
        "oidc",
        options=idp.options(),
        secrets={"client_secret": CLIENT_SECRET},
    )
    make_organization("evil", "Evil", connections=[evil_sso])
    idp.person("attacker", email=VICTIM, email_verified=True)
    app, secret = app_client
    page, request = start_by_email(client, app, VICTIM)  # routed to acme's IdP, not evil's
    assert page.headers["Location"].startswith(idp.issuer)
    evil = host_client(client.application)
    done = come_back(evil, idp, follow_connection(evil, app, "evil-sso"), "attacker")
    assert done.status_code in (302, 303) and "code=" in done.headers["Location"]
    [attacker] = users_of(evil_sso)
    assert attacker.id != victim.id and identities_of(victim) == []
    into_acme = host_client(client.application).get(
        "/authorize",
        query_string={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uris[0],
            "scope": "openid",
            "organization": "acme",
            "connection": "evil-sso",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    refusal = into_acme.headers["Location"]  # the application is told: not enabled for acme
    assert refusal.startswith(app.redirect_uris[0]) and "error=invalid_request" in refusal


def emailed_code(outbox):
    [message] = [m for m in outbox if m.purpose == "link_code"][-1:]
    assert message.to == VICTIM
    return re.search(r"\b(\d{4}) (\d{4})\b", message.text).group(0)


def test_an_emailed_code_proves_the_account(
    client, linkable, idp, victim, app_client, outbox, recorded_events
):
    idp.person("vic", email=VICTIM, email_verified=True)
    app, secret = app_client
    page, request = sign_in_upstream(client, idp, app, "vic")
    code_page = submit(client, page, "link-code-form")
    assert code_page.status_code == 200 and VICTIM in text(code_page)
    code = emailed_code(outbox)
    assert "Acme SSO" in outbox[-1].text  # names the IdP asking for the link
    wrong = submit(client, code_page, "link-code-entry-form", code="0000 0000")
    assert wrong.status_code == 400 and identities_of(victim) == []
    done = submit(client, wrong, "link-code-entry-form", code=code)
    tokens = exchange(client, secret, request, callback(done, request))
    assert tokens.id_token["sub"] == victim.id
    assert [i.subject for i in identities_of(victim)] == ["vic"]


def test_a_code_is_good_for_a_few_tries_and_only_in_its_sign_in(
    client, linkable, idp, victim, app_client, outbox
):
    idp.person("vic", email=VICTIM, email_verified=True)
    app = app_client[0]
    page, _request = sign_in_upstream(client, idp, app, "vic")
    code_page = submit(client, page, "link-code-form")
    code = emailed_code(outbox)

    other = host_client(client.application)  # another sign-in cannot use this code
    other_page, _request = sign_in_upstream(other, idp, app, "vic")
    other_code_page = submit(other, other_page, "link-code-form")
    assert submit(other, other_code_page, "link-code-entry-form", code=code).status_code == 400

    for _ in range(4):
        code_page = submit(client, code_page, "link-code-entry-form", code="1111 1111")
        assert code_page.status_code == 400
    ended = submit(client, code_page, "link-code-entry-form", code="1111 1111")
    assert ended.status_code == 400 and 'id="link-code-entry-form"' not in text(ended)
    assert identities_of(victim) == []
