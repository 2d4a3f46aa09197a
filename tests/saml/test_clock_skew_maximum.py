"""F-08: the clock difference tolerated on NotBefore / NotOnOrAfter is at most 180 s,
whatever the connection's ``clock_skew`` says: ``foyer apply`` refuses more, and a value
stored past that check is cut to 180 s when the answer is checked."""

from __future__ import annotations

import datetime as dt

import pytest

from app.db import session
from app.strategies.saml_settings import MAX_CLOCK_SKEW
from app.strategies.saml_settings import check_options
from tests.saml.conftest import code_of
from tests.saml.conftest import post_response
from tests.saml.conftest import start_sign_in


def stamp(seconds: int) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_maximum_is_180_seconds():
    assert MAX_CLOCK_SKEW == 180


@pytest.mark.parametrize("skew", [181, 181.5, 300, 3600])
def test_apply_refuses_more_than_180_seconds(skew):
    problems = check_options({"idp_metadata_xml": "<EntityDescriptor/>", "clock_skew": skew})
    assert ("clock_skew", "at most 180 seconds") in problems


@pytest.mark.parametrize("skew", [0, 60, 180])
def test_apply_accepts_up_to_180_seconds(skew):
    problems = check_options({"idp_metadata_xml": "<EntityDescriptor/>", "clock_skew": skew})
    assert not [field for field, _ in problems if field == "clock_skew"]


@pytest.mark.parametrize("ahead, accepted", [(170, True), (240, False)])
def test_a_stored_larger_skew_is_cut_to_180_seconds(
    client, saml_options, corp, app_client, idp, ahead, accepted
):
    connection = corp.connections[0]
    connection.options = {**saml_options, "clock_skew": 3600}
    session.commit()
    started = start_sign_in(client, app_client[0], idp)

    def ahead_of_foyer(response):
        response.assertion[0].conditions.not_before = stamp(ahead)
        response.issue_instant = stamp(ahead)

    answer = post_response(client, idp.crafted(started.authn, ahead_of_foyer), started.relay_state)
    if accepted:
        assert code_of(answer)["code"]
    else:
        assert answer.status_code in (403, 502), answer.status_code
        assert "code=" not in answer.headers.get("Location", "")
