"""Turn the bookings of a date and a post office into the optimiser's problem.

A dossier becomes a pickup at the citizen's address (in the booked half day) paired with a
delivery to its desk (in the desk's opening windows, the same day). A result that is ready at
the desk becomes a pickup at the desk paired with a delivery to the citizen. Times are seconds
since local midnight of the plan date; every desk handover must end before the desk closes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from postal.booking.models import Booking, BookingStatus, Item, ItemState
from postal.calendar import WorkCalendar, desk_windows, slot_window
from postal.catalogue import service as catalogue
from postal.catalogue.models import Desk, ItemKind, PostOffice
from postal.config import Settings
from postal.geo.travel import travel_provider
from postal.planning.models import StopPlace
from postal.routing import model as rm


@dataclass(frozen=True)
class StopInfo:
    """What a problem stop stands for, to persist the plan."""

    item_number: str
    booking_reference: str
    desk_code: str
    place: StopPlace
    lat: float
    lon: float


@dataclass(frozen=True)
class CourierSlot:
    """A courier offered to the optimiser: a staff account from the roster, by full name,
    with the shift of the plan date (seconds after local midnight; None: the default)."""

    user_id: int | None
    label: str
    shift: tuple[int, int] | None = None


@dataclass(frozen=True)
class OfficeProblem:
    """The problem of one post office with the meaning of its stops and couriers."""

    office: PostOffice
    problem: rm.Problem
    stops: tuple[StopInfo, ...]
    couriers: tuple[CourierSlot, ...]


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60


def _parse_span(text: str) -> tuple[int, int]:
    start, end = text.split("-")
    return _seconds(dt.time.fromisoformat(start)), _seconds(dt.time.fromisoformat(end))


def plannable_items(
    session: Session, day: dt.date, office_code: str, exclude: set[str]
) -> list[tuple[Booking, Item]]:
    """Items of live bookings at this post office that a courier must carry on ``day``.

    A dossier is picked up on its booking's date. A result goes out on its booking's date or,
    when it became ready at the desk only later (a "both" booking's result follows its
    appointment date, days after the pickup), on the first day planned after that, in the
    half-day the citizen chose.
    """
    dossier = (col(Item.kind) == ItemKind.dossier) & (col(Item.state) == ItemState.booked)
    dossier &= col(Booking.date) == day
    result = (col(Item.kind) == ItemKind.result) & (col(Item.state) == ItemState.ready_at_desk)
    result &= col(Booking.date) <= day
    rows = session.exec(
        select(Booking, Item)
        .join(Item, col(Item.booking_id) == col(Booking.id))
        .where(
            Booking.post_office_code == office_code,
            Booking.status == BookingStatus.booked,
            dossier | result,
        )
        .order_by(col(Booking.id), col(Item.id))
    ).all()
    return [(b, i) for b, i in rows if i.number not in exclude]


def build_office_problem(
    session: Session,
    settings: Settings,
    office: PostOffice,
    day: dt.date,
    cal: WorkCalendar,
    exclude_items: set[str],
    unavailable_couriers: set[int],
    only_items: set[str] | None = None,
    courier_slots: Sequence[CourierSlot] | None = None,
) -> OfficeProblem:
    """The optimiser's problem for one post office on one date.

    A part of a big office (a sector) passes ``only_items`` (its items) and ``courier_slots``
    (its share of the office's couriers, as the fan-out chose them).
    """
    pairs = plannable_items(session, day, office.code, exclude_items)
    if only_items is not None:
        pairs = [(b, i) for b, i in pairs if i.number in only_items]
    points: list[tuple[float, float]] = [(office.lat, office.lon)]
    desks: list[rm.Desk] = []
    desk_index: dict[str, int] = {}
    stops: list[rm.Stop] = []
    infos: list[StopInfo] = []
    hours_cache: dict[str, object] = {}

    def desk_of(code: str) -> tuple[int, Desk]:
        desk = session.get(Desk, code)
        assert desk is not None
        if code not in desk_index:
            hours = catalogue.desk_hours(session, code)
            hours_cache[code] = hours
            windows = tuple(
                (_seconds(w.start), _seconds(w.end)) for w in desk_windows(hours, cal, day)
            )
            points.append((desk.lat, desk.lon))
            desk_index[code] = len(desks)
            desks.append(rm.Desk(id=code, location=len(points) - 1, opening=((day, windows),)))
        return desk_index[code], desk

    for booking, item in pairs:
        d_idx, desk = desk_of(booking.desk_code)
        hours = hours_cache[desk.code]
        window = slot_window(hours, cal, day, booking.slot)  # type: ignore[arg-type]
        citizen_windows: tuple[rm.Window, ...] = ()
        if window is not None:
            start, end = _seconds(window.start), _seconds(window.end)
            citizen_windows = ((start, max(start, end - settings.service_citizen_s)),)
        points.append((booking.lat or desk.lat, booking.lon or desk.lon))
        citizen_loc = len(points) - 1
        desk_loc = desks[d_idx].location
        citizen = StopInfo(
            item.number,
            booking.reference,
            desk.code,
            StopPlace.citizen,
            points[citizen_loc][0],
            points[citizen_loc][1],
        )
        at_desk = StopInfo(
            item.number, booking.reference, desk.code, StopPlace.desk, desk.lat, desk.lon
        )
        at_citizen: dict[str, Any] = {
            "location": citizen_loc,
            "windows": citizen_windows,
            "service": settings.service_citizen_s,
        }
        at_the_desk: dict[str, Any] = {
            "location": desk_loc,
            "service": settings.service_desk_s,
            "desk": d_idx,
        }
        # A dossier goes citizen -> desk; a result desk -> citizen.
        legs = [(at_citizen, citizen), (at_the_desk, at_desk)]
        if item.kind == ItemKind.result:
            legs.reverse()
        for kind, (fields, info) in zip(
            (rm.StopKind.PICKUP, rm.StopKind.DELIVERY), legs, strict=True
        ):
            stops.append(
                rm.Stop(
                    id=f"{item.number}:{kind}",
                    kind=kind,
                    demand=1,
                    pair=item.number,
                    area=office.code,
                    **fields,
                )
            )
            infos.append(info)

    couriers = (
        list(courier_slots)
        if courier_slots is not None
        else _courier_slots(session, settings, office, day, len(pairs), unavailable_couriers)
    )
    default = _parse_span(settings.courier_shift)
    brk = courier_break(settings)
    distances, durations = travel_provider(settings).matrices(points)
    problem = rm.Problem(
        durations=rm.Problem.matrix(durations),
        distances=rm.Problem.matrix(distances),
        depots=(rm.Depot(id=office.code, location=0, areas=(office.code,)),),
        couriers=tuple(
            rm.Courier(
                id=f"{office.code}-{k}",
                start_depot=0,
                end_depot=0,
                shift=slot.shift or default,
                capacity=settings.courier_capacity,
                break_=break_in_shift(brk, slot.shift or default),
                fixed_cost=settings.courier_fixed_cost_vnd,
                cost_per_hour=settings.courier_cost_per_hour_vnd,
            )
            for k, slot in enumerate(couriers)
        ),
        stops=tuple(stops),
        desks=tuple(desks),
        date=day,
        coordinates=np.array([(lon, lat) for lat, lon in points], dtype=np.float64),
        name=f"{office.code} {day.isoformat()}",
    )
    return OfficeProblem(office, problem, tuple(infos), tuple(couriers))


def courier_break(settings: Settings) -> rm.CourierBreak:
    """The lunch break of the settings (``Settings.courier_break``)."""
    span, minutes = settings.courier_break.split("/")
    earliest, latest = _parse_span(span)
    return rm.CourierBreak(earliest, latest, int(minutes) * 60)


def break_in_shift(brk: rm.CourierBreak, shift: tuple[int, int]) -> rm.CourierBreak | None:
    """The break when the shift spans the lunch hours; a half-day shift has none."""
    if shift[0] >= brk.latest_start or shift[1] <= brk.earliest_start + brk.duration:
        return None
    return brk


def _courier_slots(
    session: Session,
    settings: Settings,
    office: PostOffice,
    day: dt.date,
    tasks: int,
    unavailable: set[int],
) -> list[CourierSlot]:
    """The roster's couriers available on the plan date, longest shifts first, as many as
    the day needs (items / 12 x ``courier_fleet_factor`` full shifts); never an unnamed
    courier: with too few on the roster the optimiser leaves stops out (``no_courier``)."""
    from postal.planning.roster import roster

    if not tasks:
        return []
    fleet = max(1, math.ceil(tasks / 12 * settings.courier_fleet_factor))
    entries = [
        e
        for e in roster(session, settings, office.code, day)
        if e.available and e.user_id not in unavailable
    ]
    entries.sort(key=lambda e: (-(e.end - e.start), e.user_id))
    # The fleet counts in full shifts: two half-day couriers stand for one full-day one.
    full = max(1, _parse_span(settings.courier_shift)[1] - _parse_span(settings.courier_shift)[0])
    chosen, hours = [], 0
    for e in entries:
        if hours >= fleet * full:
            break
        chosen.append(CourierSlot(e.user_id, e.full_name, (e.start, e.end)))
        hours += e.end - e.start
    return chosen
