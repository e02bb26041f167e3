"""Synthetic city days from real geography."""

from __future__ import annotations

import numpy as np

from postal.config import REPO_ROOT
from postal.geo.boundaries import CommuneBoundaries
from postal.planning.city import city_day
from postal.routing.decompose import solve_day
from tests.conftest import make_settings


def test_city_day_is_real_geography_with_desk_hours_and_breaks() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, REPO_ROOT / "data", "hanoi", 120, seed=3)
    assert len(day.stops) == 120
    pairs: dict[str, list[str]] = {}
    for s in day.stops:
        assert s.pair is not None
        pairs.setdefault(s.pair, []).append(str(s.kind))
    assert all(kinds == ["pickup", "delivery"] for kinds in pairs.values())
    results = sum(1 for s in day.stops if s.kind == "pickup" and s.desk is not None)
    assert 35 <= results <= 60  # about 5 in 6 of 60 items are results
    boundaries = CommuneBoundaries.load(REPO_ROOT / "data", "hanoi")
    homes = [s for s in day.stops if s.desk is None]
    lon, lat = day.coordinates[homes[0].location]
    assert boundaries.locate(float(lat), float(lon)) is not None
    assert all(d.windows_on(day.date) for d in day.desks[:5])
    assert all(c.break_ is not None for c in day.couriers)
    assert np.all(np.isfinite(day.coordinates))


def test_city_day_solves_with_every_stop_served() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, REPO_ROOT / "data", "hanoi", 60, seed=1)
    result = solve_day(day, time_limit_s=6, workers=1, seed=1)
    report = result.report()
    assert report["served"] + sum(report["unassigned"].values()) == 60
    assert report["served"] == 60
