"""Builders for the custody ledger tests: a booking with its items, staff, events."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import Principal, create_user, principal_for_user
from postal.booking.models import Booking, BookingChannel, Item
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind
from postal.config import Settings
from postal.tracking import events
from postal.tracking.config import TrackingSettings
from postal.tracking.schemas import EventIn, EventResult
from tests.booking.helpers import book
from tests.conftest import NOW

ZONE = dt.timezone(dt.timedelta(hours=7))
# A drawn signature as the courier page sends it: strokes of [x, y] canvas pixels.
STROKES = [[[10 + 3 * i, 40 + (i % 5) * 4] for i in range(12)], [[60, 30], [66, 52], [72, 70]]]
SIGNATURE_ACK: dict[str, Any] = {"method": "signature", "signature_strokes": STROKES}
TSETTINGS = TrackingSettings(
    delivery_max_attempts=2,
    delivery_attempt_gap_days=2,
    otp_ttl_minutes=10,
    device_clock_skew_minutes=10,
)


@dataclass
class World:
    """A booking (dossier + result), its items and the staff around it."""

    booking: Booking
    dossier: Item
    result: Item
    courier: Principal
    courier2: Principal
    clerk: Principal
    other_clerk: Principal
    admin: Principal


def _user(session: Session, name: str, role: Role, **kw: Any) -> Principal:
    user = create_user(
        session, username=name, password="password123", role=role, full_name=name.title(), **kw
    )
    return principal_for_user(session, user)


def world(
    session: Session,
    settings: Settings,
    channel: BookingChannel = BookingChannel.citizen,
    form: str = "both",
) -> World:
    """Book for MC-00004 and create a courier of the serving post office and clerks."""
    created = book(session, settings, channel=channel, service_form=form)
    booking = session.exec(select(Booking).where(Booking.reference == created.reference)).one()
    items = session.exec(select(Item).where(Item.booking_id == booking.id)).all()
    dossier = next((i for i in items if i.kind == ItemKind.dossier), items[0])
    result = next((i for i in items if i.kind == ItemKind.result), items[0])
    office = [booking.post_office_code]
    w = World(
        booking=booking,
        dossier=dossier,
        result=result,
        courier=_user(session, "courier1", Role.courier, post_office_codes=office),
        courier2=_user(session, "courier2", Role.courier, post_office_codes=office),
        clerk=_user(session, "clerk1", Role.clerk, desk_code=booking.desk_code),
        other_clerk=_user(session, "clerk2", Role.clerk, desk_code="MC-00008"),
        admin=_user(session, "admin1", Role.admin),
    )
    session.commit()
    return w


def book_dossier(session: Session, settings: Settings, **overrides: Any) -> tuple[Booking, Item]:
    """Another dossier pickup (for MC-00004 unless told): the booking and its dossier item."""
    created = book(session, settings, service_form="dossier_pickup", **overrides)
    booking = session.exec(select(Booking).where(Booking.reference == created.reference)).one()
    dossier = session.exec(select(Item).where(Item.booking_id == booking.id)).one()
    session.commit()
    return booking, dossier


def checklist(session: Session, item: Item) -> list[dict[str, Any]]:
    """A complete checklist for the item's procedure."""
    docs = catalogue.procedure_documents(session, item.procedure_code)
    session.commit()  # end the read: the API client shares the in-memory SQLite connection
    return [{"position": d.position, "present": True, "form": d.kind.value} for d in docs]


def at(hour: int, minute: int = 0, day: int = 8) -> str:
    """A device time on December ``day`` 2026, local."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=ZONE).isoformat()


def pickup_body(session: Session, w: World, **overrides: Any) -> dict[str, Any]:
    """A valid pickup event of the dossier."""
    fee = w.booking.postal_fee_vnd + (
        w.booking.procedure_fee_vnd if w.booking.fee_collection else 0
    )
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "pickup",
        "item_number": w.dossier.number,
        "device_time": at(6, 40, day=7),
        "location": {"lat": 21.04, "lon": 105.83, "accuracy_m": 8},
        "seal": {"number": "S-0001", "state": "intact"},
        "checklist": checklist(session, w.dossier),
        "fees": {"postal_fee_vnd": fee, "procedure_fee_vnd": 0, "receipt_number": "BL-1"},
        "acknowledgement": SIGNATURE_ACK,
    }
    body.update(overrides)
    return body


def event(type_: str, number: str, time: str, **extra: Any) -> dict[str, Any]:
    """A minimal event body."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "item_number": number,
        "device_time": time,
        **extra,
    }


def record(
    session: Session,
    settings: Settings,
    principal: Principal,
    *bodies: dict[str, Any],
    now: dt.datetime = NOW,
) -> list[EventResult]:
    """Record events through the service and commit."""
    parsed = [EventIn.model_validate(b) for b in bodies]
    results = events.record_batch(session, settings, TSETTINGS, principal, parsed, now, "en")
    session.commit()
    return results
