"""Schemathesis against the served OpenAPI document: generated requests, valid and invalid,
to every operation never get a 500, and every answer matches the document (status, content
type, headers, body). The number of examples is bounded so the run fits in CI."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.world import api_token
from tests.api.world import build_world

EXCLUDED = [positive_data_acceptance]
"""An opaque value the document cannot describe fully (a cursor, a metadata key the
server refuses by size) is schema-valid yet refused with a documented 4xx: every other
check runs, the not-a-server-error and response-conformance ones among them."""
EXAMPLES = 4
"""Examples per operation and mode (about 45 operations, two modes)."""


@pytest.fixture
def served(foyer_app, tenant, make_organization, make_user, client):
    world = build_world(foyer_app, tenant, make_organization, make_user)
    token = api_token(client, world.tenant)
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", foyer_app, base_url="https://login.test"
    )
    return schema, {"Authorization": f"Bearer {token}"}, world


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_answers_every_generated_request_as_documented(served, mode):
    schema, headers, world = served
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    known = {
        "user_id": world.a.user.id,
        "organization": world.a.org.name,
        "client_id": world.app_client.client_id,
    }
    for operation in operations:
        path_parameters = {
            name: value for name, value in known.items() if "{" + name + "}" in operation.path
        }

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy(mode))
        def check(case):
            case.call_and_validate(
                headers=headers, base_url="https://login.test", excluded_checks=EXCLUDED
            )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
        def check_known(case):
            case.call_and_validate(
                headers=headers, base_url="https://login.test", excluded_checks=EXCLUDED
            )

        try:
            check()
        except Unsatisfiable:
            # nothing of this operation can be invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label
        if path_parameters and mode is GenerationMode.POSITIVE:
            check_known()
