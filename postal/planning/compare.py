"""One city day, every engine, the same problem: the rows of `postal bench city --engines`.

What each engine name means here:

- ``ours``: the product's path (``solve_day``: split by post office, parts solved in parallel
  processes), with the couriers' lunch breaks;
- ``vroom``: VROOM on the same day *without* the breaks, which is what VROOM plans well; the
  baseline the route-optimiser issue sets (no more couriers, no more travel time than this);
- ``vroom-breaks``: VROOM given the breaks;
- ``ortools`` and ``ortools-local``: OR-Tools the textbook way (pickup and delivery pairs,
  parallel or local cheapest insertion, guided local search) with the breaks.

Every plan is checked by the independent checker against the problem it was made for; the
travel time counts driving only (no service, waiting or breaks), at each courier's speed;
working time runs from leaving the post office to coming back (waiting included), waiting is
the time spent at a door or desk before its window opens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from postal.routing.checker import check_plan
from postal.routing.decompose import Day, solve_day, whole_problem
from postal.routing.errors import SolverFailure
from postal.routing.model import Plan, Problem, SolveParams, TravelCost
from postal.routing.prep import at_speed
from postal.routing.solver import solve

CITY_ENGINES = ("ours", "vroom", "vroom-breaks", "ortools", "ortools-local")
"""Engine names `postal bench city --engines` accepts."""
CHECK_WHOLE = 1000
"""Days up to this many stops get their merged plan checked as one problem."""


@dataclass(frozen=True)
class EngineRun:
    """One engine's plan of the day, as measured."""

    run: str
    engine: str
    breaks: bool
    time_limit_s: float
    stops: int
    served: int
    unassigned: int
    couriers: int
    travel_h: float
    distance_km: float
    seconds: float
    feasible: bool
    waiting_h: float = 0.0
    """Time spent waiting at doors and desks for their windows, over all routes."""
    working_h: float = 0.0
    """Couriers' working time, leaving the post office to coming back, over all routes."""
    longest_wait_min: float = 0.0
    """The longest single wait of the plan."""
    peak_rss_mb_parent: float = 0.0
    peak_rss_mb_children: float = 0.0
    parts: int = 1
    largest_part: int = 0
    note: str = ""

    def row(self) -> dict[str, Any]:
        """The CSV/table row (rounded for reading; the CSV keeps the same values)."""
        return {
            "run": self.run,
            "engine": self.engine,
            "breaks": "yes" if self.breaks else "no",
            "time_limit_s": f"{self.time_limit_s:g}",
            "stops": self.stops,
            "served": self.served,
            "unassigned": self.unassigned,
            "couriers": self.couriers,
            "travel_h": f"{self.travel_h:.2f}",
            "distance_km": f"{self.distance_km:.1f}",
            "distance_per_stop_m": f"{1000 * self.distance_km / max(self.served, 1):.1f}",
            "working_h": f"{self.working_h:.2f}",
            "working_per_courier_h": f"{self.working_h / max(self.couriers, 1):.2f}",
            "waiting_h": f"{self.waiting_h:.2f}",
            "waiting_per_courier_min": f"{60 * self.waiting_h / max(self.couriers, 1):.1f}",
            "longest_wait_min": f"{self.longest_wait_min:.1f}",
            "seconds": f"{self.seconds:.1f}",
            "feasible": "yes" if self.feasible else "no",
            "parts": self.parts,
            "largest_part": self.largest_part,
            "peak_rss_mb_parent": f"{self.peak_rss_mb_parent:.1f}",
            "peak_rss_mb_children": f"{self.peak_rss_mb_children:.1f}",
            "note": self.note,
        }


def without_breaks(problem: Problem) -> Problem:
    """The same problem with every courier's break taken away."""
    return replace(problem, couriers=tuple(replace(c, break_=None) for c in problem.couriers))


def travel_seconds(day: Day, plan: Plan) -> int:
    """Driving time of a plan of ``day`` (indices into the day), at each courier's speed."""
    total = 0
    for route in plan.routes:
        if not route.visits:
            continue
        courier = day.couriers[route.courier]
        locs = [day.depots[courier.start_depot].location]
        locs += [day.stops[v.stop].location for v in route.visits]
        locs.append(day.depots[courier.end_depot].location)
        durations, _ = day.matrix(day.coordinates[locs])
        legs = np.diagonal(durations, 1).astype(np.int64)  # location k to k + 1
        # Rounded up per leg, as the solver's own travel times are.
        total += int(at_speed(legs, courier.speed_percent).sum())
    return total


def run_ours(
    day: Day,
    problem: Problem | None,
    time_limit_s: float,
    run: str,
    seed: int,
    workers: int,
    max_part: int,
) -> EngineRun:
    """The product's own plan of the day (decomposed, parallel, with breaks).

    Each part's plan was checked in its worker against its part; with ``problem`` (the whole
    day) the merged plan is checked again as one.
    """
    result = solve_day(
        day,
        time_limit_s,
        workers=workers,
        seed=seed,
        max_part=max_part,
        travel_cost=TravelCost.DURATION,
    )
    violations = check_plan(problem, result.plan) if problem is not None else []
    return measured(
        day,
        result.plan,
        run,
        "ours",
        breaks=True,
        time_limit_s=time_limit_s,
        seconds=result.seconds,
        feasible=not violations,
        note="; ".join(v.message for v in violations[:3]),
        peak_rss_mb_parent=result.peak_rss_mb_parent,
        peak_rss_mb_children=result.peak_rss_mb_children,
        parts=result.parts,
        largest_part=max(result.part_sizes, default=0),
    )


def measured(
    day: Day,
    plan: Plan,
    run: str,
    engine: str,
    breaks: bool,
    time_limit_s: float,
    seconds: float,
    feasible: bool,
    **extra: Any,
) -> EngineRun:
    """The measured row of one plan of ``day``."""
    waits = [v.start - v.arrival for r in plan.routes for v in r.visits]
    return EngineRun(
        run=run,
        engine=engine,
        breaks=breaks,
        time_limit_s=time_limit_s,
        stops=len(day.stops),
        served=sum(len(r.visits) for r in plan.routes),
        unassigned=len(plan.unassigned),
        couriers=plan.couriers_used,
        travel_h=travel_seconds(day, plan) / 3600,
        distance_km=plan.distance / 1000,
        working_h=sum(r.end - r.start for r in plan.routes if r.visits) / 3600,
        waiting_h=sum(waits) / 3600,
        longest_wait_min=max(waits, default=0) / 60,
        seconds=seconds,
        feasible=feasible,
        **extra,
    )


def run_peer(
    day: Day, problem: Problem, engine: str, time_limit_s: float, seed: int, workers: int
) -> EngineRun:
    """A peer engine used the textbook way on the whole day, its plan checked."""
    breaks = engine != "vroom"
    target = problem if breaks else without_breaks(problem)
    name = "vroom" if engine == "vroom-breaks" else engine
    params = SolveParams(
        time_limit_s=time_limit_s,
        engine=name,
        seed=seed,
        workers=workers,
        travel_cost=TravelCost.DURATION,
    )
    t0 = time.perf_counter()
    try:
        plan = solve(target, params)
    except SolverFailure as exc:
        # The engine's plan failed the checker: shown as such, nothing of it counted.
        plan, feasible, note = Plan(routes=()), False, exc.detail
    else:
        feasible, note = not check_plan(target, plan), ""
    row = measured(
        day,
        plan,
        "budget",
        engine,
        breaks=breaks,
        time_limit_s=time_limit_s,
        seconds=time.perf_counter() - t0,
        feasible=feasible,
        largest_part=len(day.stops),
        note=note,
    )
    return row if plan.routes or plan.unassigned else replace(row, unassigned=len(day.stops))


def run_engines(
    day: Day,
    engines: Sequence[str],
    time_limit_s: float,
    compare_factor: float,
    seed: int = 0,
    workers: int = 2,
    max_part: int = 400,
    whole_limit: int = 5000,
) -> list[EngineRun]:
    """Every engine on ``day`` with one budget; ours also with ``compare_factor`` times it.

    The peers need the whole day as one dense problem, so they run only on days of at most
    ``whole_limit`` stops (ValueError otherwise); then, and on days of at most ``CHECK_WHOLE``
    stops, our merged plan is checked against the whole problem too. (Bigger days are not:
    their dense matrix would dominate the peak memory the benchmark reports.)
    """
    unknown = [e for e in engines if e not in CITY_ENGINES]
    if unknown:
        raise ValueError(f"engines: unknown {', '.join(unknown)}; use {','.join(CITY_ENGINES)}")
    peers = [e for e in engines if e != "ours"]
    small = len(day.stops) <= whole_limit
    if peers and not small:
        raise ValueError(
            f"engines: {', '.join(peers)} need the whole day as one matrix; "
            f"use at most {whole_limit} stops"
        )
    problem = whole_problem(day) if peers or len(day.stops) <= CHECK_WHOLE else None
    runs: list[EngineRun] = []
    budgets = [("budget", time_limit_s)]
    if compare_factor > 0:
        budgets.append((f"x{compare_factor:g}", time_limit_s * compare_factor))
    for engine in engines:
        if engine != "ours":
            assert problem is not None
            runs.append(run_peer(day, problem, engine, time_limit_s, seed, workers))
            continue
        for name, limit in budgets:
            runs.append(run_ours(day, problem, limit, name, seed, workers, max_part))
    return runs


def verdict(runs: Sequence[EngineRun], time_limit_s: float) -> list[str]:
    """The route-optimiser issue's city-day goal, read off the runs: ours with breaks serves
    every stop, with no more couriers and travel time than VROOM without breaks, in budget."""
    ours = next((r for r in runs if r.engine == "ours" and r.run == "budget"), None)
    base = next((r for r in runs if r.engine == "vroom"), None)
    if ours is None or base is None:
        return []

    def mark(ok: bool) -> str:
        return "yes" if ok else "NO"

    return [
        f"every stop served with breaks: {mark(ours.unassigned == 0 and ours.feasible)} "
        f"({ours.served}/{ours.stops})",
        f"couriers <= VROOM without breaks: {mark(ours.couriers <= base.couriers)} "
        f"({ours.couriers} vs {base.couriers})",
        f"travel time <= VROOM without breaks: {mark(ours.travel_h <= base.travel_h)} "
        f"({ours.travel_h:.2f} h vs {base.travel_h:.2f} h)",
        f"within {time_limit_s:g} s: {mark(ours.seconds <= time_limit_s)} ({ours.seconds:.1f} s)",
    ]
