"""Synthetic city days from real geography, for `postal bench city`.

Citizens' addresses are drawn inside commune polygons; each commune's one-stop desk sits at its
label point with the hours of its profile (lunch gaps, Saturday mornings); post offices and
their service areas come from the locality's data; results outnumber dossiers about 5 to 1;
couriers ride motorbikes with a lunch break and a box. Travel is geodesic distance times the
measured circuity factor at the configured speed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from postal.calendar import desk_windows
from postal.catalogue import files
from postal.config import Settings
from postal.geo.boundaries import CommuneBoundaries
from postal.geo.matrix import distance_matrix_m, seconds_from_metres
from postal.routing import model as rm
from postal.routing.decompose import Day

RESULT_SHARE = 5 / 6  # results : dossiers = 5 : 1


@dataclass(frozen=True)
class GeoMatrices:
    """(lon, lat) coordinates -> (durations s, distances m); picklable for worker processes."""

    circuity: float
    speed_kmh: float

    def __call__(self, points: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Durations and distances between ``points`` given as (lon, lat)."""
        metres = distance_matrix_m(points[:, 1], points[:, 0], self.circuity)
        seconds = seconds_from_metres(metres, self.speed_kmh, None)
        return seconds.astype(np.int64), np.rint(metres).astype(np.int64)


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60


def next_weekday(after: dt.date, calendar: files.HolidayCalendarData) -> dt.date:
    """The first Monday-to-Friday non-holiday after ``after``."""
    cal = calendar.work_calendar()
    return cal.next_working_day(after)


def city_day(
    settings: Settings,
    data_dir: Path,
    locality: str,
    n_stops: int,
    seed: int = 0,
    day: dt.date | None = None,
    post_offices: Sequence[str] = (),
) -> Day:
    """A day of about ``n_stops`` stops (pairs of pickup and delivery) in ``locality``.

    With ``post_offices`` (codes), only those post offices and the communes they serve take
    part: the two central ones of Hà Nội make an urban-core day. Unknown codes raise
    ValueError naming them.
    """
    rng = np.random.default_rng(seed)
    data = files.load_locality(data_dir, locality)
    holidays = files.load_holidays(data_dir)
    cal = holidays.work_calendar()
    day = day or next_weekday(dt.date(2026, 12, 1), holidays)
    boundaries = CommuneBoundaries.load(data_dir, locality)
    office_of = data.service_areas()
    offices = data.post_offices
    if post_offices:
        unknown = sorted(set(post_offices) - {o.code for o in offices})
        if unknown:
            raise ValueError(f"post_offices: no post office {', '.join(unknown)} in {locality}")
        chosen = set(post_offices)
        offices = tuple(o for o in offices if o.code in chosen)
    served = {o.code for o in offices}
    coords: list[tuple[float, float]] = [(o.lon, o.lat) for o in offices]
    depots = tuple(rm.Depot(id=o.code, location=k, areas=(o.code,)) for k, o in enumerate(offices))
    desks: list[rm.Desk] = []
    desk_hours = []
    for desk_data in data.desks:
        hours = data.desk_hours(desk_data)
        windows = tuple((_seconds(w.start), _seconds(w.end)) for w in desk_windows(hours, cal, day))
        coords.append((desk_data.lon, desk_data.lat))
        desks.append(
            rm.Desk(id=desk_data.code, location=len(coords) - 1, opening=((day, windows),))
        )
        desk_hours.append(windows)
    open_desks = [
        k for k, w in enumerate(desk_hours) if w and office_of[data.desks[k].commune_code] in served
    ]
    stops: list[rm.Stop] = []
    for k in range(n_stops // 2):
        d = open_desks[int(rng.integers(len(open_desks)))]
        desk = data.desks[d]
        lat, lon = boundaries.sample_points(desk.commune_code, 1, rng)[0]
        coords.append((lon, lat))
        windows = desk_hours[d]
        # The citizen's half day: the desk's morning or afternoon span.
        morning = [w for w in windows if w[0] < 12 * 3600] or list(windows)
        afternoon = [w for w in windows if w[0] >= 12 * 3600] or list(windows)
        span = morning if rng.random() < 0.5 else afternoon
        slot = (span[0][0], max(span[0][0], span[-1][1] - settings.service_citizen_s))
        home = (len(coords) - 1, (slot,), settings.service_citizen_s, None)
        at_desk = (desks[d].location, (), settings.service_desk_s, d)
        is_result = rng.random() < RESULT_SHARE
        legs = (at_desk, home) if is_result else (home, at_desk)
        area = office_of[desk.commune_code]
        for kind, (where, wins, service, desk_index) in zip(
            (rm.StopKind.PICKUP, rm.StopKind.DELIVERY), legs, strict=True
        ):
            stops.append(
                rm.Stop(
                    id=f"{'r' if is_result else 'd'}{k}:{kind}",
                    kind=kind,
                    location=where,
                    windows=wins,
                    service=service,
                    demand=1,
                    pair=f"p{k}",
                    desk=desk_index,
                    area=area,
                )
            )
    shift = tuple(_seconds(dt.time.fromisoformat(t)) for t in settings.courier_shift.split("-"))
    span_text, minutes = settings.courier_break.split("/")
    earliest, latest = (_seconds(dt.time.fromisoformat(t)) for t in span_text.split("-"))
    per_office: dict[str, int] = {}
    for s in stops:
        assert s.area is not None
        per_office[s.area] = per_office.get(s.area, 0) + 1
    couriers = tuple(
        rm.Courier(
            id=f"{o.code}-{i}",
            start_depot=k,
            end_depot=k,
            shift=(shift[0], shift[1]),
            capacity=settings.courier_capacity,
            break_=rm.CourierBreak(earliest, latest, int(minutes) * 60),
            # Priced as the planner prices them (the post office's costs from the settings).
            fixed_cost=settings.courier_fixed_cost_vnd,
            cost_per_hour=settings.courier_cost_per_hour_vnd,
        )
        for k, o in enumerate(offices)
        for i in range(
            max(1, math.ceil(per_office.get(o.code, 0) / 24 * settings.courier_fleet_factor))
        )
    )
    return Day(
        coordinates=np.asarray(coords, dtype=np.float64),
        matrix=GeoMatrices(settings.circuity_factor, settings.speed_kmh),
        depots=depots,
        couriers=couriers,
        stops=tuple(stops),
        desks=tuple(desks),
        date=day,
    )
