"""The staff and tracking pages server-side (no browser): plan, route, pickup, desk, tracking."""

from __future__ import annotations

import json
import re
import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.booking.models import Item
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind
from postal.tracking.models import CustodyEvent
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY, run_tasks
from tests.tracking.helpers import STROKES

PASSWORD = "correct-horse-1"


def _login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/staff/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def _staff(session: Session, desk_code: str) -> None:
    for username, role, binding in (
        ("disp", Role.dispatcher, {"post_office_codes": ["115100"]}),
        ("courier", Role.courier, {"post_office_codes": ["115100"]}),
        ("clerk", Role.clerk, {"desk_code": desk_code}),
    ):
        create_user(
            session,
            username=username,
            password=PASSWORD,
            role=role,
            full_name=username.title(),
            **binding,
        )
    session.commit()


def _assert_outlined(page: str) -> None:
    """A map page with the commune outline layer, the commune names and a legend."""
    assert '"fillOpacity": 0.06' in page and 'createPane("communeLabels")' in page
    assert '<details class="map-legend"' in page and '<span class="outline">' in page


def test_plan_pickup_handover_and_tracking_pages(client: TestClient, session: Session) -> None:
    body = booking_body(session, service_form="dossier_pickup", phone="0912000001")
    created = client.post("/api/v1/bookings", json=body)
    assert created.status_code == 201, created.text
    item = session.exec(select(Item).where(Item.kind == ItemKind.dossier)).one()
    docs = catalogue.procedure_documents(session, item.procedure_code)
    _staff(session, item.desk_code)

    assert client.get("/courier", follow_redirects=False).status_code == 303  # signed out
    _login(client, "disp")
    page = client.get(f"/dispatcher?date={NEXT_DAY}")
    assert page.status_code == 200 and "115100" in page.text
    form = {"date": str(NEXT_DAY), "post_office_codes": "115100", "time_limit_s": "2"}
    r = client.post("/dispatcher/plans", data=form, follow_redirects=False)
    run_tasks(client)
    plan_url = r.headers["location"]
    plan = client.get(plan_url)
    assert 'data-status="done"' in plan.text and "Refresh" not in plan.headers
    assert client.get(plan_url + "/map").status_code == 200
    route_id = re.search(r'action="/dispatcher/routes/(\d+)/lock"', plan.text)
    assert route_id is not None
    # Every map kind draws the commune outlines (readable without tiles) and a legend.
    for url in (plan_url + "/map", f"/dispatcher/routes/{route_id.group(1)}/map"):
        _assert_outlined(client.get(url).text)
    locked = client.post(f"/dispatcher/routes/{route_id.group(1)}/lock", follow_redirects=True)
    assert 'class="locked"' in locked.text
    replan = client.post(plan_url + "/replan", follow_redirects=False)
    run_tasks(client)
    new_plan = client.get(replan.headers["location"])
    assert new_plan.url.path != plan_url and 'data-status="done"' in new_plan.text
    assert 'class="locked"' in new_plan.text  # the locked route is kept as it was

    _login(client, "courier")
    route = client.get(f"/courier?date={NEXT_DAY}")
    assert route.status_code == 200 and item.number in route.text
    event_id = re.search(r'name="event_id" value="([0-9a-f-]{36})"', route.text)
    assert event_id is not None
    _assert_outlined(client.get(f"/courier/map?date={NEXT_DAY}").text)
    pickup = {
        "event_id": event_id.group(1),
        "type": "pickup",
        "item_number": item.number,
        "seal_number": "S-1",
        "signature_strokes": json.dumps(STROKES),
        **{f"doc_{d.position}_present": "on" for d in docs},
        **{f"doc_{d.position}_form": d.kind.value for d in docs},
    }
    fee = re.search(r'name="fee_vnd" value="(\d+)"', route.text)
    if fee:
        pickup.update(fee_vnd=fee.group(1), receipt_number="BL-1")
    missing = client.post(f"/courier/event?date={NEXT_DAY}", data={**pickup, "seal_number": ""})
    assert missing.status_code == 422  # nothing recorded: no seal
    done = client.post(f"/courier/event?date={NEXT_DAY}", data=pickup, follow_redirects=False)
    assert done.status_code == 303, done.text
    again = client.post(f"/courier/event?date={NEXT_DAY}", data=pickup, follow_redirects=False)
    assert again.status_code == 303  # the same event id: replayed, stored once
    assert (
        len(
            session.exec(
                select(CustodyEvent).where(CustodyEvent.event_id == pickup["event_id"])
            ).all()
        )
        == 1
    )
    session.commit()
    opened = client.post(
        f"/courier/handover?date={NEXT_DAY}",
        data={"desk_code": item.desk_code, "item_numbers": item.number},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text

    _login(client, "clerk")
    desk = client.get("/desk")
    record = re.search(r'href="/desk/records/(\d+)"', desk.text)
    assert record is not None
    rid = record.group(1)
    wrong = client.post(f"/desk/records/{rid}/lines", data={"item_number": "EB000000000VN"})
    assert wrong.status_code in (404, 422)
    client.post(
        f"/desk/records/{rid}/lines", data={"item_number": item.number, "status": "received"}
    )
    closed = client.post(f"/desk/records/{rid}/close", follow_redirects=True)
    assert "line-received" in closed.text
    assert (
        client.get(f"/api/v1/handover-records/{rid}/pdf").headers["content-type"]
        == "application/pdf"
    )
    # Both parties sign the closed record: the clerk here (typed name, no JavaScript) ...
    assert 'action="/desk/records/' + rid + '/sign"' in closed.text
    unsigned = client.post(f"/desk/records/{rid}/sign", data={"typed_name": ""})
    assert unsigned.status_code == 422
    signed = client.post(
        f"/desk/records/{rid}/sign", data={"typed_name": "Lê Thị Hoa"}, follow_redirects=True
    )
    assert "Đã ký xác nhận biên bản." in signed.text
    again = client.post(f"/desk/records/{rid}/sign", data={"typed_name": "Lê Thị Hoa"})
    assert again.status_code == 409
    # ... and the courier on the route page (a drawn signature's SHA-256).
    _login(client, "courier")
    route = client.get(f"/courier?date={NEXT_DAY}")
    assert f"/courier/records/{rid}/sign" in route.text
    drawn = client.post(
        f"/courier/records/{rid}/sign?date={NEXT_DAY}",
        data={"signature_strokes": json.dumps(STROKES)},
        follow_redirects=True,
    )
    assert drawn.status_code == 200 and f"/courier/records/{rid}/sign" not in drawn.text
    body = client.get(f"/api/v1/handover-records/{rid}").json()
    assert body["courier_acknowledged"] and body["clerk_acknowledged"]

    client.cookies.clear()
    track = client.get(f"/track?number={item.number}")
    assert track.status_code == 200 and track.text.count("<li><time") == 2
    assert client.get(f"/track?number={item.number}&lang=en").text.count("<li><time") == 2
    assert client.get("/track?number=EB000000001VN").status_code in (404, 422)
    assert client.get(f"/track/{item.number}/map").status_code == 200
    _assert_outlined(client.get(f"/track/{item.number}/map").text)


def test_result_from_desk_to_courier_to_citizen(client: TestClient, session: Session) -> None:
    created = client.post("/api/v1/bookings", json=booking_body(session, service_form="both"))
    assert created.status_code == 201, created.text
    result = session.exec(select(Item).where(Item.kind == ItemKind.result)).one()
    _staff(session, result.desk_code)
    _login(client, "clerk")
    assert result.number in client.get("/desk").text  # offered in the "result available" list
    r = client.post("/desk/ready", data={"item_number": result.number}, follow_redirects=True)
    assert f'name="item_numbers" value="{result.number}"' in r.text  # ready to hand over
    opened = client.post(
        "/desk/handover",
        data={"item_numbers": result.number, "courier_username": "courier"},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    rid = opened.headers["location"].split("/")[-1].split("?")[0]
    _login(client, "courier")
    got = client.post(
        f"/courier/records/{rid}/lines?date={NEXT_DAY}",
        data={"item_number": result.number},
        follow_redirects=False,
    )
    assert got.status_code == 303, got.text
    deliver = {
        "event_id": str(uuid.uuid4()),
        "type": "deliver",
        "item_number": result.number,
        "recipient": "citizen",
        "id_number": "001084000998",
        "signature_strokes": json.dumps(STROKES),
    }
    wrong_id = client.post(f"/courier/event?date={NEXT_DAY}", data=deliver)
    assert wrong_id.status_code == 422
    deliver["id_number"] = "001084000999"
    ok = client.post(f"/courier/event?date={NEXT_DAY}", data=deliver, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    session.expire_all()
    assert session.get(Item, result.id).state == "delivered"  # type: ignore[union-attr]
    session.commit()
    client.cookies.clear()
    assert "Đã giao" in client.get(f"/track?number={result.number}").text
