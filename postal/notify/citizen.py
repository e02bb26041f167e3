"""The messages a citizen receives, written by the changes that cause them.

Each producer builds the declared parameters of one message (postal/notify/templating.py) and
adds it to the outbox in the caller's transaction. Producers that may run twice (the reminder
job, locking a route again, a replayed event) carry a ``dedup_key``: the second run writes
nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from postal.booking.models import Booking, BookingStatus, Item, ServiceForm
from postal.calendar import Slot, Window, slot_end_utc, slot_start_utc, slot_window, to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind
from postal.notify.outbox import enqueue_message
from postal.planning.models import PlannedStop, StopPlace
from postal.tracking import otp

# How wide the "courier on the way" window is around the planned arrival.
ARRIVAL_MARGIN = dt.timedelta(minutes=30)


def _date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def _hhmm(moment: dt.datetime) -> str:
    return to_local(moment).strftime("%H:%M")


def _stamp(moment: dt.datetime) -> str:
    return to_local(moment).strftime("%H:%M %d/%m/%Y")


def _item_numbers(session: Session, booking: Booking) -> list[str]:
    rows = session.exec(
        select(Item.number).where(Item.booking_id == booking.id).order_by(col(Item.id))
    ).all()
    return list(rows)


def _desk_name(session: Session, booking: Booking) -> str:
    return catalogue.get_desk(session, booking.desk_code).name


def booked_window(session: Session, booking: Booking) -> Window:
    """The half day the citizen was told: the desk's open span in the booked half day (the
    nominal half day when the desk's hours changed since booking)."""
    window = slot_window(
        catalogue.desk_hours(session, booking.desk_code),
        catalogue.work_calendar(session),
        booking.date,
        booking.slot,
    )
    if window is None:  # hours changed since booking: the nominal half day
        window = (
            Window(dt.time(8), dt.time(12))
            if booking.slot == Slot.MORNING
            else Window(dt.time(13, 30), dt.time(17))
        )
    return window


def _slot_params(session: Session, booking: Booking) -> dict[str, Any]:
    window = booked_window(session, booking)
    documents: list[dict[str, Any]] = []
    if booking.service_form != ServiceForm.result_delivery:
        documents = [
            {"name": d.name, "kind": d.kind.value, "quantity": d.quantity}
            for d in catalogue.procedure_documents(session, booking.procedure_code)
        ]
    return {
        "reference": booking.reference,
        "date": _date(booking.date),
        "slot": booking.slot.value,
        "slot_start": _hhmm(slot_start_utc(booking.date, window)),
        "slot_end": _hhmm(slot_end_utc(booking.date, window)),
        "item_numbers": _item_numbers(session, booking),
        "documents": documents,
    }


def enqueue_booking_confirmed(session: Session, booking: Booking, now: dt.datetime) -> int | None:
    """The confirmation of a new booking: reference, date, slot, items, documents to prepare."""
    params = {**_slot_params(session, booking), "desk_name": _desk_name(session, booking)}
    return enqueue_message(
        session,
        "booking_confirmed",
        params,
        now=now,
        booking=booking,
        dedup_key=f"booking_confirmed:{booking.id}",
    )


def enqueue_reminders(session: Session, day: dt.date, now: dt.datetime) -> int:
    """The day-before reminder of every live booking on ``day``; returns how many were added.

    Idempotent: one reminder per booking and day (a second run adds none)."""
    bookings = session.exec(
        select(Booking)
        .where(
            Booking.date == day,
            col(Booking.status).in_([BookingStatus.booked, BookingStatus.awaiting_result]),
        )
        .order_by(col(Booking.id))
    ).all()
    added = 0
    for booking in bookings:
        key = f"reminder:{booking.id}:{day.isoformat()}"
        if enqueue_message(
            session,
            "reminder",
            _slot_params(session, booking),
            now=now,
            booking=booking,
            dedup_key=key,
        ):
            added += 1
    return added


def arrival_window(stop: PlannedStop) -> tuple[dt.datetime, dt.datetime]:
    """The window announced to the citizen: the planned arrival +/- a margin, kept inside the
    stop's own time window when it has one. Around the service start: a courier who arrives
    before the citizen's half day waits for it (an afternoon stop may be reached at 08:00)."""
    at = max(stop.arrival_at, stop.start_at)
    start, end = at - ARRIVAL_MARGIN, at + ARRIVAL_MARGIN
    if stop.window_start is not None and start < stop.window_start <= at:
        start = stop.window_start
    if stop.window_end is not None and at <= stop.window_end < end:
        end = stop.window_end
    return start, end


def enqueue_courier_on_way(session: Session, route_id: int, now: dt.datetime) -> int:
    """ "The courier is on the way" to each citizen of a route, with the arrival window of the
    citizen's first stop; returns how many were added (idempotent per route and booking)."""
    stops = session.exec(
        select(PlannedStop)
        .where(PlannedStop.route_id == route_id, PlannedStop.place == StopPlace.citizen)
        .order_by(col(PlannedStop.sequence))
    ).all()
    by_booking: dict[str, list[PlannedStop]] = {}
    for stop in stops:
        by_booking.setdefault(stop.booking_reference, []).append(stop)
    added = 0
    for reference, visits in by_booking.items():
        booking = session.exec(select(Booking).where(Booking.reference == reference)).first()
        if booking is None or booking.status == BookingStatus.cancelled:
            continue
        start, end = arrival_window(visits[0])
        params = {
            "reference": booking.reference,
            "date": _date(to_local(visits[0].arrival_at).date()),
            "window_start": _hhmm(start),
            "window_end": _hhmm(end),
            "item_numbers": list(dict.fromkeys(v.item_number for v in visits)),
        }
        key = f"courier_on_way:{route_id}:{booking.id}"
        if enqueue_message(
            session, "courier_on_way", params, now=now, booking=booking, dedup_key=key
        ):
            added += 1
    return added


def enqueue_otp(
    session: Session,
    booking: Booking,
    number: str,
    challenge_id: int,
    minutes: int,
    now: dt.datetime,
) -> int | None:
    """The one-time code the courier asks for at a pickup or delivery.

    The row holds no code: it names the challenge (written without one), and the sender makes
    the code it sends then, storing only its hash on the challenge (postal/tracking/otp.py).
    """
    params = {"otp": otp.MASK, "number": number, "minutes": minutes}
    return enqueue_message(
        session, "otp", params, now=now, booking=booking, dedup_key=otp.dedup_key(challenge_id)
    )


def enqueue_custody_message(
    session: Session,
    booking: Booking,
    item_number: str,
    event_type: str,
    event_id: str,
    details: dict[str, Any],
    device_time: dt.datetime,
    now: dt.datetime,
    kind: ItemKind = ItemKind.result,
) -> int | None:
    """The citizen's message for a custody event: dossier collected (pickup), delivered, or a
    failed attempt (of a pickup or of a delivery, by the item's ``kind``) with what happens
    next; None for the other event types."""
    template: str
    params: dict[str, Any] = {"reference": booking.reference, "number": item_number}
    if event_type == "pickup":
        template = "picked_up"
        params.update(picked_up_at=_stamp(device_time), desk_name=_desk_name(session, booking))
    elif event_type == "deliver":
        template = "delivered"
        recipient = details.get("recipient") or {}
        params.update(delivered_at=_stamp(device_time), proxy=recipient.get("kind") == "proxy")
    elif event_type == "attempt_failed":
        # A dossier not collected (the citizen's pickup) or a result not delivered.
        template = "failed_pickup" if kind == ItemKind.dossier else "failed_attempt"
        next_on = details.get("next_attempt_on")
        if isinstance(next_on, str):
            next_on = dt.date.fromisoformat(next_on)
        params.update(
            attempt=int(details.get("attempt", 1)),
            next_attempt_on=_date(next_on) if isinstance(next_on, dt.date) else None,
            desk_name=_desk_name(session, booking),
        )
    else:
        return None
    return enqueue_message(
        session, template, params, now=now, booking=booking, dedup_key=f"{template}:{event_id}"
    )
