"""The public lookup by item number: masked personal data and a timeline in local time."""

from __future__ import annotations

import hmac
import json
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from postal.booking.models import Booking, ItemState
from postal.catalogue.models import Desk, PostOffice, Procedure
from postal.config import Settings
from postal.i18n import message
from postal.phone import mask_phone
from postal.tracking.events import initial_holder
from postal.tracking.items import find_item
from postal.tracking.ledger import custody_of
from postal.tracking.models import CustodyEvent, EventType
from postal.tracking.schemas import TimelineEntry, TrackingPublic


def mask_name(name: str) -> str:
    """Keep the first letter of each word: Nguyễn Văn An -> N***** V** A*."""
    return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())


def _place(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    desk = session.get(Desk, code)
    if desk is not None:
        return desk.name
    office = session.get(PostOffice, code)
    return office.name if office is not None else code


def _label(event: CustodyEvent, lang: str) -> str:
    details = json.loads(event.details)
    if event.type == EventType.correction:
        return message("ui.event.correction", lang)
    if event.type == EventType.attempt_failed:
        reason = message(f"ui.fail_reason.{details.get('reason', 'other')}", lang)
        # A dossier still with its citizen (booked) failed a pickup, not a delivery.
        key = "pickup_failed" if event.state_before == ItemState.booked else "attempt_failed"
        return message(f"ui.event.{key}", lang, reason=reason)
    if event.type == EventType.discrepancy:
        return message(f"ui.event.discrepancy.{details.get('finding', 'missing')}", lang)
    return message(f"ui.event.{event.type.value}", lang)


def holds_phone(booking: Booking, phone_last4: str | None) -> bool:
    """Whether the caller showed the last four digits of the booking's phone number."""
    digits = "".join(c for c in booking.phone if c.isdigit())
    return bool(phone_last4) and hmac.compare_digest(digits[-4:], phone_last4 or "")


def track(
    session: Session,
    settings: Settings,
    number: str,
    lang: str = "vi",
    phone_last4: str | None = None,
) -> TrackingPublic:
    """What anyone holding the item number may see (422 malformed, 404 unknown): the state,
    the desk and the timeline. The procedure and the masked name and phone only for a caller
    who also gives the last four digits of the booking's phone."""
    item = find_item(session, number)
    booking = session.get(Booking, item.booking_id)
    proc = session.get(Procedure, item.procedure_code)
    desk = session.get(Desk, item.desk_code)
    assert booking is not None and proc is not None and desk is not None
    events = session.exec(
        select(CustodyEvent).where(CustodyEvent.item_id == item.id).order_by(col(CustodyEvent.seq))
    ).all()
    tz = ZoneInfo(settings.timezone)
    custody = custody_of(session, item, initial_holder(item))
    shown = holds_phone(booking, phone_last4)
    return TrackingPublic(
        item_number=item.number,
        kind=item.kind,
        state=item.state,
        state_label=message(f"ui.state.{item.state.value}", lang),
        details_shown=shown,
        procedure_name=(proc.name if lang == "vi" else proc.name_en or proc.name)
        if shown
        else None,
        desk_name=desk.name,
        citizen_name_masked=mask_name(booking.citizen_name) if shown else None,
        phone_masked=mask_phone(booking.phone) if shown else None,
        next_attempt_on=custody.next_attempt_on,
        timeline=[
            TimelineEntry(
                time=e.device_time.astimezone(tz),
                label=_label(e, lang),
                place=_place(session, e.place_code),
            )
            for e in events
        ],
    )
