"""S10 item numbers issued from the configured range, never reused within 12 months."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlmodel import Session

from postal.booking.numbers import issue_item_number
from postal.config import Settings
from postal.errors import Conflict, ValidationFailed
from postal.ids import parse_s10
from tests.conftest import NOW


def test_numbers_are_drawn_from_the_range_without_order(
    session: Session, settings: Settings
) -> None:
    s = settings.model_copy(
        update={
            "s10_service_indicator": "RR",
            "s10_serial_start": 47312482,
            "s10_serial_end": 47313481,
        }
    )
    serials = [parse_s10(issue_item_number(session, s, NOW)).serial for _ in range(20)]
    assert len(set(serials)) == 20  # distinct, each with a valid check digit (parse_s10)
    assert all(47312482 <= x <= 47313481 for x in serials)
    # One's own number tells nothing of the next one: not a run of consecutive serials.
    steps = [b - a for a, b in itertools.pairwise(serials)]
    assert steps.count(1) < 5


def test_range_wraps_only_past_twelve_months(session: Session, settings: Settings) -> None:
    s = settings.model_copy(
        update={"s10_service_indicator": "RR", "s10_serial_start": 100, "s10_serial_end": 101}
    )
    a = issue_item_number(session, s, NOW)
    b = issue_item_number(session, s, NOW)
    assert a != b
    with pytest.raises(Conflict) as info:
        issue_item_number(session, s, NOW + dt.timedelta(days=200))
    assert info.value.code == "item_number_range_exhausted"
    later = NOW + dt.timedelta(days=400)
    again = {issue_item_number(session, s, later), issue_item_number(session, s, later)}
    assert again == {a, b}


def test_invalid_service_indicator_is_refused(session: Session, settings: Settings) -> None:
    s = settings.model_copy(update={"s10_service_indicator": "JA"})
    with pytest.raises(ValidationFailed):
        issue_item_number(session, s, NOW)
