"""S10 item numbers issued from the configured range, never reused within 12 months."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from postal.booking.numbers import issue_item_number
from postal.config import Settings
from postal.errors import Conflict, ValidationFailed
from postal.ids import parse_s10
from tests.conftest import NOW


def test_numbers_follow_the_range_with_check_digits(session: Session, settings: Settings) -> None:
    s = settings.model_copy(update={"s10_service_indicator": "RR", "s10_serial_start": 47312482})
    first = issue_item_number(session, s, NOW)
    second = issue_item_number(session, s, NOW)
    assert first == "RR473124829VN"  # DOMAIN.md vector: 47312482 -> 9
    assert parse_s10(second).serial == 47312483


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
    assert issue_item_number(session, s, later) == a
    assert issue_item_number(session, s, later) == b


def test_invalid_service_indicator_is_refused(session: Session, settings: Settings) -> None:
    s = settings.model_copy(update={"s10_service_indicator": "JA"})
    with pytest.raises(ValidationFailed):
        issue_item_number(session, s, NOW)
