"""The courier roster of a post office: its courier accounts, each day's shift and whether
the courier works that day. Planning offers the optimiser exactly the couriers the roster
makes available, each with their own shift; routes carry the courier's account and name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from postal.auth.models import Role, StaffUser
from postal.auth.service import Principal
from postal.catalogue.models import PostOffice
from postal.collation import sort_key
from postal.config import Settings
from postal.errors import Forbidden, NotFound, ValidationFailed
from postal.planning.models import CourierShift


@dataclass(frozen=True)
class RosterEntry:
    """One courier of the office on one date: shift in seconds after local midnight."""

    user_id: int
    full_name: str
    username: str
    start: int
    end: int
    available: bool

    @property
    def start_text(self) -> str:
        """The shift start as HH:MM."""
        return _hhmm(self.start)

    @property
    def end_text(self) -> str:
        """The shift end as HH:MM."""
        return _hhmm(self.end)


@dataclass(frozen=True)
class ShiftChange:
    """What the dispatcher sets for one courier on one date."""

    user_id: int
    start: str
    end: str
    available: bool


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _parse_time(text: str, field: str) -> int:
    """``HH:MM`` as minutes after midnight (24:00 allowed as the end of the day)."""
    if text.strip() == "24:00":
        return 1440
    try:
        t = dt.time.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationFailed("invalid_time", field=field) from exc
    return t.hour * 60 + t.minute


def default_shift(settings: Settings) -> tuple[int, int]:
    """The shift of a courier with no roster row (``Settings.courier_shift``), in seconds."""
    start, end = settings.courier_shift.split("-")
    return _parse_time(start, "courier_shift") * 60, _parse_time(end, "courier_shift") * 60


def authorise_office(principal: Principal, office_code: str) -> None:
    """Dispatchers of the post office and admins manage its roster."""
    if principal.role == Role.admin:
        return
    if principal.role != Role.dispatcher:
        raise Forbidden("role_not_allowed")
    if office_code not in principal.post_office_codes:
        raise Forbidden("post_office_not_yours")


def office_couriers(session: Session, office_code: str) -> list[StaffUser]:
    """The active courier accounts of a post office, in Vietnamese dictionary order."""
    users = session.exec(
        select(StaffUser).where(
            StaffUser.role == Role.courier,
            StaffUser.post_office_code == office_code,
            col(StaffUser.active).is_(True),
        )
    ).all()
    return sorted(users, key=lambda u: (sort_key(u.full_name), u.id or 0))


def roster(
    session: Session, settings: Settings, office_code: str, day: dt.date
) -> list[RosterEntry]:
    """The office's couriers on ``day`` with their shifts (the default where none is set)."""
    if session.get(PostOffice, office_code) is None:
        raise NotFound("unknown_post_office")
    users = office_couriers(session, office_code)
    ids = [u.id for u in users if u.id is not None]
    rows = {
        r.user_id: r
        for r in session.exec(
            select(CourierShift).where(CourierShift.date == day, col(CourierShift.user_id).in_(ids))
        ).all()
    }
    start, end = default_shift(settings)
    out = []
    for u in users:
        assert u.id is not None
        row = rows.get(u.id)
        out.append(
            RosterEntry(
                user_id=u.id,
                full_name=u.full_name,
                username=u.username,
                start=row.start_minute * 60 if row else start,
                end=row.end_minute * 60 if row else end,
                available=row.available if row else True,
            )
        )
    return out


def save_roster(
    session: Session,
    principal: Principal,
    office_code: str,
    day: dt.date,
    changes: Sequence[ShiftChange],
) -> int:
    """Set the shifts of the office's couriers on ``day``; returns how many were written.

    Every change is checked before anything is written: a courier of another office is 422
    ``not_a_courier_of_office`` (field ``user_id``), a malformed time 422 ``invalid_time``,
    an end not after the start 422 ``shift_end_before_start`` (fields ``start_<id>`` /
    ``end_<id>``, as the roster page names its inputs).
    """
    authorise_office(principal, office_code)
    mine = {u.id for u in office_couriers(session, office_code)}
    parsed: list[tuple[int, int, int, bool]] = []
    for c in changes:
        if c.user_id not in mine:
            raise ValidationFailed("not_a_courier_of_office", field="user_id")
        start = _parse_time(c.start, f"start_{c.user_id}")
        end = _parse_time(c.end, f"end_{c.user_id}")
        if end <= start:
            raise ValidationFailed("shift_end_before_start", field=f"end_{c.user_id}")
        parsed.append((c.user_id, start, end, c.available))
    for user_id, start, end, available in parsed:
        row = session.exec(
            select(CourierShift).where(CourierShift.user_id == user_id, CourierShift.date == day)
        ).first()
        if row is None:
            row = CourierShift(user_id=user_id, date=day, start_minute=start, end_minute=end)
        row.start_minute, row.end_minute, row.available = start, end, available
        row.updated_by = principal.user_id
        session.add(row)
    session.flush()
    return len(parsed)


def set_shift(
    session: Session, user_id: int, day: dt.date, start: str, end: str, available: bool = True
) -> None:
    """Write one courier's shift without a principal (the demo data, tests)."""
    row = session.exec(
        select(CourierShift).where(CourierShift.user_id == user_id, CourierShift.date == day)
    ).first() or CourierShift(user_id=user_id, date=day, start_minute=0, end_minute=1)
    row.start_minute = _parse_time(start, "start")
    row.end_minute = _parse_time(end, "end")
    row.available = available
    session.add(row)
    session.flush()


def courier_entry(
    session: Session, settings: Settings, office_code: str, day: dt.date, user_id: int
) -> RosterEntry:
    """One courier of the office on ``day``; 422 ``not_a_courier_of_office`` otherwise."""
    for entry in roster(session, settings, office_code, day):
        if entry.user_id == user_id:
            return entry
    raise ValidationFailed("not_a_courier_of_office", field="courier_user_id")


def add_couriers(
    session: Session,
    office_code: str,
    names: Sequence[str],
    password_hash: str,
    username_prefix: str,
) -> list[StaffUser]:
    """Courier accounts for a post office (demo data, benchmark provinces), all with one
    already computed password hash ("!" for accounts nobody signs in with)."""
    users = []
    for k, name in enumerate(names, start=1):
        user = StaffUser(
            username=f"{username_prefix}{k}",
            full_name=name,
            role=Role.courier,
            password_hash=password_hash,
            post_office_code=office_code,
        )
        session.add(user)
        users.append(user)
    session.flush()
    return users


def person_names(pools: dict[str, list[str]], count: int, seed: int) -> list[str]:
    """``count`` different Vietnamese full names drawn from the demo's name pools."""
    import random

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        name = " ".join(
            rng.choice(pools[k]) for k in ("family_names", "middle_names", "given_names")
        )
        if name not in out:
            out.append(name)
    return out
