"""The ledger's HTTP API on both databases: batches, replays, 4xx paths, records, exports."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from postal.auth.service import login
from postal.config import Settings
from postal.ids import format_s10
from postal.notify.channels import OutgoingMessage
from postal.notify.models import ContactChannel, Notification
from postal.notify.outbox import deliver_message
from postal.tracking.models import CustodyEvent, HandoverRecord
from postal.tracking.signature import strokes_digest
from tests.conftest import NOW
from tests.tracking.helpers import STROKES, World, at, event, pickup_body, world


def _auth(session: Session, username: str) -> dict[str, str]:
    token, _ = login(session, username, "password123", 12)
    session.commit()
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _events(session: Session) -> int:
    count = int(session.exec(select(func.count()).select_from(CustodyEvent)).one())
    session.commit()
    return count


def _post(client: TestClient, headers: dict[str, str], *bodies: dict[str, Any]) -> Any:
    reply = client.post("/api/v1/events", json={"events": list(bodies)}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


def _picked_up(client: TestClient, session: Session, w: World) -> dict[str, str]:
    courier = _auth(session, "courier1")
    [res] = _post(client, courier, pickup_body(session, w))
    assert res["status"] == "recorded", res
    return courier


def test_batch_replay_and_reused_key(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    courier = _auth(session, "courier1")
    body = pickup_body(session, w)
    [first] = _post(client, courier, body)
    [again] = _post(client, courier, body)
    assert first["status"] == "recorded" and again["status"] == "replayed"
    assert again["seq"] == first["seq"] and again["state"] == "picked_up"
    changed = dict(body, document_count=99)
    [reused] = _post(client, courier, changed)
    assert (reused["http_status"], reused["code"]) == (422, "idempotency_key_reused")
    # The same event twice in one batch is recorded once.
    arrive = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
    results = _post(client, courier, arrive, arrive)
    assert [r["status"] for r in results] == ["recorded", "replayed"]
    assert _events(session) == 2


def test_bad_input_writes_nothing(client: TestClient, session: Session, settings: Settings) -> None:
    w = world(session, settings)
    courier = _auth(session, "courier1")
    unknown = format_s10("EB", 99_999_990, "VN")
    wrong_digit = w.dossier.number[:10] + str((int(w.dossier.number[10]) + 1) % 10) + "VN"
    incomplete = pickup_body(session, w, checklist=[])
    out_of_order = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
    results = _post(
        client,
        courier,
        event("arrive_post_office", unknown, at(6, 50, day=7)),
        event("arrive_post_office", wrong_digit, at(6, 50, day=7)),
        incomplete,
        out_of_order,
        pickup_body(session, w, seal=None),
        event("receive_at_desk", w.dossier.number, at(6, 50, day=7)),
    )
    assert [(r["http_status"], r["code"]) for r in results] == [
        (404, "unknown_item"),
        (422, "item_number_check_digit"),
        (422, "document_missing"),
        (409, "illegal_transition"),
        (422, "seal_required"),
        (422, "event_type_needs_record"),
    ]
    assert results[2]["errors"] and all(
        e["code"] == "document_missing" for e in results[2]["errors"]
    )
    assert results[3]["state"] == "booked"
    assert _events(session) == 0
    # A clerk may not pick up; another post office's courier neither.
    clerk = _auth(session, "clerk1")
    [res] = _post(client, clerk, pickup_body(session, w))
    assert res["code"] == "role_not_allowed"
    # Device time before the item's last event: out of order.
    _post(client, courier, pickup_body(session, w))
    [res] = _post(client, courier, event("arrive_post_office", w.dossier.number, at(6, 0, day=7)))
    assert (res["http_status"], res["code"]) == (409, "event_out_of_order")
    assert _events(session) == 1


def test_handover_api_and_pdf(client: TestClient, session: Session, settings: Settings) -> None:
    w = world(session, settings)
    courier = _picked_up(client, session, w)
    clerk, other = _auth(session, "clerk1"), _auth(session, "clerk2")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {
        "direction": "courier_to_desk",
        "desk_code": w.booking.desk_code,
        "item_numbers": [w.dossier.number],
    }
    opened = client.post("/api/v1/handover-records", json=body, headers={**courier, **key})
    assert opened.status_code == 201, opened.text
    rid = opened.json()["id"]
    assert opened.headers["Location"] == f"/api/v1/handover-records/{rid}"
    replay = client.post("/api/v1/handover-records", json=body, headers={**courier, **key})
    assert replay.json()["id"] == rid
    reused = client.post(
        "/api/v1/handover-records",
        json=dict(body, desk_code="MC-00008"),
        headers={**courier, **key},
    )
    assert reused.json()["code"] == "idempotency_key_reused"
    line = {"item_number": w.dossier.number, "status": "received"}
    denied = client.post(f"/api/v1/handover-records/{rid}/lines", json=line, headers=other)
    assert (denied.status_code, denied.json()["code"]) == (403, "clerk_of_other_desk")
    done = client.post(f"/api/v1/handover-records/{rid}/lines", json=line, headers=clerk)
    assert done.status_code == 200 and done.json()["lines"][0]["status"] == "received"
    assert done.json()["lines"][0]["appointment_date"] is not None
    closed = client.post(f"/api/v1/handover-records/{rid}/close", headers=clerk)
    assert closed.json()["status"] == "closed"
    again = client.post(f"/api/v1/handover-records/{rid}/lines", json=line, headers=clerk)
    assert (again.status_code, again.json()["code"]) == (409, "record_closed")
    # A client-chosen hash alone is no signature: the strokes are required, and a hash that
    # is not theirs is refused; the record keeps the server's hash.
    forged = client.post(
        f"/api/v1/handover-records/{rid}/acknowledge",
        json={"signature_sha256": "ef" * 32},
        headers=courier,
    )
    assert forged.status_code == 422
    mismatch = {"signature_strokes": STROKES, "signature_sha256": "0" * 64}
    refused = client.post(
        f"/api/v1/handover-records/{rid}/acknowledge", json=mismatch, headers=courier
    )
    assert refused.status_code == 422 and "signature_sha256" in refused.text
    sig = {"signature_strokes": STROKES}
    assert (
        client.post(
            f"/api/v1/handover-records/{rid}/acknowledge", json=sig, headers=courier
        ).status_code
        == 200
    )
    signed = client.post(f"/api/v1/handover-records/{rid}/acknowledge", json=sig, headers=clerk)
    assert signed.json()["courier_acknowledged"] and signed.json()["clerk_acknowledged"]
    twice = client.post(f"/api/v1/handover-records/{rid}/acknowledge", json=sig, headers=clerk)
    assert twice.json()["code"] == "already_acknowledged"
    session.expire_all()
    stored = session.get_one(HandoverRecord, rid)
    session.commit()
    assert stored.courier_ack_sha256 == stored.clerk_ack_sha256 == strokes_digest(STROKES)
    pdf = client.get(f"/api/v1/handover-records/{rid}/pdf", headers=clerk)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Illegal transition through the API carries the current state.
    dup = client.post("/api/v1/handover-records", json=body, headers=courier)
    assert dup.status_code == 422 and dup.json()["errors"][0]["code"] == "item_state_not_handable"


def test_public_tracking_and_epcis(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    _picked_up(client, session, w)
    reply = client.get(f"/api/v1/items/{w.dossier.number.lower()}/tracking")
    assert reply.status_code == 200
    data = reply.json()
    assert data["state"] == "picked_up" and data["state_label"] == "Bưu tá đã nhận"
    assert data["timeline"][0]["label"] == "Bưu tá đã nhận hồ sơ tại nhà"
    assert data["timeline"][0]["time"].endswith("+07:00")
    # Without the phone's last four digits: no procedure, no name fragment, no phone.
    assert data["details_shown"] is False and data["procedure_name"] is None
    assert data["citizen_name_masked"] is None and data["phone_masked"] is None
    assert (
        client.get(
            f"/api/v1/items/{w.dossier.number}/tracking", params={"phone_last4": "0000"}
        ).json()["citizen_name_masked"]
        is None
    )
    shown = client.get(
        f"/api/v1/items/{w.dossier.number}/tracking", params={"phone_last4": "5678"}
    ).json()
    assert shown["details_shown"] is True and shown["citizen_name_masked"] == "N***** V** A*"
    assert "912345678" not in reply.text
    bad = client.get("/api/v1/items/EB123/tracking")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_item_number")
    admin = _auth(session, "admin1")
    doc = client.get(
        "/api/v1/events/epcis", params={"item_number": w.dossier.number}, headers=admin
    ).json()
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    [ev] = doc["epcisBody"]["eventList"]
    assert ev["bizStep"] == "accepting" and ev["postal:upuEventCode"] == "EMA"
    assert ev["eventTimeZoneOffset"] == "+07:00"
    assert ev["destinationList"][0]["destination"].endswith("courier:courier1")
    day = client.get("/api/v1/events/epcis", params={"date": "2026-12-07"}, headers=admin)
    assert len(day.json()["epcisBody"]["eventList"]) == 1
    assert client.get("/api/v1/events/epcis", headers=_auth(session, "courier1")).status_code == 403


@dataclass
class _Phone:
    """An SMS channel that keeps the texts it is given (the citizen's phone)."""

    name: ContactChannel = ContactChannel.sms
    texts: list[str] = field(default_factory=list)

    def can_send(self, message: OutgoingMessage) -> bool:
        return True

    def send(self, message: OutgoingMessage) -> None:
        self.texts.append(message.body)


def test_otp_acknowledgement(client: TestClient, session: Session, settings: Settings) -> None:
    w = world(session, settings)
    courier = _auth(session, "courier1")
    sent = client.post(f"/api/v1/items/{w.dossier.number}/otp", headers=courier)
    assert sent.status_code == 202, sent.text
    sms = session.exec(select(Notification).where(Notification.template == "otp")).one()
    session.commit()
    assert sms.id is not None and "••••••" in sms.body  # the outbox holds no code
    phone = _Phone()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    assert deliver_message(engine, settings, sms.id, NOW, {ContactChannel.sms: phone}) == "sent"
    code = phone.texts[0].split()[3]
    assert code.isdigit() and len(code) == 6
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    [res] = _post(
        client,
        courier,
        pickup_body(session, w, acknowledgement={"method": "otp", "otp_code": wrong}),
    )
    assert res["code"] == "otp_invalid"
    [res] = _post(
        client,
        courier,
        pickup_body(session, w, acknowledgement={"method": "otp", "otp_code": code}),
    )
    assert res["status"] == "recorded"


def test_signature_is_hashed_by_the_server_from_its_strokes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    courier = _auth(session, "courier1")

    def refused(ack: dict[str, Any]) -> tuple[int, str, list[str]]:
        [res] = _post(client, courier, pickup_body(session, w, acknowledgement=ack))
        assert res["status"] == "rejected", res
        return res["http_status"], res["code"], [e["field"] for e in res["errors"]]

    zeros = {"method": "signature", "signature_sha256": "0" * 64}
    assert refused(zeros) == (
        422,
        "signature_strokes_required",
        ["acknowledgement.signature_strokes"],
    )
    tap = {"method": "signature", "signature_strokes": [[[5, 5], [6, 6]]]}
    assert refused(tap)[1:] == ("signature_too_short", ["acknowledgement.signature_strokes"])
    forged = {"method": "signature", "signature_strokes": STROKES, "signature_sha256": "0" * 64}
    assert refused(forged)[1:] == (
        "signature_hash_mismatch",
        ["acknowledgement.signature_sha256"],
    )
    assert _events(session) == 0
    off_canvas = {"method": "signature", "signature_strokes": [[[-1, 5]] * 12]}
    bad = client.post(
        "/api/v1/events",
        json={"events": [pickup_body(session, w, acknowledgement=off_canvas)]},
        headers=courier,
    )
    assert bad.status_code == 422
    # The strokes give the stored hash; a client hash equal to the server's is accepted.
    server_hash = strokes_digest(STROKES)
    signed = {"method": "signature", "signature_strokes": STROKES, "signature_sha256": server_hash}
    [res] = _post(client, courier, pickup_body(session, w, acknowledgement=signed))
    assert res["status"] == "recorded", res
    stored = session.exec(select(CustodyEvent)).one()
    session.commit()
    assert json.loads(stored.proof)["signature_sha256"] == server_hash
    # The browser hashes JSON.stringify(strokes): the same canonical text.
    text = json.dumps(STROKES, separators=(",", ":"))
    assert server_hash == hashlib.sha256(text.encode()).hexdigest()


def test_verify_endpoint(client: TestClient, session: Session, settings: Settings) -> None:
    w = world(session, settings)
    _picked_up(client, session, w)
    assert (
        client.get("/api/v1/ledger/verify", headers=_auth(session, "courier1")).status_code == 403
    )
    report = client.get("/api/v1/ledger/verify", headers=_auth(session, "admin1")).json()
    assert report == {
        "ok": True,
        "events": 1,
        "broken_seq": None,
        "broken_event_id": None,
        "reason": None,
    }


def test_an_app_started_twice_records_events_both_times(
    engine: Engine, session: Session, settings: Settings
) -> None:
    from api.deps import get_now
    from api.main import create_app

    w = world(session, settings)
    app = create_app(settings, engine)
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as first:
        courier = _picked_up(first, session, w)
    with TestClient(app) as second:  # a new writer for the new start
        arrive = event("arrive_post_office", w.dossier.number, at(6, 50, day=7))
        [res] = _post(second, courier, arrive)
        assert res["status"] == "recorded"
    assert _events(session) == 2
