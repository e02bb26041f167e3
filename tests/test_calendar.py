"""Working calendar, desk hours and half-day slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postal.calendar import (
    Slot,
    Window,
    WorkCalendar,
    desk_hours_from_profile,
    desk_windows,
    local_now,
    slot_end_utc,
    slot_start_utc,
    slot_window,
    to_local,
    to_utc,
)
from postal.errors import ValidationFailed

# A small hand-written holiday table (the real one is data): Tết 2025 and National Day 2025.
HOLIDAYS = {
    **{date(2025, 1, 27) + timedelta(k): "Tết Nguyên đán" for k in range(5)},  # Mon 27 - Fri 31
    date(2025, 9, 1): "Quốc khánh (nghỉ bù)",
    date(2025, 9, 2): "Quốc khánh",
}
MAKE_UP_SATURDAY = date(2024, 5, 4)  # worked to bridge 29/4/2024
CAL = WorkCalendar(HOLIDAYS, frozenset({MAKE_UP_SATURDAY}))

WEEKDAY = [["08:00", "12:00"], ["13:00", "17:00"]]
PROFILE = {
    "mon": WEEKDAY,
    "tue": WEEKDAY,
    "wed": WEEKDAY,
    "thu": WEEKDAY,
    "fri": [["07:30", "11:30"], ["13:30", "16:30"]],
    "sat": [["07:30", "11:30"]],
}
HOURS = desk_hours_from_profile(PROFILE)


def w(start: str, end: str) -> Window:
    return Window(time.fromisoformat(start), time.fromisoformat(end))


# --- working days -----------------------------------------------------------------------------


def test_tet_and_national_day_are_not_working_days() -> None:
    for d in [date(2025, 1, 29), date(2025, 9, 2), date(2025, 9, 1)]:
        assert CAL.is_holiday(d)
        assert not CAL.is_working_day(d)
    assert CAL.holiday_name(date(2025, 9, 2)) == "Quốc khánh"
    assert CAL.is_working_day(date(2025, 9, 3))
    assert CAL.holiday_name(date(2025, 9, 3)) is None


def test_weekends_are_not_working_days_unless_made_up() -> None:
    assert not CAL.is_working_day(date(2025, 3, 8))  # Saturday
    assert not CAL.is_working_day(date(2025, 3, 9))  # Sunday
    assert CAL.is_working_day(MAKE_UP_SATURDAY)


def test_add_working_days_skips_weekends() -> None:
    friday = date(2025, 3, 7)
    assert CAL.add_working_days(friday, 1) == date(2025, 3, 10)
    assert CAL.add_working_days(friday, 5) == date(2025, 3, 14)
    assert CAL.add_working_days(friday, 0) == friday
    assert CAL.add_working_days(date(2025, 3, 10), -1) == friday
    assert CAL.add_working_days(date(2025, 3, 8), 1) == date(2025, 3, 10)


def test_add_working_days_skips_tet_and_national_day() -> None:
    assert CAL.add_working_days(date(2025, 1, 24), 1) == date(2025, 2, 3)
    assert CAL.next_working_day(date(2025, 8, 29)) == date(2025, 9, 3)
    assert CAL.add_working_days(date(2025, 9, 3), -1) == date(2025, 8, 29)


def test_make_up_saturday_counts() -> None:
    assert CAL.next_working_day(date(2024, 5, 3)) == MAKE_UP_SATURDAY


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2025, 1, 24), date(2025, 2, 3)) == 1
    assert CAL.working_days_between(date(2025, 3, 7), date(2025, 3, 14)) == 5
    assert CAL.working_days_between(date(2025, 3, 14), date(2025, 3, 7)) == -5
    # backwards from Saturday 1/2 (after Tết) to Friday 24/1: the holiday week counts nothing
    assert CAL.working_days_between(date(2025, 2, 1), date(2025, 1, 24)) == -1
    assert CAL.working_days_between(date(2025, 3, 8), date(2025, 3, 9)) == 0


@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=-40, max_value=40),
)
def test_between_inverts_add(d: date, n: int) -> None:
    result = CAL.add_working_days(d, n)
    assert CAL.working_days_between(d, result) == n
    if n:
        assert CAL.is_working_day(result)


def test_make_up_days_must_be_saturdays() -> None:
    with pytest.raises(ValueError):
        WorkCalendar({}, frozenset({date(2024, 5, 5)}))


def test_calendar_copies_its_holidays() -> None:
    holidays = {date(2025, 4, 30): "Giải phóng miền Nam"}
    cal = WorkCalendar(holidays)
    holidays.clear()
    assert cal.is_holiday(date(2025, 4, 30))


# --- desk hours --------------------------------------------------------------------------------


def test_profile_parsing() -> None:
    assert HOURS[0] == (w("08:00", "12:00"), w("13:00", "17:00"))
    assert HOURS[5] == (w("07:30", "11:30"),)
    assert HOURS[6] == ()
    assert str(HOURS[4][0]) == "07:30-11:30"
    # windows come back sorted whatever the file order
    assert desk_hours_from_profile({"mon": [["13:00", "17:00"], ["7:30", "11:30"]]})[0] == (
        w("07:30", "11:30"),
        w("13:00", "17:00"),
    )


@pytest.mark.parametrize(
    "profile",
    [
        {"monday": [["08:00", "12:00"]]},
        {"mon": [["08:00", "12:00"], ["11:00", "17:00"]]},
        {"mon": [["12:00", "08:00"]]},
        {"mon": [["8h", "12:00"]]},
        {"mon": [["24:00", "25:00"]]},
        {"mon": [["08:00"]]},
    ],
)
def test_bad_profiles(profile: dict[str, list[list[str]]]) -> None:
    with pytest.raises(ValidationFailed) as info:
        desk_hours_from_profile(profile)
    assert info.value.code == "invalid_desk_hours"


def test_window_must_start_before_end() -> None:
    with pytest.raises(ValueError):
        Window(time(12), time(12))


def test_desk_windows() -> None:
    assert desk_windows(HOURS, CAL, date(2025, 3, 10)) == HOURS[0]  # Monday
    assert desk_windows(HOURS, CAL, date(2025, 3, 8)) == (w("07:30", "11:30"),)  # Saturday
    assert desk_windows(HOURS, CAL, date(2025, 3, 9)) == ()  # Sunday
    assert desk_windows(HOURS, CAL, date(2025, 1, 29)) == ()  # Tết
    # A Saturday inside a holiday closes the Saturday desk too.
    sat_holiday = WorkCalendar({date(2025, 8, 30): "Quốc khánh"})
    assert desk_windows(HOURS, sat_holiday, date(2025, 8, 30)) == ()
    # A make-up Saturday is worked like a Monday, both windows.
    assert desk_windows(HOURS, CAL, MAKE_UP_SATURDAY) == HOURS[0]


# --- slots -----------------------------------------------------------------------------------


def test_lunch_gap_slots() -> None:
    monday = date(2025, 3, 10)
    assert slot_window(HOURS, CAL, monday, Slot.MORNING) == w("08:00", "12:00")
    assert slot_window(HOURS, CAL, monday, Slot.AFTERNOON) == w("13:00", "17:00")
    friday = date(2025, 3, 14)
    assert slot_window(HOURS, CAL, friday, Slot.AFTERNOON) == w("13:30", "16:30")


def test_saturday_morning_only() -> None:
    saturday = date(2025, 3, 8)
    assert slot_window(HOURS, CAL, saturday, Slot.MORNING) == w("07:30", "11:30")
    assert slot_window(HOURS, CAL, saturday, Slot.AFTERNOON) is None
    assert slot_window(HOURS, CAL, date(2025, 3, 9), Slot.MORNING) is None
    assert slot_window(HOURS, CAL, date(2025, 1, 29), Slot.MORNING) is None


def test_slot_boundaries() -> None:
    hours = desk_hours_from_profile(
        {
            "mon": [["07:30", "09:00"], ["09:30", "11:59"], ["11:59", "12:00"], ["12:00", "17:00"]],
            "tue": [["07:30", "12:30"], ["14:00", "17:00"]],
        }
    )
    monday, tuesday = date(2025, 3, 10), date(2025, 3, 11)
    # windows starting before noon are the morning, spanning first start to last end
    assert slot_window(hours, CAL, monday, Slot.MORNING) == w("07:30", "12:00")
    # a window starting exactly at noon is the afternoon
    assert slot_window(hours, CAL, monday, Slot.AFTERNOON) == w("12:00", "17:00")
    # a window running past noon stays in the morning it started in
    assert slot_window(hours, CAL, tuesday, Slot.MORNING) == w("07:30", "12:30")
    assert slot_window(hours, CAL, tuesday, "afternoon") == w("14:00", "17:00")  # type: ignore[arg-type]


def test_slot_times_in_utc() -> None:
    start = slot_start_utc(date(2025, 3, 10), w("08:00", "12:00"))
    assert start == datetime(2025, 3, 10, 1, 0, tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)
    # 07:00 local is midnight UTC; 06:59 local falls on the previous UTC day
    assert slot_start_utc(date(2025, 3, 10), w("06:59", "08:00")).date() == date(2025, 3, 9)
    assert slot_end_utc(date(2025, 3, 10), w("13:00", "17:00")) == datetime(
        2025, 3, 10, 10, 0, tzinfo=UTC
    )


def test_zone_helpers() -> None:
    assert local_now().utcoffset() == timedelta(hours=7)
    naive_utc = datetime(2025, 3, 10, 17, 30)
    local = to_local(naive_utc)
    assert (local.date(), local.hour, local.minute) == (date(2025, 3, 11), 0, 30)
    assert to_utc(local) == datetime(2025, 3, 10, 17, 30, tzinfo=UTC)
    assert to_utc(local).tzinfo is UTC
    assert to_utc(naive_utc) == datetime(2025, 3, 10, 17, 30, tzinfo=UTC)
