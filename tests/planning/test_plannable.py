"""Which items a day's plan carries: dossiers on their booking's date; results on their
booking's date or, ready later, on any day planned after."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from postal.booking.models import Booking, BookingChannel, Item, ItemState
from postal.catalogue.models import ItemKind
from postal.config import Settings
from postal.planning.problem import plannable_items
from tests.booking.helpers import book
from tests.conftest import NEXT_DAY, NOW


def test_a_result_ready_days_after_the_pickup_goes_out_on_a_later_plan(
    session: Session, settings: Settings
) -> None:
    created = book(session, settings, channel=BookingChannel.citizen, now=NOW)
    booking = session.exec(select(Booking).where(Booking.reference == created.reference)).one()
    items = {i.kind: i for i in session.exec(select(Item).where(Item.booking_id == booking.id))}
    office = booking.post_office_code

    def numbers(day: dt.date) -> set[str]:
        return {i.number for _, i in plannable_items(session, day, office, set())}

    dossier, result = items[ItemKind.dossier], items[ItemKind.result]
    assert numbers(NEXT_DAY) == {dossier.number}  # the result is not ready yet
    # Picked up and at the desk; the result is ready three days later.
    dossier.state, result.state = ItemState.received_at_desk, ItemState.ready_at_desk
    session.add_all([dossier, result])
    session.flush()
    later = NEXT_DAY + dt.timedelta(days=3)
    assert numbers(later) == {result.number}
    assert numbers(NEXT_DAY - dt.timedelta(days=1)) == set()  # never before the booked date
    assert numbers(later + dt.timedelta(days=1)) == {result.number}  # until it goes out
    assert plannable_items(session, later, office, {result.number}) == []  # carried already
    result.state = ItemState.with_courier
    session.add(result)
    session.flush()
    assert numbers(later) == set()
