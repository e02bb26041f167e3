"""The courier's pickup rules: failed pickup attempts (reason, gap, last attempt), optional
documents of the checklist, and a photo kept as proof by its server-computed SHA-256."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from postal.booking.models import BookingChannel, ItemState
from postal.catalogue import service as catalogue
from postal.config import Settings
from postal.errors import ValidationFailed
from postal.tracking import events, ledger
from postal.tracking.models import CustodyEvent, EventType
from postal.tracking.schemas import EventIn
from tests.conftest import NOW
from tests.tracking.helpers import (
    TSETTINGS,
    ZONE,
    World,
    at,
    book_dossier,
    event,
    pickup_body,
    record,
    world,
)

OPTIONAL_DOC_PROCEDURE = "1.004873"  # its list has a "(nếu có)" paper (a divorce ruling)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)


def _with_procedure(session: Session, settings: Settings, w: World) -> World:
    """The same staff, with a dossier pickup for the procedure with an optional document."""
    booking, dossier = book_dossier(session, settings, procedure_code=OPTIONAL_DOC_PROCEDURE)
    return replace(w, booking=booking, dossier=dossier)


def test_failed_pickup_attempts_then_pickup_or_end(session: Session, settings: Settings) -> None:
    w = world(session, settings, form="dossier_pickup")
    no_reason = event("attempt_failed", w.dossier.number, at(6, 30, day=7))
    [refused] = record(session, settings, w.courier, no_reason)
    assert refused.status == "rejected" and refused.code == "reason_required"
    [first] = record(
        session,
        settings,
        w.courier,
        event("attempt_failed", w.dossier.number, at(6, 35, day=7), reason="absent"),
    )
    # The dossier stays with the citizen: still to pick up, the next attempt two working days on.
    assert (first.status, first.state) == ("recorded", ItemState.booked), first
    cal = catalogue.work_calendar(session)
    assert first.next_attempt_on == cal.add_working_days(dt.date(2026, 12, 7), 2)
    [early] = record(
        session,
        settings,
        w.courier,
        event("attempt_failed", w.dossier.number, at(6, 50, day=7), reason="absent"),
    )
    assert (early.status, early.code, early.http_status) == ("rejected", "attempt_not_due", 409)
    # The citizen comes back the same morning: the pickup is still possible.
    [picked] = record(
        session, settings, w.courier, pickup_body(session, w, device_time=at(6, 55, day=7))
    )
    assert (picked.status, picked.state) == ("recorded", ItemState.picked_up), picked
    rows = session.exec(select(CustodyEvent).order_by(col(CustodyEvent.seq))).all()
    assert [(r.type, r.upu_code) for r in rows] == [
        (EventType.attempt_failed, "EMH"),
        (EventType.pickup, "EMA"),
    ]
    assert ledger.verify(session).ok


def test_last_failed_pickup_attempt_ends_the_pickup(session: Session, settings: Settings) -> None:
    w = world(session, settings, form="dossier_pickup")
    body = event("attempt_failed", w.dossier.number, at(6, 30, day=7), reason="absent")
    [first] = record(session, settings, w.courier, body)
    due = first.next_attempt_on
    assert due is not None
    later = dt.datetime.combine(due, dt.time(9), tzinfo=dt.timezone(dt.timedelta(hours=7)))
    second = event("attempt_failed", w.dossier.number, later.isoformat(), reason="wrong_address")
    [last] = record(session, settings, w.courier2, second, now=later.astimezone(dt.UTC))
    assert (last.status, last.state, last.next_attempt_on) == (
        "recorded",
        ItemState.cancelled,
        None,
    ), last
    [late] = record(
        session,
        settings,
        w.courier,
        pickup_body(session, w, device_time=(later + dt.timedelta(minutes=5)).isoformat()),
        now=later.astimezone(dt.UTC) + dt.timedelta(minutes=6),
    )
    assert (late.status, late.code) == ("rejected", "illegal_transition")
    details = json.loads(
        session.exec(select(CustodyEvent).where(CustodyEvent.seq == 2)).one().details
    )
    assert details["attempt"] == 2 and details["last_attempt"] is True
    assert ledger.verify(session).ok


def test_optional_document_is_optional_and_each_refusal_once(
    session: Session, settings: Settings
) -> None:
    w = _with_procedure(session, settings, world(session, settings, form="dossier_pickup"))
    docs = catalogue.procedure_documents(session, w.dossier.procedure_code)
    optional = [d for d in docs if events.document_optional(d.name)]
    required = [d for d in docs if not events.document_optional(d.name)]
    assert optional and required, [d.name for d in docs]
    session.commit()

    def checklist(present: set[int]) -> list[dict[str, object]]:
        return [
            {"position": d.position, "present": d.position in present, "form": d.kind.value}
            for d in docs
        ]

    without_required = {d.position for d in optional}
    [refused] = record(
        session, settings, w.courier, pickup_body(session, w, checklist=checklist(without_required))
    )
    assert refused.status == "rejected"
    fields = [e["field"] for e in refused.errors or []]
    assert sorted(fields) == sorted(f"checklist[{d.position}]" for d in required)
    assert len(set(fields)) == len(fields)
    only_required = {d.position for d in required}
    [ok] = record(
        session, settings, w.courier, pickup_body(session, w, checklist=checklist(only_required))
    )
    assert (ok.status, ok.state) == ("recorded", ItemState.picked_up), ok
    stored = session.exec(select(CustodyEvent)).one()
    assert stored.document_count == sum(d.quantity for d in required)


def test_photo_proof_is_hashed_by_the_server(session: Session, settings: Settings) -> None:
    proof = events.photo_proof(JPEG)
    assert proof == {
        "photo_sha256": hashlib.sha256(JPEG).hexdigest(),
        "photo_bytes": len(JPEG),
        "photo_type": "image/jpeg",
    }
    for bad, code in (
        (b"", "photo_empty"),
        (b"%PDF-1.7 not an image", "photo_not_image"),
        (JPEG + bytes(events.PHOTO_MAX_BYTES), "photo_too_large"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            events.photo_proof(bad, "photo")
        assert (caught.value.code, caught.value.field) == (code, "photo")

    w = world(session, settings, channel=BookingChannel.citizen, form="dossier_pickup")
    failed = EventIn.model_validate(
        event("attempt_failed", w.dossier.number, at(6, 35, day=7), reason="absent")
    )
    [res] = events.record_batch(
        session,
        settings,
        TSETTINGS,
        w.courier,
        [failed],
        NOW,
        "en",
        {str(failed.event_id): proof},
    )
    session.commit()
    assert res.status == "recorded", res
    stored = session.exec(select(CustodyEvent)).one()
    assert json.loads(stored.proof)["photo_sha256"] == hashlib.sha256(JPEG).hexdigest()
    # A pickup's proof is the citizen's acknowledgement: a photo is refused there, by name.
    pickup = EventIn.model_validate(pickup_body(session, w, device_time=at(6, 50, day=7)))
    [refused] = events.record_batch(
        session, settings, TSETTINGS, w.courier, [pickup], NOW, "en", {str(pickup.event_id): proof}
    )
    session.rollback()
    assert refused.code == "photo_not_allowed" and (refused.errors or [])[0]["field"] == "photo"


def test_the_json_api_takes_the_photo_itself_never_a_hash(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """Through `POST /events` a photo is sent as base64 and hashed by the server; a hash the
    client chose (the old `photo_sha256s`) is refused by name, as is text that is not base64."""
    w = world(session, settings, channel=BookingChannel.citizen, form="dossier_pickup")
    token = client.post(
        "/api/v1/auth/token", data={"username": "courier1", "password": "password123"}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    failed = event("attempt_failed", w.dossier.number, at(6, 35, day=7), reason="absent")
    forged = client.post(
        "/api/v1/events", json={"events": [{**failed, "photo_sha256s": ["0" * 64]}]}, headers=auth
    )
    assert forged.status_code == 422 and "photo_sha256s" in forged.text
    garbled = client.post(
        "/api/v1/events", json={"events": [{**failed, "photo_base64": "not base64!"}]}, headers=auth
    )
    assert garbled.json()["results"][0]["code"] == "photo_not_base64"
    sent = {**failed, "photo_base64": base64.b64encode(JPEG).decode()}
    ok = client.post("/api/v1/events", json={"events": [sent]}, headers=auth)
    assert ok.json()["results"][0]["status"] == "recorded", ok.text
    stored = session.exec(select(CustodyEvent)).one()
    session.commit()
    assert json.loads(stored.proof)["photo_sha256"] == hashlib.sha256(JPEG).hexdigest()


def test_an_event_in_the_same_second_as_the_last_is_not_out_of_order(
    session: Session, settings: Settings
) -> None:
    """A failed attempt stamped by the server with a fraction of a second, then the pickup
    the page stamps in whole seconds within that second: recorded; a second earlier: refused."""
    w = world(session, settings, channel=BookingChannel.citizen, form="dossier_pickup")
    stamped = dt.datetime(2026, 12, 7, 6, 35, 0, 276632, tzinfo=ZONE).isoformat()
    [failed] = record(
        session, settings, w.courier,
        event("attempt_failed", w.dossier.number, stamped, reason="absent"),
    )  # fmt: skip
    assert failed.status == "recorded", failed
    earlier = pickup_body(session, w, device_time=at(6, 34, day=7))
    [refused] = record(session, settings, w.courier, earlier)
    assert refused.code == "event_out_of_order"
    same_second = pickup_body(session, w, device_time=at(6, 35, day=7))
    [picked] = record(session, settings, w.courier, same_second)
    assert picked.status == "recorded", picked
