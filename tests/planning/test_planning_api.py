"""Planner on SQLite and PostgreSQL: bookings -> plan -> routes; roles, 409, lock and re-plan."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY, run_tasks

PASSWORD = "correct-horse-1"
DAY = NEXT_DAY.isoformat()


@pytest.fixture
def planner(client: TestClient, session: Session) -> dict[str, dict[str, str]]:
    """Staff of post office 115100 (Ba Đình) and a day with bookings to plan."""
    for username, role, binding in (
        ("disp", Role.dispatcher, {"post_office_codes": ["115100"]}),
        ("other", Role.dispatcher, {"post_office_codes": ["116500"]}),
        ("courier", Role.courier, {"post_office_codes": ["115100"]}),
        ("courier2", Role.courier, {"post_office_codes": ["115100"]}),
    ):
        create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            full_name=username,
            **binding,  # type: ignore[arg-type]
        )
    key = create_api_key(session, "one-stop")
    session.commit()
    bodies: list[dict[str, Any]] = [
        booking_body(session, service_form="dossier_pickup", phone="0912000001"),
        booking_body(
            session,
            service_form="dossier_pickup",
            phone="0912000002",
            slot="afternoon",
            commune_code="00008",
        ),
        booking_body(session, service_form="result_delivery", phone="0912000003"),
    ]
    for body in bodies[:2]:
        assert client.post("/api/v1/bookings", json=body).status_code == 201
    ready = client.post("/api/v1/bookings", json=bodies[2], headers={"X-API-Key": key})
    assert ready.status_code == 201
    tokens = {}
    for username in ("disp", "other", "courier", "courier2"):
        r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return tokens


def _plan(client: TestClient, auth: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {"date": DAY, "post_office_codes": ["115100"], "time_limit_s": 2, **extra}
    r = client.post("/api/v1/plans", json=body, headers=auth)
    assert r.status_code == 202, r.text
    run_tasks(client)
    plan = client.get(r.headers["location"], headers=auth).json()
    assert plan["status"] == "done", plan
    return plan


def test_plan_serves_every_item_in_order_and_in_hours(
    client: TestClient, planner: dict[str, dict[str, str]]
) -> None:
    plan = _plan(client, planner["disp"])
    assert plan["stop_count"] == 6 and plan["unassigned_count"] == 0
    detail = client.get(f"/api/v1/plans/{plan['id']}/routes", headers=planner["disp"]).json()
    stops = [s for r in detail["routes"] for s in r["stops"]]
    assert len(stops) == 6
    by_item: dict[str, list[dict[str, Any]]] = {}
    for route in detail["routes"]:
        for s in route["stops"]:
            by_item.setdefault(s["item_number"], []).append(s)
    for item_stops in by_item.values():
        assert [s["kind"] for s in item_stops] == ["pickup", "delivery"]
        assert item_stops[0]["departure_at"] <= item_stops[1]["arrival_at"]
    for s in stops:
        hour = int(s["start_at"][11:13]) + int(s["start_at"][14:16]) / 60
        if s["place"] == "desk":  # Ba Đình desks: 08:00-12:00 and 13:30-17:00
            assert 8 <= hour < 12 or 13.5 <= hour < 17
        if s["window_start"]:
            assert s["window_start"] <= s["start_at"] <= s["window_end"]
    route_id = detail["routes"][0]["id"]
    geo = client.get(f"/api/v1/routes/{route_id}/geojson", headers=planner["disp"]).json()
    assert geo["type"] == "FeatureCollection"
    assert geo["features"][0]["geometry"]["type"] == "LineString"


def test_roles_conflicts_and_the_couriers_own_route(
    client: TestClient, planner: dict[str, dict[str, str]]
) -> None:
    body = {"date": DAY, "post_office_codes": ["115100"], "time_limit_s": 2}
    assert client.post("/api/v1/plans", json=body).status_code == 401
    assert client.post("/api/v1/plans", json=body, headers=planner["courier"]).status_code == 403
    assert client.post("/api/v1/plans", json=body, headers=planner["other"]).status_code == 403
    bad = dict(body, post_office_codes=["999999"])
    assert client.post("/api/v1/plans", json=bad, headers=planner["disp"]).status_code == 422
    # While a plan runs for this date and area, a second request is refused.
    first = client.post("/api/v1/plans", json=body, headers=planner["disp"])
    assert first.status_code == 202
    again = client.post("/api/v1/plans", json=body, headers=planner["disp"])
    assert again.status_code == 409 and again.json()["code"] == "plan_running"
    cancel = client.post(f"{first.headers['location']}/cancel", headers=planner["disp"])
    assert cancel.json()["status"] == "cancelled"
    run_tasks(client)  # the cancelled plan's task finds it cancelled and plans nothing
    assert (
        client.get(first.headers["location"], headers=planner["disp"]).json()["status"]
        == "cancelled"
    )
    plan = _plan(client, planner["disp"])
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=planner["other"]).status_code == 404
    mine = client.get("/api/v1/couriers/me/route", params={"date": DAY}, headers=planner["courier"])
    assert mine.status_code == 200 and mine.json()["stops"]
    route_id = mine.json()["id"]
    other = client.get(f"/api/v1/routes/{route_id}", headers=planner["courier2"])
    assert other.status_code == 404
    # Today, the day before every booking: nothing to carry (a result still at the desk after
    # its booking's date would be carried on any later day).
    empty = client.post(
        "/api/v1/plans",
        json={"date": "2026-12-07", "post_office_codes": ["115100"], "time_limit_s": 1},
        headers=planner["disp"],
    )
    assert empty.status_code == 422 and empty.json()["code"] == "nothing_to_plan"
    assert empty.json()["errors"][0]["field"] == "date"
    closed = client.post(
        "/api/v1/plans",
        json={"date": "2026-12-13", "post_office_codes": ["115100"], "time_limit_s": 1},
        headers=planner["disp"],
    )
    assert closed.status_code == 422 and closed.json()["code"] == "day_closed"


def test_lock_and_replan_keep_the_dispatched_route(
    client: TestClient, session: Session, planner: dict[str, dict[str, str]]
) -> None:
    plan = _plan(client, planner["disp"])
    routes = client.get(f"/api/v1/plans/{plan['id']}/routes", headers=planner["disp"]).json()
    locked = routes["routes"][0]
    r = client.post(f"/api/v1/routes/{locked['id']}/lock", headers=planner["disp"])
    assert r.json()["locked"] is True
    # An urgent booking arrives, then the dispatcher re-plans.
    urgent = booking_body(session, service_form="dossier_pickup", phone="0912000009")
    assert client.post("/api/v1/bookings", json=urgent).status_code == 201
    replan = client.post(
        f"/api/v1/plans/{plan['id']}/replan", json={"time_limit_s": 2}, headers=planner["disp"]
    )
    assert replan.status_code == 202
    run_tasks(client)
    new = client.get(replan.headers["location"], headers=planner["disp"]).json()
    assert new["status"] == "done" and new["replans_id"] == plan["id"]
    detail = client.get(f"/api/v1/plans/{new['id']}/routes", headers=planner["disp"]).json()
    kept = [r for r in detail["routes"] if r["locked"]]
    assert len(kept) == 1
    assert [s["item_number"] for s in kept[0]["stops"]] == [
        s["item_number"] for s in locked["stops"]
    ]
    items = [s["item_number"] for r in detail["routes"] for s in r["stops"]]
    assert len(items) == 8 and len(set(items)) == 4  # 3 earlier items + the urgent one


def test_a_plan_survives_the_loss_of_an_in_memory_queue(
    client: TestClient, planner: dict[str, dict[str, str]]
) -> None:
    """The embedded default keeps its queue in memory: a server restarted mid-plan enqueues
    again what is open, and the plan completes."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from postal.worker.queue import forget, queue_app
    from postal.worker.run import enqueue_unfinished

    body = {"date": DAY, "post_office_codes": ["115100"], "time_limit_s": 2}
    started = client.post("/api/v1/plans", json=body, headers=planner["disp"])
    assert started.status_code == 202
    settings = client.app.state.settings  # type: ignore[attr-defined]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    forget(settings)  # the process is gone, and its in-memory queue with it

    async def restart() -> tuple[int, int, int]:
        app = queue_app(settings)
        async with app.open_async():
            return await enqueue_unfinished(app, engine)

    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever runs in this thread
        enqueued = pool.submit(asyncio.run, restart()).result()
    # In memory the plan's task was lost and is enqueued again; PostgreSQL kept it.
    assert enqueued == ((1, 0, 0) if engine.dialect.name == "sqlite" else (0, 0, 0))
    run_tasks(client)
    plan = client.get(started.headers["location"], headers=planner["disp"]).json()
    assert plan["status"] == "done" and plan["stop_count"] == 6
