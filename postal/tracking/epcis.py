"""GS1 EPCIS 2.0 JSON-LD export of custody events (one ObjectEvent per ledger event)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from postal.booking.models import Booking, Item
from postal.calendar import local_datetime_utc
from postal.tracking.models import CustodyEvent

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CBV = "https://ref.gs1.org/cbv"
# S10 numbers are not GS1 keys: they are named by a URN of the service (a private namespace).
EPC_PREFIX = "urn:postal:s10:"
PARTY_PREFIX = "urn:postal:party:"
LOCATION_PREFIX = "urn:postal:location:"


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def to_epcis_event(event: CustodyEvent) -> dict[str, Any]:
    """One EPCIS 2.0 ObjectEvent for a custody event."""
    zone = dt.timezone(dt.timedelta(minutes=event.device_offset_minutes))
    out: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{event.event_id}",
        "eventTime": event.device_time.astimezone(zone).isoformat(),
        "eventTimeZoneOffset": _offset(event.device_offset_minutes),
        "recordTime": event.recorded_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "action": "OBSERVE",
        "epcList": [f"{EPC_PREFIX}{event.item_number}"],
        "bizStep": event.biz_step,
        "disposition": event.disposition,
        "sourceList": [{"type": "possessing_party", "source": f"{PARTY_PREFIX}{event.from_party}"}],
        "destinationList": [
            {"type": "possessing_party", "destination": f"{PARTY_PREFIX}{event.to_party}"}
        ],
        "postal:upuEventCode": event.upu_code,
        "postal:eventType": event.type.value,
        "postal:hash": event.hash,
    }
    if event.place_code:
        out["bizLocation"] = {"id": f"{LOCATION_PREFIX}{event.place_code}"}
    if event.lat is not None and event.lon is not None:
        out["readPoint"] = {"id": f"geo:{event.lat},{event.lon}"}
    if event.record_id is not None:
        out["bizTransactionList"] = [
            {"type": "desadv", "bizTransaction": f"urn:postal:handover-record:{event.record_id}"}
        ]
    if event.corrects_event_id:
        out["errorDeclaration"] = {
            "declarationTime": out["recordTime"],
            "reason": "incorrect_data",
            "correctiveEventIDs": [f"urn:uuid:{event.corrects_event_id}"],
        }
    if event.seal_number:
        out["postal:seal"] = {"number": event.seal_number, "state": event.seal_state}
    proof = json.loads(event.proof)
    if proof:
        out["postal:proof"] = proof
    return out


def document(events: Sequence[CustodyEvent], now: dt.datetime) -> dict[str, Any]:
    """An EPCISDocument holding ``events``."""
    return {
        "@context": [CONTEXT, {"postal": "https://postal.example/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "epcisBody": {"eventList": [to_epcis_event(e) for e in events]},
    }


def events_of_item(session: Session, item_id: int) -> list[CustodyEvent]:
    """Every event of an item, in ledger order."""
    return list(
        session.exec(
            select(CustodyEvent)
            .where(CustodyEvent.item_id == item_id)
            .order_by(col(CustodyEvent.seq))
        ).all()
    )


def events_of_day(
    session: Session, day: dt.date, tz: str, bookings: ColumnElement[bool] | None = None
) -> list[CustodyEvent]:
    """Every event recorded on a local day, in ledger order; only those of items whose booking
    matches ``bookings`` when given (the caller's scope)."""
    start = local_datetime_utc(day, dt.time(0, 0), tz)
    end = start + dt.timedelta(days=1)
    query = select(CustodyEvent).where(
        col(CustodyEvent.recorded_at) >= start, col(CustodyEvent.recorded_at) < end
    )
    if bookings is not None:
        items = select(Item.id).join(Booking, col(Booking.id) == col(Item.booking_id))
        query = query.where(col(CustodyEvent.item_id).in_(items.where(bookings)))
    return list(session.exec(query.order_by(col(CustodyEvent.seq))).all())
