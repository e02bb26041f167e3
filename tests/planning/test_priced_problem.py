"""The planner's problems carry the post office's courier costs (issue 15, item 3)."""

from __future__ import annotations

from sqlmodel import Session, select

from postal.booking.models import Booking, BookingChannel
from postal.catalogue import service as catalogue
from postal.catalogue.models import PostOffice
from postal.config import Settings
from postal.planning.problem import CourierSlot, build_office_problem
from tests.booking.helpers import book
from tests.conftest import NEXT_DAY, NOW


def test_office_problem_prices_couriers_with_the_settings_costs(
    session: Session, settings: Settings
) -> None:
    created = book(session, settings, channel=BookingChannel.citizen, now=NOW)
    booking = session.exec(select(Booking).where(Booking.reference == created.reference)).one()
    office = session.exec(
        select(PostOffice).where(PostOffice.code == booking.post_office_code)
    ).one()
    priced = settings.model_copy(
        update={"courier_cost_per_hour_vnd": 45_000, "courier_fixed_cost_vnd": 250_000}
    )
    slots = [CourierSlot(None, "Nguyễn Văn A"), CourierSlot(None, "Trần Thị B")]
    built = build_office_problem(
        session,
        priced,
        office,
        NEXT_DAY,
        catalogue.work_calendar(session),
        set(),
        set(),
        courier_slots=slots,
    )
    assert built.problem.stops  # the booking's pickup and its delivery to the desk
    assert built.problem.priced
    assert [(c.fixed_cost, c.cost_per_hour) for c in built.problem.couriers] == [
        (250_000, 45_000),
        (250_000, 45_000),
    ]
    # Both costs at zero: the problem is unpriced (fewest couriers, then distance).
    free = settings.model_copy(update={"courier_cost_per_hour_vnd": 0, "courier_fixed_cost_vnd": 0})
    unpriced = build_office_problem(
        session,
        free,
        office,
        NEXT_DAY,
        catalogue.work_calendar(session),
        set(),
        set(),
        courier_slots=slots,
    )
    assert not unpriced.problem.priced
