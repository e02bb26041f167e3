"""Big days: split by post office service area, then geographically, solve parts in parallel.

A day of tens of thousands of stops cannot carry a dense matrix (25,000 locations would need
gigabytes), so a ``Day`` holds coordinates and a matrix function; each part gets its own small
matrices. Parts are sectors around their post office (a courier's routes fan out from it) of
at most ``max_part`` stops, pairs never cut; couriers are shared out in proportion to the work.
Each part is solved by ``solve`` in a worker process and checked there by the checker.
"""

from __future__ import annotations

import datetime as dt
import math
import resource
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from postal.routing.model import (
    Courier,
    CourierBreak,
    Depot,
    Desk,
    Plan,
    Problem,
    Route,
    SolveParams,
    Stop,
    StopKind,
    TravelCost,
    Unassigned,
    UnassignedReason,
    Visit,
)


class MatrixFn(Protocol):
    """Coordinates per location -> (durations in s, distances in m); must be picklable."""

    def __call__(
        self, points: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]: ...


@dataclass(frozen=True)
class EuclideanMatrices:
    """Plane coordinates in metres, times a circuity factor, at a constant speed."""

    speed_mps: float = 22 / 3.6
    circuity: float = 1.35

    def __call__(self, points: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Durations and distances between ``points``."""
        diff = points[:, None, :] - points[None, :, :]
        metres = np.sqrt((diff**2).sum(axis=2)) * self.circuity
        return (
            np.rint(metres / self.speed_mps).astype(np.int64),
            np.rint(metres).astype(np.int64),
        )


@dataclass(frozen=True, eq=False)
class Day:
    """A problem too big for one matrix: coordinates per location and a matrix function."""

    coordinates: NDArray[np.float64]
    matrix: MatrixFn
    depots: tuple[Depot, ...]
    couriers: tuple[Courier, ...]
    stops: tuple[Stop, ...]
    desks: tuple[Desk, ...] = ()
    date: dt.date | None = None


@dataclass(frozen=True)
class Part:
    """One sub-problem and how its indices map back to the day."""

    problem: Problem
    stops: tuple[int, ...]
    couriers: tuple[int, ...]
    depot: int = -1
    """The post office whose area this part is (-1: outside every service area)."""


@dataclass
class DayResult:
    """The merged plan (indices into the day) with timing and memory figures."""

    plan: Plan
    parts: int
    seconds: float
    peak_rss_mb_parent: float
    peak_rss_mb_children: float
    part_sizes: list[int] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        plan = self.plan
        served = sum(len(r.visits) for r in plan.routes)
        reasons: dict[str, int] = {}
        for u in plan.unassigned:
            reasons[u.reason.value] = reasons.get(u.reason.value, 0) + 1
        return {
            "stops": served + len(plan.unassigned),
            "served": served,
            "unassigned": reasons,
            "couriers": plan.couriers_used,
            "distance_km": round(plan.distance / 1000, 1),
            "distance_per_stop_m": round(plan.distance / max(served, 1), 1),
            "parts": self.parts,
            "largest_part": max(self.part_sizes, default=0),
            "seconds": round(self.seconds, 1),
            "peak_rss_mb_parent": round(self.peak_rss_mb_parent, 1),
            "peak_rss_mb_children": round(self.peak_rss_mb_children, 1),
            "parts_checked": self.parts,
        }


def _units(day: Day) -> list[list[int]]:
    """Stops grouped into units that must stay together (a pair, or a single stop)."""
    by_pair: dict[str, list[int]] = {}
    units: list[list[int]] = []
    for i, s in enumerate(day.stops):
        if s.pair is None:
            units.append([i])
        else:
            by_pair.setdefault(s.pair, []).append(i)
    units.extend(by_pair.values())
    return units


def _unit_point(day: Day, unit: Sequence[int]) -> NDArray[np.float64]:
    """The citizen's side of a pair (the desk side is shared by many units)."""
    pts = [day.coordinates[day.stops[s].location] for s in unit if day.stops[s].desk is None]
    if not pts:
        pts = [day.coordinates[day.stops[s].location] for s in unit]
    centre: NDArray[np.float64] = np.mean(np.asarray(pts, dtype=np.float64), axis=0)
    return centre


def split_day(day: Day, max_part: int = 400) -> list[Part]:
    """Split by post office (service area, else nearest), then into sectors of <= max_part."""
    depot_xy = np.asarray([day.coordinates[d.location] for d in day.depots])
    groups: dict[int, list[list[int]]] = {}
    for unit in _units(day):
        pt = _unit_point(day, unit)
        area = next((day.stops[s].area for s in unit if day.stops[s].area is not None), None)
        serving = [k for k, d in enumerate(day.depots) if not d.areas or area in d.areas]
        if area is not None and not serving:
            serving = []
        if not serving:
            groups.setdefault(-1, []).append(unit)
            continue
        dist = ((depot_xy[serving] - pt) ** 2).sum(axis=1)
        groups.setdefault(serving[int(np.argmin(dist))], []).append(unit)

    parts_units: list[tuple[int, list[list[int]]]] = []
    for k, units in sorted(groups.items()):
        if k < 0:
            parts_units.append((k, units))
            continue
        n_stops = sum(len(u) for u in units)
        pieces = max(1, math.ceil(n_stops / max_part))
        centre = depot_xy[k]
        angles = [math.atan2(*(_unit_point(day, u) - centre)[::-1]) for u in units]
        order = sorted(range(len(units)), key=lambda i: angles[i])
        # Start the sweep at the widest angular gap so no sector straddles a crowded angle.
        if len(order) > 1:
            gaps = [
                (angles[order[(i + 1) % len(order)]] - angles[order[i]]) % (2 * math.pi)
                for i in range(len(order))
            ]
            cut = (int(np.argmax(gaps)) + 1) % len(order)
            order = order[cut:] + order[:cut]
        target = n_stops / pieces
        current: list[list[int]] = []
        size = 0
        for i in order:
            current.append(units[i])
            size += len(units[i])
            if size >= target and len(parts_units) < 10**6:
                parts_units.append((k, current))
                current, size = [], 0
        if current:
            parts_units.append((k, current))

    couriers_by_depot: dict[int, list[int]] = {}
    for c, courier in enumerate(day.couriers):
        couriers_by_depot.setdefault(courier.start_depot, []).append(c)
    parts: list[Part] = []
    for k in sorted({k for k, _ in parts_units}):
        mine = [units for kk, units in parts_units if kk == k]
        pool = couriers_by_depot.get(k, []) if k >= 0 else []
        sizes = [sum(len(u) for u in units) for units in mine]
        total = max(sum(sizes), 1)
        shares = _share(len(pool), sizes, total)
        start = 0
        for units, n_c in zip(mine, shares, strict=True):
            stops = sorted(s for u in units for s in u)
            parts.append(replace(_make_part(day, stops, pool[start : start + n_c]), depot=k))
            start += n_c
    return parts


def _share(n: int, sizes: Sequence[int], total: int) -> list[int]:
    """Split n couriers in proportion to sizes (largest remainders), one each where possible."""
    raw = [n * s / total for s in sizes]
    out = [int(x) for x in raw]
    for i in sorted(range(len(sizes)), key=lambda i: raw[i] - out[i], reverse=True):
        if sum(out) >= n:
            break
        out[i] += 1
    for i in range(len(out)):
        if out[i] == 0 and sizes[i] > 0:
            donor = max(range(len(out)), key=lambda j: out[j])
            if out[donor] > 1:
                out[donor] -= 1
                out[i] += 1
    return out


def _make_part(day: Day, stops: Sequence[int], couriers: Sequence[int]) -> Part:
    """A self-contained Problem over the given stops and couriers, with its own matrices."""
    depots_used = sorted(
        {day.couriers[c].start_depot for c in couriers}
        | {day.couriers[c].end_depot for c in couriers}
    )
    locs = sorted(
        {day.depots[d].location for d in depots_used} | {day.stops[s].location for s in stops}
    )
    loc_of = {loc: k for k, loc in enumerate(locs)}
    pts = day.coordinates[locs] if locs else np.zeros((0, 2))
    durations, distances = day.matrix(pts)
    depot_of = {d: k for k, d in enumerate(depots_used)}
    desks_used = sorted({d for s in stops if (d := day.stops[s].desk) is not None})
    desk_of = {d: k for k, d in enumerate(desks_used)}

    def desk_index(s: int) -> int | None:
        d = day.stops[s].desk
        return None if d is None else desk_of[d]

    problem = Problem(
        durations=durations,
        distances=distances,
        depots=tuple(
            Depot(day.depots[d].id, loc_of[day.depots[d].location], day.depots[d].areas)
            for d in depots_used
        ),
        couriers=tuple(
            # Every field of the courier (limits, costs) kept; only its depots renumbered.
            replace(
                day.couriers[c],
                start_depot=depot_of[day.couriers[c].start_depot],
                end_depot=depot_of[day.couriers[c].end_depot],
            )
            for c in couriers
        ),
        stops=tuple(
            # Every field of the stop kept; only its place and desk renumbered.
            replace(day.stops[s], location=loc_of[day.stops[s].location], desk=desk_index(s))
            for s in stops
        ),
        desks=tuple(
            Desk(day.desks[d].id, loc_of[day.desks[d].location], day.desks[d].opening)
            for d in desks_used
        ),
        date=day.date,
        coordinates=pts,
    )
    return Part(problem=problem, stops=tuple(stops), couriers=tuple(couriers))


def whole_problem(day: Day) -> Problem:
    """The whole day as one Problem with dense matrices; stop and courier indices unchanged.

    For days small enough to hold an n x n matrix (benchmarks against engines that take one
    problem); plans of ``solve_day`` on the same day check against it as they are.
    """
    return _make_part(day, range(len(day.stops)), range(len(day.couriers))).problem


def _solve_part(part: Part, params: SolveParams) -> tuple[Plan, float]:
    from postal.routing.solver import solve

    plan = solve(part.problem, params)
    return plan, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _merge(parts: Sequence[Part], plans: Sequence[Plan]) -> Plan:
    routes: list[Route] = []
    unassigned: list[Unassigned] = []
    for part, plan in zip(parts, plans, strict=True):
        for r in plan.routes:
            routes.append(
                Route(
                    courier=part.couriers[r.courier],
                    visits=tuple(
                        Visit(
                            part.stops[v.stop],
                            v.arrival,
                            v.start,
                            v.departure,
                            v.load_after,
                            v.distance_from_previous,
                        )
                        for v in r.visits
                    ),
                    start=r.start,
                    end=r.end,
                    distance=r.distance,
                    break_start=r.break_start,
                    start_load=r.start_load,
                    more_break_starts=r.more_break_starts,
                )
            )
        unassigned.extend(Unassigned(part.stops[u.stop], u.reason) for u in plan.unassigned)
    return Plan(routes=tuple(routes), unassigned=tuple(sorted(unassigned, key=lambda u: u.stop)))


def solve_day(
    day: Day,
    time_limit_s: float,
    workers: int = 2,
    seed: int = 0,
    max_part: int = 400,
    travel_cost: TravelCost = TravelCost.DURATION,
) -> DayResult:
    """Split ``day``, solve the parts in ``workers`` processes within the budget, merge."""
    t0 = time.perf_counter()
    parts = split_day(day, max_part)
    unservable = [p for p in parts if not p.couriers]
    solvable = [p for p in parts if p.couriers]
    waves = max(1, math.ceil(len(solvable) / max(workers, 1)))
    left = time_limit_s - (time.perf_counter() - t0)
    # Each wave of `workers` parts runs at once; keep a margin for process start and merging.
    per_part = max(0.5, left * 0.92 / waves - 0.3)
    params = SolveParams(time_limit_s=per_part, seed=seed, workers=1, travel_cost=travel_cost)
    plans: list[Plan] = []
    child_peak = 0.0
    if workers <= 1:
        for p in solvable:
            plan, peak = _solve_part(p, params)
            plans.append(plan)
            child_peak = max(child_peak, peak)
    else:
        # Largest parts first so that the last wave is not a straggler.
        order = sorted(range(len(solvable)), key=lambda i: -len(solvable[i].stops))
        results: dict[int, Plan] = {}
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {i: pool.submit(_solve_part, solvable[i], params) for i in order}
            for i, fut in futures.items():
                plan, peak = fut.result()
                results[i] = plan
                child_peak = max(child_peak, peak)
        plans = [results[i] for i in range(len(solvable))]
    merged = _merge(solvable, plans)
    extra = [
        Unassigned(
            s, UnassignedReason.OUTSIDE_SERVICE_AREA if p.depot < 0 else UnassignedReason.NO_COURIER
        )
        for p in unservable
        for s in p.stops
    ]
    merged = Plan(
        routes=merged.routes,
        unassigned=tuple(sorted(merged.unassigned + tuple(extra), key=lambda u: u.stop)),
        engine="decomposed",
        seconds=time.perf_counter() - t0,
    )
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = max(child_peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return DayResult(
        plan=merged,
        parts=len(parts),
        seconds=time.perf_counter() - t0,
        peak_rss_mb_parent=parent,
        peak_rss_mb_children=children,
        part_sizes=[len(p.stops) for p in parts],
    )


def synthetic_day(
    n_stops: int,
    seed: int = 0,
    depots: int = 0,
    side_m: float = 0.0,
    couriers_per_depot: int = 0,
) -> Day:
    """A Euclidean city day: desks with a lunch gap, citizens' half-day slots, courier breaks.

    Results (desk -> citizen) outnumber dossiers (citizen -> desk) 5 to 1; about 40 items per
    desk; couriers on motorbikes with a 30-minute lunch break and a box of 40 items.
    """
    rng = np.random.default_rng(seed)
    pairs = n_stops // 2
    n_desks = max(1, round(pairs / 40))
    n_depots = depots or max(1, round(n_desks / 8))
    side = side_m or 4000.0 * math.sqrt(n_desks)
    desk_xy = rng.uniform(0, side, size=(n_desks, 2))
    depot_xy = rng.uniform(side * 0.1, side * 0.9, size=(n_depots, 2))
    hm = 3600
    day_date = dt.date(2025, 7, 7)
    desk_hours = ((7 * hm + 30 * 60, 11 * hm + 30 * 60), (13 * hm, 17 * hm))
    coords: list[NDArray[np.float64]] = [*depot_xy, *desk_xy]
    stops: list[Stop] = []
    slots = ((8 * hm, 12 * hm), (13 * hm + 30 * 60, 17 * hm + 30 * 60))
    for k in range(pairs):
        d = int(rng.integers(n_desks))
        citizen = desk_xy[d] + rng.normal(0, side / math.sqrt(n_desks) / 2.5, size=2)
        citizen = np.clip(citizen, 0, side)
        loc = len(coords)
        coords.append(citizen)
        slot = slots[int(rng.integers(2))]
        pair = f"p{k}"
        at_desk = (n_depots + d, (), 90, d)
        at_home = (loc, (slot,), 180, None)
        is_result = rng.random() < 5 / 6  # results (desk -> citizen) outnumber dossiers 5:1
        first, second = (at_desk, at_home) if is_result else (at_home, at_desk)
        tag = "r" if is_result else "d"
        for kind, (where, windows, service, desk) in (
            (StopKind.PICKUP, first),
            (StopKind.DELIVERY, second),
        ):
            stops.append(
                Stop(
                    id=f"{tag}{k}{kind.value[0]}",
                    kind=kind,
                    location=where,
                    windows=windows,
                    service=service,
                    demand=1,
                    pair=pair,
                    desk=desk,
                )
            )
    # Couriers per post office in proportion to the citizens nearest to it (about 35 stops a
    # courier, plus one spare), as a dispatcher would staff it.
    citizens = np.asarray(coords[n_depots + n_desks :])
    nearest = np.argmin(((citizens[:, None, :] - depot_xy[None, :, :]) ** 2).sum(axis=2), axis=1)
    load = np.bincount(nearest, minlength=n_depots) * 2
    staff = [couriers_per_depot or max(2, math.ceil(int(k) / 35) + 1) for k in load]
    couriers = tuple(
        Courier(
            id=f"c{dep}_{i}",
            start_depot=dep,
            end_depot=dep,
            shift=(7 * hm + 30 * 60, 17 * hm + 30 * 60),
            capacity=40,
            break_=CourierBreak(11 * hm + 30 * 60, 13 * hm, 30 * 60),
        )
        for dep in range(n_depots)
        for i in range(staff[dep])
    )
    return Day(
        coordinates=np.asarray(coords, dtype=np.float64),
        matrix=EuclideanMatrices(),
        depots=tuple(Depot(id=f"po{k}", location=k) for k in range(n_depots)),
        couriers=couriers,
        stops=tuple(stops),
        desks=tuple(
            Desk(id=f"desk{d}", location=n_depots + d, opening=((day_date, desk_hours),))
            for d in range(n_desks)
        ),
        date=day_date,
    )
