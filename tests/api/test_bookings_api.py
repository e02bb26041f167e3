"""Booking API: every error path, auth and roles, idempotency, search, problem details."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from postal.booking.models import Booking
from postal.catalogue.models import PostOffice
from postal.idempotency import IdempotencyRecord
from tests.booking.helpers import booking_body

PASSWORD = "correct-horse-1"


def _staff(session: Session, username: str, role: Role, **binding: Any) -> None:
    create_user(
        session, username=username, password=PASSWORD, role=role, full_name=username, **binding
    )
    session.commit()


def _login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _count(session: Session) -> int:
    n = int(session.exec(select(func.count()).select_from(Booking)).one())
    session.rollback()
    return n


def test_create_returns_201_location_and_token(client: TestClient, session: Session) -> None:
    r = client.post("/api/v1/bookings", json=booking_body(session))
    assert r.status_code == 201
    body = r.json()
    assert r.headers["location"] == f"/api/v1/bookings/{body['reference']}"
    assert body["access_token"].startswith("cz_")
    assert "001084000999" not in r.text and "0912345678" not in r.text
    view = client.get(
        r.headers["location"], headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert view.status_code == 200
    assert view.json()["reference"] == body["reference"]
    assert "access_token" not in view.json()


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"phone": "abc"}, "phone", "invalid_phone"),
        ({"id_number": "123"}, "id_number", "invalid_id_number"),
        ({"slot": "evening"}, "slot", "invalid_choice"),
        ({"date": "30/11/2026"}, "date", "invalid_date"),
        ({"service_form": "teleport"}, "service_form", "invalid_choice"),
        ({"desk_code": "MC-99999"}, "desk_code", "unknown_desk"),
        ({"unknown": 1}, "unknown", "field_not_allowed"),
    ],
)
def test_invalid_field_gives_422_problem_naming_it(
    client: TestClient, session: Session, overrides: dict[str, Any], field: str, code: str
) -> None:
    r = client.post("/api/v1/bookings", json=booking_body(session, **overrides))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 422 and problem["code"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ]
    assert all(e["message"] for e in problem["errors"])
    assert _count(session) == 0


def test_missing_field_and_language(client: TestClient, session: Session) -> None:
    body = booking_body(session)
    del body["phone"]
    vi = client.post("/api/v1/bookings", json=body).json()
    en = client.post("/api/v1/bookings", json=body, headers={"Accept-Language": "en"}).json()
    assert vi["errors"][0]["field"] == "phone" and vi["errors"][0]["code"] == "field_required"
    assert vi["errors"][0]["message"] == "Vui lòng nhập trường này."
    assert en["errors"][0]["message"] == "This field is required."


def test_full_slot_is_409(client: TestClient, session: Session) -> None:
    office = session.get(PostOffice, "115100")
    assert office is not None
    office.slot_capacity = 1
    session.add(office)
    session.commit()
    assert client.post("/api/v1/bookings", json=booking_body(session)).status_code == 201
    r = client.post("/api/v1/bookings", json=booking_body(session, phone="0987654321"))
    assert r.status_code == 409 and r.json()["code"] == "slot_full"
    assert _count(session) == 1


def test_cancel_then_cancel_again_is_409(client: TestClient, session: Session) -> None:
    created = client.post("/api/v1/bookings", json=booking_body(session)).json()
    auth = {"Authorization": f"Bearer {created['access_token']}"}
    url = f"/api/v1/bookings/{created['reference']}"
    assert client.post(f"{url}/cancel", headers=auth).json()["status"] == "cancelled"
    again = client.post(f"{url}/cancel", headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "booking_cancelled"
    moved = client.post(
        f"{url}/reschedule", json={"date": "2026-12-09", "slot": "morning"}, headers=auth
    )
    assert moved.status_code == 409


def test_reschedule_validates_the_new_slot(client: TestClient, session: Session) -> None:
    created = client.post("/api/v1/bookings", json=booking_body(session)).json()
    auth = {"Authorization": f"Bearer {created['access_token']}"}
    url = f"/api/v1/bookings/{created['reference']}/reschedule"
    bad = client.post(url, json={"date": "2026-12-13", "slot": "morning"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date"
    ok = client.post(url, json={"date": "2026-12-09", "slot": "afternoon"}, headers=auth)
    assert ok.status_code == 200 and ok.json()["date"] == "2026-12-09"


def test_credentials(client: TestClient, session: Session) -> None:
    created = client.post("/api/v1/bookings", json=booking_body(session)).json()
    url = f"/api/v1/bookings/{created['reference']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer st_nope"}).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer cz_nope"}).status_code == 401
    assert client.get(url, headers={"X-API-Key": "pk_nope"}).status_code == 401
    other = client.post("/api/v1/bookings", json=booking_body(session, phone="0987654321"))
    assert other.status_code == 201, other.text
    other_auth = {"Authorization": f"Bearer {other.json()['access_token']}"}
    # Another citizen's token does not reveal that the booking exists.
    assert client.get(url, headers=other_auth).status_code == 404
    assert client.post(f"{url}/cancel", headers=other_auth).status_code == 404
    assert client.get("/api/v1/bookings/HS-NOTHING", headers=other_auth).status_code == 404
    wrong = client.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"


def test_roles_and_search_scoping(client: TestClient, session: Session) -> None:
    _staff(session, "admin", Role.admin)
    _staff(session, "disp", Role.dispatcher, post_office_codes=["116500"])
    _staff(session, "clerk", Role.clerk, desk_code="MC-00004")
    _staff(session, "courier", Role.courier, post_office_codes=["115100"])
    for i in range(3):
        r = client.post("/api/v1/bookings", json=booking_body(session, phone=f"098765432{i}"))
        assert r.status_code == 201
    admin, disp, clerk, courier = (_login(client, u) for u in ("admin", "disp", "clerk", "courier"))
    assert client.get("/api/v1/bookings").status_code == 401
    assert client.get("/api/v1/bookings", headers=courier).status_code == 403
    page = client.get("/api/v1/bookings", params={"limit": 2}, headers=admin).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        "/api/v1/bookings", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert len(client.get("/api/v1/bookings", headers=clerk).json()["items"]) == 3
    # Ba Đình is served by post office 115100, not the dispatcher's 116500.
    assert client.get("/api/v1/bookings", headers=disp).json()["items"] == []
    filtered = client.get("/api/v1/bookings", params={"status": "cancelled"}, headers=admin)
    assert filtered.json()["items"] == []
    bad = client.get("/api/v1/bookings", params={"cursor": "%%%"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    assert client.get("/api/v1/bookings", params={"limit": 501}, headers=admin).status_code == 422
    me = client.get("/api/v1/auth/me", headers=clerk).json()
    assert me["role"] == "clerk" and me["desk_code"] == "MC-00004"


def test_idempotent_create(client: TestClient, session: Session) -> None:
    body = booking_body(session)
    key = {"Idempotency-Key": "c0ffee-1"}
    first = client.post("/api/v1/bookings", json=body, headers=key)
    replay = client.post("/api/v1/bookings", json=body, headers=key)
    assert first.status_code == replay.status_code == 201
    assert replay.json()["reference"] == first.json()["reference"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert _count(session) == 1
    other = client.post("/api/v1/bookings", json=dict(body, slot="afternoon"), headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert _count(session) == 1


def test_idempotent_replay_stores_no_token_and_reissues_one(
    client: TestClient, session: Session
) -> None:
    body = booking_body(session)
    key = {"Idempotency-Key": "c0ffee-token"}
    first = client.post("/api/v1/bookings", json=body, headers=key)
    assert first.status_code == 201
    token = first.json()["access_token"]
    row = session.exec(select(IdempotencyRecord)).one()
    session.commit()
    stored = json.loads(row.body)
    assert stored["access_token"] is None and token not in row.body
    assert all(token not in str(v) for v in row.model_dump().values())
    replay = client.post("/api/v1/bookings", json=body, headers=key)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == first.headers["location"]
    again = replay.json()
    # A faithful replay but for the token: a new one, and the first stops working.
    assert {k: v for k, v in again.items() if k != "access_token"} == {
        k: v for k, v in first.json().items() if k != "access_token"
    }
    assert again["access_token"].startswith("cz_") and again["access_token"] != token
    location = first.headers["location"]
    old = client.get(location, headers={"Authorization": f"Bearer {token}"})
    assert old.status_code == 401
    new = client.get(location, headers={"Authorization": f"Bearer {again['access_token']}"})
    assert new.status_code == 200
    session.expire_all()
    row = session.exec(select(IdempotencyRecord)).one()
    session.commit()
    assert again["access_token"] not in row.body and json.loads(row.body)["access_token"] is None


def test_integration_key_books_result_delivery(client: TestClient, session: Session) -> None:
    key = create_api_key(session, "one-stop")
    session.commit()
    headers = {"X-API-Key": key}
    body = booking_body(session, service_form="result_delivery", external_reference="HS-001")
    r = client.post("/api/v1/bookings", json=body, headers=headers)
    assert r.status_code == 201 and r.json()["channel"] == "integration"
    assert r.json()["items"][0]["state"] == "ready_at_desk"
    refused = client.post("/api/v1/bookings", json=booking_body(session), headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "integration_result_delivery_only"
    bad = client.post("/api/v1/bookings", json=body, headers={"X-API-Key": "pk_wrong"})
    assert bad.status_code == 401


def test_each_key_reads_and_replays_only_its_own_bookings(
    client: TestClient, session: Session
) -> None:
    """A booking made through one one-stop system's key is not another key's to read, and
    one key's Idempotency-Key never replays another key's reply."""
    first, second = create_api_key(session, "system-a"), create_api_key(session, "system-b")
    session.commit()
    body = booking_body(session, service_form="result_delivery")
    same_key = {"Idempotency-Key": "request-0001"}
    made = client.post("/api/v1/bookings", json=body, headers={"X-API-Key": first, **same_key})
    assert made.status_code == 201
    reference = made.json()["reference"]
    assert (
        client.get(f"/api/v1/bookings/{reference}", headers={"X-API-Key": first}).status_code == 200
    )
    hidden = client.get(f"/api/v1/bookings/{reference}", headers={"X-API-Key": second})
    assert hidden.status_code == 404
    other = client.post(
        "/api/v1/bookings",
        json=booking_body(session, service_form="result_delivery", slot="afternoon"),
        headers={"X-API-Key": second, **same_key},
    )
    assert other.status_code == 201 and other.json()["reference"] != reference
    assert "Idempotent-Replayed" not in other.headers


def test_unknown_route_and_reference_data(client: TestClient) -> None:
    assert client.get("/api/v1/nothing").json()["code"] == "not_found"
    assert client.get("/api/v1/procedures/0.000000").status_code == 404
    procs = client.get("/api/v1/procedures", params={"eligible": "true"}).json()
    assert len(procs) >= 30 and all(p["documents"] for p in procs if p["dossier_pickup"])
    found = client.get("/api/v1/communes", params={"q": "phuong ba dinh"}).json()
    assert found[0]["code"] == "00004"
    old = client.get("/api/v1/communes", params={"q": "Phúc Xá", "province_code": "01"}).json()
    assert old and old[0]["code"] == "00097"
    assert len(client.get("/api/v1/desks", params={"commune_code": "00004"}).json()) == 1
