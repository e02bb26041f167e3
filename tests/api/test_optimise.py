"""POST /api/v1/optimise: VROOM format in and out, roles, malformed input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user

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


def test_vroom_format_round_trip(client: TestClient, session: Session) -> None:
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
