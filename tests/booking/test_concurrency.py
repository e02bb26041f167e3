"""Capacity and item numbers under concurrent bookings on the real PostgreSQL server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from postal.booking.models import Booking, BookingChannel, Item, SlotLoad
from postal.booking.schemas import BookingCreate
from postal.booking.service import create_booking
from postal.catalogue.models import PostOffice
from postal.errors import Conflict
from tests.booking.helpers import booking_body
from tests.conftest import NOW, make_settings

pytestmark = pytest.mark.postgres


def test_fifty_parallel_bookings_for_twenty_places_give_twenty(pg_engine: Engine) -> None:
    settings = make_settings(str(pg_engine.url))
    with Session(pg_engine) as s:
        office = s.get(PostOffice, "115100")
        assert office is not None
        office.slot_capacity = 20
        s.add(office)
        s.commit()
        bodies = [
            booking_body(s, phone=f"09123{i:05d}", citizen_name=f"Công dân {i}") for i in range(50)
        ]

    def attempt(body: dict[str, Any]) -> str:
        with Session(pg_engine, expire_on_commit=False) as s:
            try:
                create_booking(
                    s,
                    settings,
                    BookingCreate.model_validate(body),
                    channel=BookingChannel.citizen,
                    now=NOW,
                )
                s.commit()
                return "ok"
            except Conflict as exc:
                s.rollback()
                return exc.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, bodies))
    assert outcomes.count("ok") == 20
    assert outcomes.count("slot_full") == 30
    with Session(pg_engine) as s:
        assert s.exec(select(func.count()).select_from(Booking)).one() == 20
        numbers = s.exec(select(Item.number)).all()
        assert len(numbers) == 40 and len(set(numbers)) == 40
        load = s.exec(select(SlotLoad)).one()
        assert load.booked == 20
