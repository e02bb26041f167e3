"""The dispatcher's domain on SQLite and PostgreSQL: the courier roster drives planning
(named couriers, their shifts and availability), hand edits previewed then checked by the
independent checker, unlock and reassign, summaries that add up with locked routes, the
route sheet, and one office's dispatcher kept out of another office's part of a plan."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from postal.planning.roster import set_shift
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY, run_tasks

PASSWORD = "correct-horse-1"
DAY = NEXT_DAY.isoformat()
MORNING, AFTERNOON, AWAY = "Trần Thị Bình", "Lê Văn An", "Phạm Văn Cường"


def _token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def office(client: TestClient, session: Session) -> dict[str, Any]:
    """Post office 115100 with a roster (a morning courier, an afternoon courier, one on
    leave), its dispatcher, and a day of three bookings (morning and afternoon)."""
    ids = {}
    for username, role, name, codes in (
        ("disp", Role.dispatcher, "Điều phối", ["115100"]),
        ("other", Role.dispatcher, "Điều phối khác", ["116500"]),
        ("c1", Role.courier, MORNING, ["115100"]),
        ("c2", Role.courier, AFTERNOON, ["115100"]),
        ("c3", Role.courier, AWAY, ["115100"]),
        ("c4", Role.courier, "Đỗ Thị Hà", ["116500"]),
    ):
        user = create_user(
            session, username=username, password=PASSWORD, role=role, full_name=name,
            post_office_codes=codes,
        )  # fmt: skip
        ids[username] = user.id
    set_shift(session, ids["c1"], NEXT_DAY, "07:30", "12:00")
    set_shift(session, ids["c2"], NEXT_DAY, "13:00", "17:30")
    set_shift(session, ids["c3"], NEXT_DAY, "07:30", "17:30", available=False)
    key = create_api_key(session, "one-stop")
    session.commit()
    for body in (
        booking_body(session, service_form="dossier_pickup", phone="0912000001"),
        booking_body(
            session, service_form="dossier_pickup", phone="0912000002", slot="afternoon",
            commune_code="00008",
        ),
    ):  # fmt: skip
        assert client.post("/api/v1/bookings", json=body).status_code == 201
    result = booking_body(session, service_form="result_delivery", phone="0912000003")
    assert (
        client.post("/api/v1/bookings", json=result, headers={"X-API-Key": key}).status_code == 201
    )
    return {"ids": ids, "disp": _token(client, "disp"), "other": _token(client, "other")}


def _plan(client: TestClient, auth: dict[str, str], offices: list[str] | None = None) -> int:
    body = {"date": DAY, "post_office_codes": offices or ["115100"], "time_limit_s": 2}
    r = client.post("/api/v1/plans", json=body, headers=auth)
    assert r.status_code == 202, r.text
    run_tasks(client)
    plan = client.get(r.headers["location"], headers=auth).json()
    assert plan["status"] == "done", plan
    return int(plan["id"])


def _routes(client: TestClient, auth: dict[str, str], plan_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/plans/{plan_id}/routes", headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_routes_go_to_the_rosters_named_couriers_within_their_shifts(
    client: TestClient, office: dict[str, Any]
) -> None:
    detail = _routes(client, office["disp"], _plan(client, office["disp"]))
    routes = {r["courier_label"]: r for r in detail["routes"]}
    # Each half of the day to the courier on shift then; nobody to the courier on leave, and
    # no placeholder couriers without an account.
    assert set(routes) == {MORNING, AFTERNOON}
    assert {r["courier_user_id"] for r in routes.values()} == {
        office["ids"]["c1"],
        office["ids"]["c2"],
    }
    assert routes[MORNING]["end_at"][11:16] <= "12:00"
    assert routes[AFTERNOON]["start_at"][11:16] >= "13:00"
    assert detail["plan"]["unassigned_count"] == 0


def test_roster_page_lists_couriers_by_name_and_edits_shifts(
    client: TestClient, office: dict[str, Any]
) -> None:
    login = client.post("/staff/login", data={"username": "disp", "password": PASSWORD})
    assert login.status_code == 200
    page = client.get(f"/dispatcher/roster?office=115100&date={DAY}")
    assert page.status_code == 200
    # Vietnamese dictionary order: Lê, Phạm, Trần.
    text = page.text
    assert text.index(AFTERNOON) < text.index(AWAY) < text.index(MORNING)
    c3 = office["ids"]["c3"]
    assert f'id="available_{c3}" value="yes">' in text  # on leave: unchecked
    bad = client.post(
        "/dispatcher/roster",
        data={"office": "115100", "date": DAY, "user_id": [str(c3)], f"start_{c3}": "14:00",
              f"end_{c3}": "09:00", f"available_{c3}": "yes"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert f'id="end_{c3}-error"' in bad.text and 'aria-invalid="true"' in bad.text
    ok = client.post(
        "/dispatcher/roster",
        data={"office": "115100", "date": DAY, "user_id": [str(c3)], f"start_{c3}": "08:00",
              f"end_{c3}": "16:00", f"available_{c3}": "yes"},
    )  # fmt: skip
    assert ok.status_code == 200 and "done=roster" in str(ok.url)
    assert f'id="start_{c3}" value="08:00"' in ok.text
    # Another office's roster is not this dispatcher's to change.
    other = client.post(
        "/dispatcher/roster",
        data={"office": "116500", "date": DAY, "user_id": [str(office["ids"]["c4"])],
              f"start_{office['ids']['c4']}": "08:00", f"end_{office['ids']['c4']}": "16:00"},
    )  # fmt: skip
    assert other.status_code == 403


def test_hand_edits_are_previewed_then_checked_before_saving(
    client: TestClient, office: dict[str, Any]
) -> None:
    auth = office["disp"]
    plan_id = _plan(client, auth)
    routes = {r["courier_label"]: r for r in _routes(client, auth, plan_id)["routes"]}
    morning, afternoon = routes[MORNING], routes[AFTERNOON]
    ids = _stop_ids(client, auth, morning["id"])
    same = _edit(client, auth, morning["id"], {"order": ids, "dry_run": True})
    # The planned order, timed again, is what the independent checker accepts.
    assert same["feasible"] is True and same["added_distance_m"] == 0 and not same["saved"]
    # A delivery before its pickup: the preview says so, saving is refused without confirmation.
    backwards = list(reversed(ids))
    preview = _edit(client, auth, morning["id"], {"order": backwards, "dry_run": True})
    assert preview["feasible"] is False
    assert "edit_precedence" in {r["code"] for r in preview["reasons"]}
    refused = client.post(
        f"/api/v1/routes/{morning['id']}/edit", json={"order": backwards}, headers=auth
    )
    assert refused.status_code == 409 and refused.json()["code"] == "edit_infeasible"
    assert _stop_ids(client, auth, morning["id"]) == ids  # nothing written
    # The afternoon item moved to the morning courier: plan mode keeps the courier in the
    # morning shift and serves the afternoon citizen before their window; the preview says
    # by how many minutes.
    item = next(s for s in _route(client, auth, afternoon["id"])["stops"])["item_number"]
    move = {"move_item": item, "to_route_id": morning["id"]}
    shown = _edit(client, auth, afternoon["id"], {**move, "dry_run": True})
    assert shown["feasible"] is False
    assert {r["code"] for r in shown["reasons"]} == {"edit_early_stop"}
    moved = {s["kind"]: s for r in shown["routes"] for s in r["stops"] if s["moved"]}
    assert {s["item_number"] for s in moved.values()} == {item}
    assert moved["pickup"]["early_min"] > 60 and moved["pickup"]["late_min"] == 0
    assert {r["route_id"] for r in shown["routes"]} == {morning["id"], afternoon["id"]}
    assert (
        client.post(f"/api/v1/routes/{afternoon['id']}/edit", json=move, headers=auth).status_code
        == 409
    )
    saved = _edit(client, auth, afternoon["id"], {**move, "confirm": True})
    assert saved["saved"] is True
    detail = _routes(client, auth, plan_id)
    assert [r["courier_label"] for r in detail["routes"]] == [MORNING]  # the emptied route goes
    assert detail["routes"][0]["stop_count"] == 6
    _assert_adds_up(detail)
    # Another office's dispatcher cannot edit it.
    other = client.post(
        f"/api/v1/routes/{morning['id']}/edit", json={"order": ids}, headers=office["other"]
    )
    assert other.status_code == 404


def test_lock_unlock_and_reassign_by_name(client: TestClient, office: dict[str, Any]) -> None:
    auth = office["disp"]
    plan_id = _plan(client, auth)
    morning = next(
        r for r in _routes(client, auth, plan_id)["routes"] if r["courier_label"] == MORNING
    )
    url = f"/api/v1/routes/{morning['id']}"
    assert client.post(f"{url}/unlock", headers=auth).status_code == 409  # not locked
    assert client.post(f"{url}/lock", headers=auth).json()["locked"] is True
    locked = client.post(f"{url}/edit", json={"courier_user_id": office["ids"]["c3"]}, headers=auth)
    assert locked.status_code == 409 and locked.json()["code"] == "route_locked"
    assert client.post(f"{url}/unlock", headers=auth).json()["locked"] is False
    away = client.post(f"{url}/edit", json={"courier_user_id": office["ids"]["c3"]}, headers=auth)
    assert away.status_code == 409 and away.json()["code"] == "courier_unavailable"
    busy = client.post(f"{url}/edit", json={"courier_user_id": office["ids"]["c2"]}, headers=auth)
    assert busy.status_code == 409 and busy.json()["code"] == "courier_has_route"
    foreign = client.post(
        f"{url}/edit", json={"courier_user_id": office["ids"]["c4"]}, headers=auth
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "courier_user_id"
    # Back from leave: the route goes to them, by name and account.
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        set_shift(s, office["ids"]["c3"], NEXT_DAY, "07:30", "17:30")
        s.commit()
    given = _edit(client, auth, morning["id"], {"courier_user_id": office["ids"]["c3"]})
    assert given["saved"] and given["feasible"]
    route = _route(client, auth, morning["id"])
    assert route["courier_label"] == AWAY and route["courier_user_id"] == office["ids"]["c3"]
    # The route sheet: PDF with the courier's name, the stops, windows and fees.
    sheet = client.get(f"{url}/sheet.pdf", headers=auth)
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert sheet.content.startswith(b"%PDF")
    assert client.get(f"{url}/sheet.pdf", headers=office["other"]).status_code == 404
    from postal.planning.models import PlannedRoute
    from postal.planning.sheet import sheet_lines

    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        row = s.get(PlannedRoute, morning["id"])
        assert row is not None
        lines = sheet_lines(s, client.app.state.settings, row, "vi")  # type: ignore[attr-defined]
    assert [ln.sequence for ln in lines] == list(range(1, len(lines) + 1))
    citizen = [ln for ln in lines if "(" in ln.window or ln.window]
    assert citizen and all("–" in ln.window for ln in citizen)
    assert any(ln.fee_vnd > 0 for ln in lines)  # the postal charge at the citizen's door


def test_summary_adds_up_with_the_locked_route_carried_over(
    client: TestClient, session: Session, office: dict[str, Any]
) -> None:
    auth = office["disp"]
    plan_id = _plan(client, auth)
    morning = next(
        r for r in _routes(client, auth, plan_id)["routes"] if r["courier_label"] == MORNING
    )
    client.post(f"/api/v1/routes/{morning['id']}/lock", headers=auth)
    urgent = booking_body(session, service_form="dossier_pickup", phone="0912000009",
                          slot="afternoon", commune_code="00008")  # fmt: skip
    assert client.post("/api/v1/bookings", json=urgent).status_code == 201
    r = client.post(f"/api/v1/plans/{plan_id}/replan", json={"time_limit_s": 2}, headers=auth)
    assert r.status_code == 202
    run_tasks(client)
    new_id = r.json()["id"]
    detail = _routes(client, auth, new_id)
    assert any(x["locked"] for x in detail["routes"])
    _assert_adds_up(detail)
    assert detail["plan"]["stop_count"] == 8
    # The plan page's summary and its table's total say the same.
    client.post("/staff/login", data={"username": "disp", "password": PASSWORD})
    page = client.get(f"/dispatcher/plans/{new_id}").text
    stops = sum(x["stop_count"] for x in detail["routes"])
    km = f"{sum(x['distance_m'] for x in detail['routes']) / 1000:.1f}"
    assert (
        f'<dd id="sum-stops">{stops}</dd>' in page and f'<td id="total-stops">{stops}</td>' in page
    )
    assert f'<dd id="sum-km">{km} km</dd>' in page and f'<td id="total-km">{km}</td>' in page


def test_a_dispatcher_sees_and_cancels_only_their_offices_part(
    client: TestClient, session: Session, office: dict[str, Any]
) -> None:
    create_user(session, username="both", password=PASSWORD, role=Role.dispatcher,
                full_name="Hai bưu cục", post_office_codes=["115100", "116500"])  # fmt: skip
    session.commit()
    body = booking_body(session, service_form="dossier_pickup", phone="0912000011",
                        desk_code="MC-00235", commune_code="00235")  # fmt: skip
    assert client.post("/api/v1/bookings", json=body).status_code == 201
    both = _token(client, "both")
    req = {"date": DAY, "post_office_codes": ["115100", "116500"], "time_limit_s": 2}
    started = client.post("/api/v1/plans", json=req, headers=both)
    assert started.status_code == 202
    # One office's dispatcher cannot cancel a plan that also covers another office.
    cancel = client.post(f"{started.headers['location']}/cancel", headers=office["disp"])
    assert cancel.status_code == 403 and cancel.json()["code"] == "plan_has_other_offices"
    run_tasks(client)
    plan_id = started.json()["id"]
    everything = _routes(client, both, plan_id)
    assert {r["post_office_code"] for r in everything["routes"]} == {"115100", "116500"}
    mine = _routes(client, office["other"], plan_id)  # the dispatcher of 116500 only
    assert {r["post_office_code"] for r in mine["routes"]} == {"116500"}
    seen = {s["item_number"] for r in mine["routes"] for s in r["stops"]}
    assert seen and seen.isdisjoint(
        {s["item_number"] for r in everything["routes"] if r["post_office_code"] == "115100"
         for s in r["stops"]}
    )  # fmt: skip
    assert mine["plan"]["stop_count"] == 2 and everything["plan"]["stop_count"] == 8
    _assert_adds_up(mine)
    foreign = next(r for r in everything["routes"] if r["post_office_code"] == "115100")
    assert client.get(f"/api/v1/routes/{foreign['id']}", headers=office["other"]).status_code == 404
    client.post("/staff/login", data={"username": "other", "password": PASSWORD})
    page = client.get(f"/dispatcher/plans/{plan_id}").text
    assert foreign["courier_label"] not in page
    for s in foreign["stops"]:
        assert s["item_number"] not in page and s["booking_reference"] not in page


def _assert_adds_up(detail: dict[str, Any]) -> None:
    plan, routes = detail["plan"], detail["routes"]
    assert plan["distance_m"] == sum(r["distance_m"] for r in routes)
    assert plan["duration_s"] == sum(r["duration_s"] for r in routes)
    assert plan["couriers_used"] == sum(1 for r in routes if r["stop_count"])
    assert plan["stop_count"] == sum(len(r["stops"]) for r in routes) + len(detail["unassigned"])
    assert plan["unassigned_count"] == len(detail["unassigned"])
    assert all(r["stop_count"] == len(r["stops"]) for r in routes)


def _route(client: TestClient, auth: dict[str, str], route_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/routes/{route_id}", headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _stop_ids(client: TestClient, auth: dict[str, str], route_id: int) -> list[int]:
    from postal.planning import service

    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        return [x.id or 0 for x in service.route_stops(s, route_id)]


def _edit(
    client: TestClient, auth: dict[str, str], route_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    r = client.post(f"/api/v1/routes/{route_id}/edit", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return dict(r.json())
