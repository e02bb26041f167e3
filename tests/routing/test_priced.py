"""Priced working time (issue 15): fixed and hourly costs per courier make waiting a cost.

Hand-checkable plane: points in metres, 10 m per second (1 km = 100 s of travel), a courier
on shift 07:00-18:00. B is a citizen who booked the afternoon (13:30-17:00) two kilometres
out; C and D can be served at any time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from postal.routing.checker import check_plan
from postal.routing.model import Courier, Depot, Plan, Problem, SolveParams, Stop, StopKind
from postal.routing.solver import solve

DAY = dt.date(2025, 7, 7)
H = 3600
SHIFT = (7 * H, 18 * H)
AFTERNOON = (13 * H + 1800, 17 * H)


def plane(points: list[tuple[int, int]], stops: list[Stop], courier: Courier) -> Problem:
    xy = np.asarray(points, dtype=np.float64)
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    d = dist.astype(np.int64)
    return Problem(
        durations=d // 10,
        distances=d,
        depots=(Depot("po", 0),),
        couriers=(courier,),
        stops=tuple(stops),
        date=DAY,
    )


def waiting(plan: Plan) -> int:
    """Seconds spent waiting at doors over the plan."""
    return sum(v.start - v.arrival for r in plan.routes for v in r.visits)


def working(plan: Plan) -> int:
    return sum(r.end - r.start for r in plan.routes if r.visits)


def priced(courier: Courier) -> Courier:
    return dataclasses.replace(courier, fixed_cost=300_000, cost_per_hour=40_000)


def order(problem: Problem, plan: Plan) -> list[str]:
    return [problem.stops[v.stop].id for r in plan.routes for v in r.visits]


@pytest.mark.parametrize("engine", ["ours", "ortools-local"])
def test_courier_leaves_later_instead_of_waiting_at_an_afternoon_door(engine: str) -> None:
    """C lies on the way to B: the shortest route is C, B, D. Unpriced it leaves at 07:00,
    serves C at 07:01 and waits at B until 13:30; priced, it leaves just in time for B."""
    base = Courier("c1", 0, 0, SHIFT, 10)
    stops = [
        Stop("C", StopKind.DELIVERY, 1, demand=1),
        Stop("B", StopKind.DELIVERY, 2, windows=(AFTERNOON,), demand=1),
        Stop("D", StopKind.DELIVERY, 3, demand=1),
    ]
    points = [(0, 0), (1000, 0), (2000, 0), (2000, 1000)]
    params = SolveParams(time_limit_s=1.0, workers=1, engine=engine)

    plain_problem = plane(points, stops, base)
    plain = solve(plain_problem, params)
    assert order(plain_problem, plain) in (["C", "B", "D"], ["D", "B", "C"])
    assert waiting(plain) > 5 * H

    problem = plane(points, stops, priced(base))
    plan = solve(problem, params)
    assert check_plan(problem, plan) == []
    assert not plan.unassigned
    assert waiting(plan) < 10 * 60
    assert plan.routes[0].start > 13 * H
    assert working(plan) < working(plain) - 5 * H


@pytest.mark.parametrize("engine", ["ours", "ortools-local"])
def test_courier_serves_other_stops_in_the_gap_before_an_afternoon_door(engine: str) -> None:
    """A is booked for 08:00-08:30, B for the afternoon; C and D (an hour's service each)
    lie beyond B. The shortest route is A, B, C, D, waiting five hours at B; priced, C and D
    fill the gap (A, C, D, B or A, D, C, B) and the waiting drops by their two hours."""
    base = Courier("c1", 0, 0, SHIFT, 10)
    stops = [
        Stop("A", StopKind.DELIVERY, 1, windows=((8 * H, 8 * H + 1800),), demand=1),
        Stop("B", StopKind.DELIVERY, 2, windows=(AFTERNOON,), demand=1),
        Stop("C", StopKind.DELIVERY, 3, service=H, demand=1),
        Stop("D", StopKind.DELIVERY, 4, service=H, demand=1),
    ]
    points = [(0, 0), (1000, 0), (2000, 0), (2000, 1000), (2000, 2000)]
    params = SolveParams(time_limit_s=1.0, workers=1, engine=engine)

    plain_problem = plane(points, stops, base)
    plain = solve(plain_problem, params)
    assert order(plain_problem, plain) == ["A", "B", "C", "D"]
    assert waiting(plain) > 5 * H

    problem = plane(points, stops, priced(base))
    plan = solve(problem, params)
    assert check_plan(problem, plan) == []
    assert not plan.unassigned
    assert order(problem, plan)[-1] == "B"
    assert waiting(plan) < waiting(plain) - 1 * H - 50 * 60
    assert working(plan) < working(plain)
    assert plan.distance > plain.distance


def test_unpriced_problem_keeps_fewest_couriers_first() -> None:
    """Without costs nothing changes: the courier count stays first (benchmarks' order)."""
    base = Courier("c1", 0, 0, SHIFT, 10)
    problem = plane([(0, 0), (1000, 0)], [Stop("C", StopKind.DELIVERY, 1, demand=1)], base)
    assert not problem.priced
    assert priced(base).fixed_cost == 300_000
    assert plane([(0, 0)], [], priced(base)).priced
