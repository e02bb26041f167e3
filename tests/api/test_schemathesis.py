"""Property-based API tests: no generated request against any operation gives a 500, on
SQLite and PostgreSQL, anonymous and with an admin's token."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy.engine import Engine

from tests.conftest import NOW, make_settings

ENDPOINTS = "^/api/v1/"
EXAMPLES_PER_OPERATION = 10


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "admin"])
def test_no_server_error(engine: Engine, signed_in: bool) -> None:
    from api.deps import get_now
    from api.main import create_app

    # Optimise problems are queued, never waited for: no worker runs beside this test.
    app_settings = make_settings(
        engine.url.render_as_string(hide_password=False), optimise_sync_max_tasks=0
    )
    app = create_app(app_settings, engine)
    app.dependency_overrides[get_now] = lambda: NOW
    headers = _admin_headers(app, engine) if signed_in else {}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).include(
        path_regex=ENDPOINTS
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35, "every operation of the OpenAPI document"
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
            response = case.call(headers={**(case.headers or {}), **headers})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    assert failures == []
    # The run really exercised the endpoints, with both accepted and refused requests.
    assert len(statuses) >= 5 * len(operations)
    assert any(code < 300 for code in statuses) and any(code == 422 for code in statuses)


def _admin_headers(app: Any, engine: Engine) -> dict[str, str]:
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from postal.auth.models import Role
    from postal.auth.service import create_user

    with Session(engine) as session:
        create_user(session, username="fuzz-admin", password="fuzz-pass-123", role=Role.admin,
                    full_name="Fuzz")  # fmt: skip
        session.commit()
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/auth/token", data={"username": "fuzz-admin", "password": "fuzz-pass-123"}
        )
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
