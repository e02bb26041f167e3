"""Synthetic routes around a point, for the map benchmark and tests (deterministic by seed)."""

from __future__ import annotations

import datetime as dt
import random

from maps.types import MapRoute, MapStop, Overview, Point, UnassignedPoint

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
)  # fmt: skip


def make_route(
    n_stops: int, index: int = 0, centre: Point = Point(21.03, 105.85), seed: int = 1
) -> MapRoute:
    """A route of ``n_stops`` stops scattered about 5 km around ``centre``."""
    rng = random.Random(seed * 100_003 + index)
    start = dt.datetime(2026, 12, 8, 8, 0)
    stops = tuple(
        MapStop(
            sequence=k + 1,
            point=Point(
                centre.lat + rng.uniform(-0.045, 0.045), centre.lon + rng.uniform(-0.05, 0.05)
            ),
            kind="pickup" if k % 3 else "delivery",
            place="desk" if k % 5 == 4 else "citizen",
            eta=start + dt.timedelta(minutes=3 * k),
            slot_text="08:00-12:00",
            label=f"Stop {k + 1}",
            item_numbers=(f"EB{index:04d}{k:05d}VN",),
            name_masked="N*** V*** A",
            phone_masked="09******12",
        )
        for k in range(n_stops)
    )
    return MapRoute(
        courier_label=f"Courier {index + 1}",
        color=PALETTE[index % len(PALETTE)],
        depot=centre,
        stops=stops,
        depot_label="Post office",
        route_id=index + 1,
    )


def make_overview(
    n_stops: int, per_route: int = 100, unassigned: int = 0, seed: int = 1
) -> Overview:
    """A day of ``n_stops`` stops split into routes of ``per_route`` stops."""
    routes = []
    left, k = n_stops, 0
    while left > 0:
        size = min(per_route, left)
        routes.append(make_route(size, k, seed=seed))
        left -= size
        k += 1
    rng = random.Random(seed)
    flagged = tuple(
        UnassignedPoint(
            Point(21.03 + rng.uniform(-0.05, 0.05), 105.85 + rng.uniform(-0.05, 0.05)),
            f"U{i}",
            "window",
        )
        for i in range(unassigned)
    )
    return Overview(routes=tuple(routes), unassigned=flagged)
