"""Property-based API tests: no generated request against the booking endpoints gives a 500."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy.engine import Engine

from tests.conftest import NOW, make_settings

ENDPOINTS = "^/api/v1/(bookings|procedures|desks|communes|auth)"
EXAMPLES_PER_OPERATION = 30


def test_no_server_error(sqlite_engine: Engine) -> None:
    from api.deps import get_now
    from api.main import create_app

    app = create_app(make_settings(str(sqlite_engine.url)), sqlite_engine)
    app.dependency_overrides[get_now] = lambda: NOW
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).include(
        path_regex=ENDPOINTS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, "the booking endpoints are in the OpenAPI document"
    failures: list[str] = []
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call()
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    assert failures == []
    # The run really exercised the endpoints, with both accepted and refused requests.
    assert len(statuses) >= 5 * len(operations)
    assert any(code < 300 for code in statuses) and any(code == 422 for code in statuses)
