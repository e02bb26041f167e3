"""POST /api/v1/optimise: VROOM format in and out, roles, malformed input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user
from tests.conftest import run_tasks

PROBLEM: dict[str, Any] = {
    "vehicles": [
        {
            "id": 1,
            "start": [105.8319, 21.0284],
            "end": [105.8319, 21.0284],
            "capacity": [40],
            "time_window": [27000, 63000],
            "breaks": [{"id": 1, "time_windows": [[41400, 46800]], "service": 1800}],
        }
    ],
    "shipments": [
        {
            "amount": [1],
            "pickup": {"id": 1, "location": [105.8381, 21.0385], "service": 420,
                       "time_windows": [[28800, 43200]]},
            "delivery": {"id": 2, "location": [105.8163, 21.0381], "service": 180,
                         "time_windows": [[28800, 41400], [48600, 61200]]},
        }
    ],
    "jobs": [{"id": 3, "location": [105.8244, 21.0113], "service": 300}],
}  # fmt: skip


def _auth(client: TestClient, session: Session) -> dict[str, str]:
    create_user(session, username="disp", password="secret-pass-1", role=Role.dispatcher,
                full_name="D", post_office_codes=["115100"])  # fmt: skip
    session.commit()
    r = client.post("/api/v1/auth/token", data={"username": "disp", "password": "secret-pass-1"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_vroom_format_round_trip(live_client: TestClient) -> None:
    """The reply waits for the worker's plan (the web process never solves)."""
    client = live_client
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        auth = _auth(client, session)
    assert client.post("/api/v1/optimise", json=PROBLEM).status_code == 401
    r = client.post("/api/v1/optimise", params={"time_limit_s": 2}, json=PROBLEM, headers=auth)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["summary"]["unassigned"] == 0 and out["unassigned"] == []
    steps = out["routes"][0]["steps"]
    kinds = [s["type"] for s in steps]
    assert kinds[0] == "start" and kinds[-1] == "end" and "break" in kinds
    assert kinds.index("pickup") < kinds.index("delivery")
    arrivals = [s["arrival"] for s in steps]
    assert arrivals == sorted(arrivals)


def test_malformed_problem_is_422_naming_the_place(client: TestClient, session: Session) -> None:
    auth = _auth(client, session)
    bad = {**PROBLEM, "vehicles": [{**PROBLEM["vehicles"][0], "capacity": "forty"}]}
    r = client.post("/api/v1/optimise", params={"time_limit_s": 1}, json=bad, headers=auth)
    assert r.status_code == 422
    assert "vehicles" in r.json()["detail"]


def test_a_big_problem_is_a_task_with_a_url_to_poll_and_a_limit_per_client(
    client: TestClient, session: Session
) -> None:
    auth = _auth(client, session)
    app = client.app
    app.state.settings = app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"optimise_sync_max_tasks": 2, "optimise_max_in_flight": 1}
    )
    first = client.post("/api/v1/optimise?time_limit_s=1", json=PROBLEM, headers=auth)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "queued"
    location = first.headers["location"]
    # The client's one problem in flight: a second one waits its turn.
    busy = client.post("/api/v1/optimise?time_limit_s=1", json=PROBLEM, headers=auth)
    assert busy.status_code == 429 and busy.json()["code"] == "optimise_in_flight"
    run_tasks(client)
    done = client.get(location, headers=auth).json()
    assert done["status"] == "done", done
    steps = [s for r in done["result"]["routes"] for s in r["steps"]]
    assert {s.get("id") for s in steps if s["type"] in ("pickup", "delivery", "job")} == {1, 2, 3}
    # Now there is room again; another client cannot read this one's problem.
    again = client.post("/api/v1/optimise?time_limit_s=1", json=PROBLEM, headers=auth)
    assert again.status_code == 202
    unknown = client.get("/api/v1/optimise/00000000-0000-0000-0000-000000000000", headers=auth)
    assert unknown.status_code == 404


def test_numbers_out_of_range_and_wrong_shapes_are_422(
    client: TestClient, session: Session
) -> None:
    """The issue's inputs that answered 500: each is refused before any task is queued."""
    auth = _auth(client, session)
    vehicle = PROBLEM["vehicles"][0]
    job = PROBLEM["jobs"][0]
    bad_problems = [
        {"vehicles": [1], "jobs": [job]},
        {**PROBLEM, "vehicles": [{**vehicle, "speed_factor": 1e308}]},
        {**PROBLEM, "vehicles": [{**vehicle, "time_window": [0, 1e30]}]},
        {**PROBLEM, "jobs": [{**job, "time_windows": [[0, 1e30]]}]},
        {
            "vehicles": [{"id": 1, "start_index": 0, "end_index": 0}],
            "jobs": [{"id": 1, "location_index": 1}],
            "matrices": {"car": {"durations": [[0, 1e30], [1e30, 0]]}},
        },
    ]
    for body in bad_problems:
        r = client.post("/api/v1/optimise", params={"time_limit_s": 1}, json=body, headers=auth)
        assert r.status_code == 422, (body, r.status_code, r.text)
    assert client.get("/api/v1/optimise/00000000-0000-0000-0000-000000000000",
                      headers=auth).status_code == 404  # fmt: skip
