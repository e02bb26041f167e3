"""Booking service on SQLite and PostgreSQL: validation, fee, capacity, items, changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from postal.booking.models import Booking, BookingChannel, BookingStatus, Item, SlotLoad
from postal.booking.service import cancel, get_by_reference, reschedule
from postal.calendar import Slot
from postal.catalogue.models import PostOffice
from postal.config import Settings
from postal.errors import Conflict, ValidationFailed
from postal.ids import parse_s10
from tests.booking.helpers import book, eligible_procedure, in_person_procedure
from tests.conftest import NEXT_DAY, NOW


def _count(session: Session, model: type[Any]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_booking_both_issues_two_valid_items_and_quotes_the_fee(
    session: Session, settings: Settings
) -> None:
    created = book(session, settings)
    assert created.reference.startswith("HS-")
    assert [i.kind for i in created.items] == ["dossier", "result"]
    for item in created.items:
        parsed = parse_s10(item.number)
        assert parsed.indicator == "EB" and parsed.country == "VN"
    assert created.items[0].number != created.items[1].number
    # Same commune: 22,000 VND per item from the 2025-07-01 tariff, two items.
    assert created.zone == "same_commune"
    assert created.postal_fee_vnd == 44_000
    assert created.id_number_masked == "001*******99"
    assert created.phone_masked == "091****678"
    assert created.documents, "a dossier pickup lists the documents to prepare"
    assert created.slot_start.hour == 8 and created.slot_end.hour == 12
    stored = get_by_reference(session, created.reference)
    assert "001084000999" not in stored.id_number_hash
    assert stored.id_number_masked == "001*******99"


def test_zone_other_commune_in_the_province_costs_more(
    session: Session, settings: Settings
) -> None:
    created = book(session, settings, service_form="result_delivery", commune_code="00008")
    assert created.zone == "same_province"
    assert created.postal_fee_vnd == 33_000


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"phone": "12345"}, "phone", "invalid_phone"),
        ({"id_number": "003084000999"}, "id_number", "invalid_id_number"),
        ({"commune_code": "79999"}, "commune_code", "unknown_commune"),
        ({"commune_code": "06652"}, "commune_code", "address_outside_service_area"),
        ({"desk_code": "MC-NOPE"}, "desk_code", "unknown_desk"),
        ({"procedure_code": "9.999999"}, "procedure_code", "unknown_procedure"),
        ({"date": "2026-12-13"}, "date", "not_working_day"),
        ({"date": "2027-01-01"}, "date", "not_working_day"),
        ({"date": "2026-12-06"}, "date", "date_in_past"),
        ({"date": "2027-03-01"}, "date", "date_too_far"),
        ({"citizen_name": " A "}, "citizen_name", "citizen_name_too_short"),
        ({"address_text": "12"}, "address_text", "address_too_short"),
        ({"lat": 21.0}, "lon", "pin_incomplete"),
        ({"lat": 20.0, "lon": 105.0}, "lat", "pin_outside_commune"),
    ],
)
def test_invalid_field_is_named_and_nothing_is_written(
    session: Session, settings: Settings, overrides: dict[str, Any], field: str, code: str
) -> None:
    before = (_count(session, Booking), _count(session, Item), _count(session, SlotLoad))
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, **overrides)
    session.rollback()
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in info.value.errors
    ]
    assert (_count(session, Booking), _count(session, Item), _count(session, SlotLoad)) == before


def test_every_invalid_field_is_reported_at_once(session: Session, settings: Settings) -> None:
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, phone="x", id_number="1", address_text="a")
    assert {e["field"] for e in info.value.errors} == {"phone", "id_number", "address_text"}


def test_in_person_procedure_is_refused(session: Session, settings: Settings) -> None:
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, procedure_code=in_person_procedure(session))
    assert info.value.code == "procedure_in_person_only"


def test_pickup_only_procedure_refuses_result_delivery(
    session: Session, settings: Settings
) -> None:
    code = eligible_procedure(session, pickup=True, delivery=False)
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, procedure_code=code, service_form="both")
    assert info.value.code == "procedure_not_eligible_for_delivery"


def test_slot_already_started_is_refused(session: Session, settings: Settings) -> None:
    late = NOW.replace(hour=3)  # 10:00 local on Monday 7 December
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, now=late, date="2026-12-07", slot="morning")
    assert info.value.code == "slot_in_past"


def test_saturday_afternoon_is_outside_desk_hours(session: Session, settings: Settings) -> None:
    # Phường desks open Saturday mornings only (standard_saturday profile).
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, date="2026-12-12", slot="afternoon")
    assert info.value.code == "slot_outside_desk_hours"
    created = book(session, settings, date="2026-12-12", slot="morning")
    assert created.date == dt.date(2026, 12, 12)


def test_capacity_per_post_office_and_slot(session: Session, settings: Settings) -> None:
    office = session.get(PostOffice, "115100")
    assert office is not None
    office.slot_capacity = 2
    session.add(office)
    session.commit()
    book(session, settings)
    book(session, settings, phone="0987654321")
    with pytest.raises(Conflict) as info:
        book(session, settings, phone="0977777777")
    assert info.value.code == "slot_full"
    session.rollback()
    assert _count(session, Booking) == 2
    # The afternoon of the same day is another slot.
    book(session, settings, slot="afternoon")


def test_reschedule_moves_the_place_and_cancel_releases_it(
    session: Session, settings: Settings
) -> None:
    created = book(session, settings)
    booking = get_by_reference(session, created.reference)
    moved = reschedule(session, settings, booking, NEXT_DAY, Slot.AFTERNOON, NOW)
    session.commit()
    assert moved.slot == "afternoon"
    loads = {r.slot: r.booked for r in session.exec(select(SlotLoad)).all()}
    assert loads == {"morning": 0, "afternoon": 1}
    done = cancel(session, settings, booking, "changed my mind", NOW)
    session.commit()
    assert done.status == BookingStatus.cancelled
    assert all(i.state == "cancelled" for i in done.items)
    assert {r.slot: r.booked for r in session.exec(select(SlotLoad)).all()}["afternoon"] == 0
    with pytest.raises(Conflict) as info:
        cancel(session, settings, booking, None, NOW)
    assert info.value.code == "booking_cancelled"
    with pytest.raises(Conflict):
        reschedule(session, settings, booking, NEXT_DAY, Slot.MORNING, NOW)


def test_integration_books_result_delivery_ready_at_desk(
    session: Session, settings: Settings
) -> None:
    integration = BookingChannel.integration
    created = book(
        session,
        settings,
        channel=integration,
        service_form="result_delivery",
        external_reference="MC-1",
    )
    assert [(i.kind, i.state) for i in created.items] == [("result", "ready_at_desk")]
    assert created.documents == []
    with pytest.raises(ValidationFailed) as info:
        book(session, settings, channel=integration)
    assert info.value.code == "integration_result_delivery_only"
