"""Property-based API test: schemathesis drives every operation of /openapi.json.

No generated input may produce a 5xx, and every response must match the schema it documents.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.main import create_app

CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(service):  # type: ignore[no-untyped-def]
    """The app's own OpenAPI document, served in-process."""
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service))


def test_every_operation_survives_generated_input(api_schema) -> None:  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(checks=CHECKS)

        check()
