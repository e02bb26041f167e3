"""Builders shared by the booking and API tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlmodel import Session, col, select

from postal.booking.models import BookingChannel
from postal.booking.schemas import BookingCreate, BookingCreated
from postal.booking.service import create_booking
from postal.catalogue.models import Procedure
from postal.config import Settings
from tests.conftest import NEXT_DAY, NOW


def eligible_procedure(session: Session, *, pickup: bool = True, delivery: bool = True) -> str:
    """The code of a procedure whose pickup and delivery eligibility are exactly as given."""
    query = select(Procedure).where(
        col(Procedure.in_person_only).is_(False),
        col(Procedure.dossier_pickup).is_(pickup),
        col(Procedure.result_delivery).is_(delivery),
        Procedure.level == "commune",
    )
    proc = session.exec(query.order_by(col(Procedure.code))).first()
    assert proc is not None
    code = proc.code
    # End the read transaction: on the shared in-memory SQLite the app must be able to BEGIN.
    session.rollback()
    return code


def in_person_procedure(session: Session) -> str:
    """The code of a procedure that requires the citizen in person."""
    proc = session.exec(select(Procedure).where(col(Procedure.in_person_only).is_(True))).first()
    assert proc is not None
    code = proc.code
    session.rollback()
    return code


_ID_SERIALS = itertools.count(999)


def reset_id_numbers() -> None:
    """Start the ID numbers again: a test's first booking is 001084000999, then 001084001000..."""
    global _ID_SERIALS
    _ID_SERIALS = itertools.count(999)


def booking_body(session: Session, **overrides: Any) -> dict[str, Any]:
    """A valid booking request for Phường Ba Đình on NEXT_DAY morning."""
    body: dict[str, Any] = {
        "service_form": "both",
        "procedure_code": eligible_procedure(session),
        "desk_code": "MC-00004",
        "citizen_name": "Nguyễn Văn An",
        "phone": "0912345678",
        # A new citizen each time: one ID number holds one active booking per slot.
        "id_number": f"001084{next(_ID_SERIALS):06d}",
        "address_text": "Số 12 phố Trúc Bạch",
        "commune_code": "00004",
        "date": NEXT_DAY.isoformat(),
        "slot": "morning",
    }
    body.update(overrides)
    return body


def book(
    session: Session,
    settings: Settings,
    *,
    channel: BookingChannel = BookingChannel.citizen,
    now: dt.datetime = NOW,
    **overrides: Any,
) -> BookingCreated:
    """The booking of ``booking_body`` (with the overrides) through ``channel`` at ``now``,
    committed."""
    body = booking_body(session, **overrides)
    created = create_booking(
        session, settings, BookingCreate.model_validate(body), channel=channel, now=now
    )
    session.commit()
    return created
