"""Issuing S10 item numbers from the configured service indicator and serial range."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from postal.booking.models import IssuedItemNumber, ItemNumberSeries
from postal.config import Settings
from postal.errors import Conflict
from postal.ids import format_s10, validate_service_indicator


def _ensure_series(session: Session, indicator: str, start: int) -> None:
    """Create the series row once; concurrent creators do not clash."""
    dialect = session.get_bind().dialect.name
    values = {"indicator": indicator, "next_serial": start}
    table = ItemNumberSeries.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).values(values).on_conflict_do_nothing())


RANDOM_PROBES = 32


def issue_item_number(session: Session, settings: Settings, now: dt.datetime) -> str:
    """Issue a free S10 number drawn at random from the configured range; never one issued
    in the last ``s10_reuse_after_days``.

    Drawn without order, so that one's own number tells nothing of a neighbour's (public
    tracking cannot be walked). Random probes first; a nearly full range is then scanned
    from a random point. The series row is locked (FOR UPDATE on PostgreSQL; SQLite
    transactions are already exclusive), so concurrent bookings get distinct serials.
    """
    indicator = settings.s10_service_indicator.upper()
    validate_service_indicator(indicator)
    start, end = settings.s10_serial_start, settings.s10_serial_end
    _ensure_series(session, indicator, start)
    session.execute(
        sa_select(ItemNumberSeries)
        .where(ItemNumberSeries.indicator == indicator)  # type: ignore[arg-type]
        .with_for_update()
    ).scalar_one()
    reuse_before = now - dt.timedelta(days=settings.s10_reuse_after_days)
    size = end - start + 1
    offset = secrets.randbelow(size)
    probes = [start + secrets.randbelow(size) for _ in range(min(RANDOM_PROBES, size))]
    scan = (start + (offset + k) % size for k in range(size))  # lazily: the range is huge
    for serial in itertools.chain(probes, scan):
        number = format_s10(indicator, serial, settings.s10_country)
        issued = session.get(IssuedItemNumber, number)
        if issued is None:
            session.add(
                IssuedItemNumber(number=number, indicator=indicator, serial=serial, issued_at=now)
            )
        elif issued.issued_at < reuse_before:
            issued.issued_at = now
            session.add(issued)
        else:
            continue
        session.flush()
        return number
    raise Conflict("item_number_range_exhausted")
