"""Working days, desk opening hours and half-day slots; pure, data comes in as arguments.

Times are shown in Asia/Ho_Chi_Minh and stored in UTC. Naive datetimes are taken to be UTC,
the storage convention (SQLite hands them back without a zone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo

from postal.errors import ValidationFailed

LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"
NOON = time(12, 0)
SATURDAY = 5
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


# --- time zones -----------------------------------------------------------------------------


def local_now(tz: str = LOCAL_TZ_NAME) -> datetime:
    """Return the current aware datetime in the local zone."""
    return datetime.now(ZoneInfo(tz))


def to_local(dt: datetime, tz: str = LOCAL_TZ_NAME) -> datetime:
    """Return dt in the local zone (a naive dt is taken to be UTC)."""
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(tz))


def to_utc(dt: datetime) -> datetime:
    """Return dt as an aware UTC datetime (a naive dt is taken to be UTC already)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def local_datetime_utc(d: date, t: time, tz: str = LOCAL_TZ_NAME) -> datetime:
    """Return the aware UTC instant of local date d at local time t."""
    return datetime.combine(d, t, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# --- desk hours -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """An opening window in local time, start < end."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"window must start before it ends: {self.start}-{self.end}")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


# weekday (0 = Monday .. 6 = Sunday) -> that day's windows, sorted, not overlapping.
DeskHours = Mapping[int, tuple[Window, ...]]


def _parse_hhmm(text: str, field: str) -> time:
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        raise ValidationFailed("invalid_desk_hours", f"{text!r} is not a HH:MM time", field=field)
    return time(int(match.group(1)), int(match.group(2)))


def desk_hours_from_profile(profile: Mapping[str, Sequence[Sequence[str]]]) -> DeskHours:
    """Build DeskHours from {"mon": [["08:00", "12:00"], ["13:00", "17:00"]], ...}."""
    unknown = set(profile) - set(WEEKDAY_KEYS)
    if unknown:
        raise ValidationFailed(
            "invalid_desk_hours", f"unknown day keys {sorted(unknown)}; use mon..sun", field="hours"
        )
    hours: dict[int, tuple[Window, ...]] = {}
    for weekday, key in enumerate(WEEKDAY_KEYS):
        windows: list[Window] = []
        for pair in profile.get(key, ()):
            if len(pair) != 2:
                raise ValidationFailed(
                    "invalid_desk_hours", "a window is [start, end]", field=f"hours.{key}"
                )
            start, end = (_parse_hhmm(text, f"hours.{key}") for text in pair)
            if not start < end:
                raise ValidationFailed(
                    "invalid_desk_hours",
                    f"{pair[0]}-{pair[1]} ends before it starts",
                    field=f"hours.{key}",
                )
            windows.append(Window(start, end))
        windows.sort(key=lambda w: w.start)
        # Touching windows (12:00-12:00) are allowed: that is how a desk open through lunch
        # gets both a morning and an afternoon slot.
        for before, after in pairwise(windows):
            if after.start < before.end:
                raise ValidationFailed(
                    "invalid_desk_hours",
                    f"windows {before} and {after} overlap",
                    field=f"hours.{key}",
                )
        hours[weekday] = tuple(windows)
    return MappingProxyType(hours)


# --- working calendar -----------------------------------------------------------------------


class WorkCalendar:
    """Working days: Monday to Friday minus public holidays, plus listed make-up Saturdays."""

    __slots__ = ("_holidays", "_working_saturdays")

    def __init__(
        self,
        holidays: Mapping[date, str],
        working_saturdays: frozenset[date] = frozenset(),
    ) -> None:
        not_saturdays = sorted(d for d in working_saturdays if d.weekday() != SATURDAY)
        if not_saturdays:
            raise ValueError(f"make-up working days must be Saturdays: {not_saturdays}")
        self._holidays: Mapping[date, str] = MappingProxyType(dict(holidays))
        self._working_saturdays = frozenset(working_saturdays)

    def is_holiday(self, d: date) -> bool:
        """Tell whether d is a public holiday."""
        return d in self._holidays

    def holiday_name(self, d: date) -> str | None:
        """Return the holiday's name on d, or None."""
        return self._holidays.get(d)

    def is_make_up_saturday(self, d: date) -> bool:
        """Tell whether d is a Saturday worked to make up for a bridged holiday."""
        return d in self._working_saturdays and not self.is_holiday(d)

    def is_working_day(self, d: date) -> bool:
        """Tell whether d is a working day (Mon-Fri not a holiday, or a make-up Saturday)."""
        if self.is_holiday(d):
            return False
        return d.weekday() < SATURDAY or d in self._working_saturdays

    def next_working_day(self, d: date) -> date:
        """Return the first working day strictly after d."""
        return self.add_working_days(d, 1)

    def add_working_days(self, d: date, n: int) -> date:
        """Return the date n working days after d (before it if n < 0); n = 0 returns d."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        current = d
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, a: date, b: date) -> int:
        """Count working days stepped from a to b: those in (a, b], or minus those in [b, a)."""
        # Counted the way add_working_days steps, so working_days_between(d, add(d, n)) == n.
        if b < a:
            return -sum(1 for k in range((a - b).days) if self.is_working_day(b + timedelta(k)))
        return sum(1 for k in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(k)))


def desk_windows(hours: DeskHours, cal: WorkCalendar, d: date) -> tuple[Window, ...]:
    """Return the desk's opening windows on d: none on holidays, Monday's on make-up Saturdays."""
    if cal.is_holiday(d):
        return ()
    if cal.is_make_up_saturday(d):
        # Keep it simple: a make-up Saturday is worked like a Monday.
        return hours.get(0, ())
    return hours.get(d.weekday(), ())


# --- slots ----------------------------------------------------------------------------------


class Slot(StrEnum):
    """A half day a citizen chooses (UI labels: Sáng / Chiều)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


def slot_window(hours: DeskHours, cal: WorkCalendar, d: date, slot: Slot) -> Window | None:
    """Return the desk's open span in that half day (first start to last end), None if closed.

    A window belongs to the morning when it starts before 12:00, else to the afternoon; a desk
    open through lunch is written as two touching windows (…-12:00, 12:00-…).
    """
    morning = Slot(slot) == Slot.MORNING
    windows = [w for w in desk_windows(hours, cal, d) if (w.start < NOON) == morning]
    if not windows:
        return None
    return Window(windows[0].start, max(w.end for w in windows))


def slot_start_utc(d: date, window: Window, tz: str = LOCAL_TZ_NAME) -> datetime:
    """Return the aware UTC instant when the window opens on local date d."""
    return local_datetime_utc(d, window.start, tz)


def slot_end_utc(d: date, window: Window, tz: str = LOCAL_TZ_NAME) -> datetime:
    """Return the aware UTC instant when the window closes on local date d."""
    return local_datetime_utc(d, window.end, tz)
