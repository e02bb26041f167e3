"""A province's day in the database: post offices per commune, service areas, bookings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from postal.booking.models import Booking, SlotLoad
from postal.catalogue.models import PostOffice, ServiceArea
from postal.config import Settings
from postal.planning.problem import plannable_items
from postal.planning.province import build_province, province_office_codes
from tests.conftest import NOW


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """SQLite only: the province adds post offices and re-points service areas, which the
    shared PostgreSQL test database does not put back between tests."""
    return sqlite_engine


def test_build_province_adds_offices_areas_and_plannable_stops(
    session: Session, settings: Settings
) -> None:
    real = set(session.exec(select(PostOffice.code)).all())
    day = build_province(session, settings, offices=12, stops=200, seed=4, now=NOW)
    session.commit()
    assert day == dt.date(2026, 12, 8)
    codes = province_office_codes(session)
    assert len(codes) == 12 and not set(codes) & real
    stops = 0
    for code in codes:
        areas = session.exec(select(ServiceArea).where(ServiceArea.post_office_code == code)).all()
        assert areas, f"{code} serves no commune"
        stops += 2 * len(plannable_items(session, day, code, set()))
    assert stops == 200
    # Every booking holds its place in its post office's slot, within capacity.
    for load in session.exec(select(SlotLoad).where(col(SlotLoad.post_office_code).in_(codes))):
        office = session.get(PostOffice, load.post_office_code)
        assert office is not None and 0 < load.booked <= office.slot_capacity
    booked = session.exec(select(func.count()).select_from(Booking)).one()
    assert booked == sum(
        load.booked for load in session.exec(select(SlotLoad).where(SlotLoad.date == day))
    )
    with pytest.raises(ValueError, match="exist already"):
        build_province(session, settings, offices=12, stops=200, seed=4, now=NOW)


def test_build_province_is_deterministic_in_seed(session: Session, settings: Settings) -> None:
    build_province(session, settings, offices=5, stops=20, seed=7, now=NOW)
    first = session.exec(
        select(Booking.post_office_code, Booking.lat, Booking.lon, Booking.slot).order_by(
            col(Booking.id)
        )
    ).all()
    session.rollback()
    build_province(session, settings, offices=5, stops=20, seed=7, now=NOW)
    again = session.exec(
        select(Booking.post_office_code, Booking.lat, Booking.lon, Booking.slot).order_by(
            col(Booking.id)
        )
    ).all()
    assert len(first) == 10 and first == again
