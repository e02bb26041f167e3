"""Hand-checkable geometry: points on a line, 10 m per second, so minutes are easy to add."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from postal.routing.model import Courier, CourierBreak, Depot, Desk, Problem, Stop

DAY = dt.date(2025, 7, 7)
SPEED = 10  # metres per second


def hm(hours: int, minutes: int = 0) -> int:
    """Seconds since midnight."""
    return hours * 3600 + minutes * 60


def line_problem(
    xs: Sequence[int],
    stops: Sequence[Stop],
    couriers: Sequence[Courier] | None = None,
    desks: Sequence[Desk] = (),
    depots: Sequence[Depot] | None = None,
) -> Problem:
    """Locations at positions ``xs`` (metres) on a line; location 0 is the post office."""
    x = np.asarray(xs, dtype=np.int64)
    dist = np.abs(x[:, None] - x[None, :])
    return Problem(
        durations=dist // SPEED,
        distances=dist,
        depots=tuple(depots or (Depot("po", 0),)),
        couriers=tuple(couriers or (courier(),)),
        stops=tuple(stops),
        desks=tuple(desks),
        date=DAY,
    )


def courier(
    name: str = "c1",
    shift: tuple[int, int] = (hm(7), hm(18)),
    capacity: int = 10,
    brk: CourierBreak | None = None,
    depot: int = 0,
    speed_percent: int = 100,
) -> Courier:
    """A courier starting and ending at ``depot``."""
    return Courier(name, depot, depot, shift, capacity, brk, speed_percent)


def desk(location: int, windows: Sequence[tuple[int, int]], name: str = "d") -> Desk:
    """A desk open on DAY with ``windows``."""
    return Desk(name, location, ((DAY, tuple(windows)),))
