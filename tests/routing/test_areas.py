"""Service areas on a problem of two post offices: every engine keeps each stop on a courier of
the post office that serves its area, even where the other post office is nearer."""

from __future__ import annotations

import logging

import pytest

from postal.routing.checker import check_plan
from postal.routing.model import Depot, Problem, SolveParams, Stop, StopKind
from postal.routing.prep import prepare
from postal.routing.solver import cost_scales, solve
from postal.routing.vroom_engine import skills, solve_vroom
from tests.routing.helpers import courier, line_problem

P, D = StopKind.PICKUP, StopKind.DELIVERY


def two_offices() -> Problem:
    """West office at 0 m serves area 'w', east office at 20 km serves 'e'; each area's
    addresses lie next to the other office, so the nearest courier is always the wrong one."""
    xs = [0, 20000, 1000, 1500, 2000, 2500, 18000, 18500, 19000, 19500]
    stops = [
        Stop("e1", D, 2, service=60, demand=1, area="e"),
        Stop("e2", D, 3, service=60, demand=1, area="e"),
        Stop("e-pick", P, 4, service=60, demand=1, pair="pe", area="e"),
        Stop("e-drop", D, 5, service=60, demand=1, pair="pe", area="e"),
        Stop("w1", D, 6, service=60, demand=1, area="w"),
        Stop("w2", D, 7, service=60, demand=1, area="w"),
        Stop("w-pick", P, 8, service=60, demand=1, pair="pw", area="w"),
        Stop("w-drop", D, 9, service=60, demand=1, pair="pw", area="w"),
    ]
    return line_problem(
        xs,
        stops,
        couriers=[courier("west", depot=0), courier("east", depot=1)],
        depots=[Depot("west", 0, ("w",)), Depot("east", 1, ("e",))],
    )


def test_vroom_is_told_the_areas_as_skills() -> None:
    prep = prepare(two_offices())
    per_courier, per_stop = skills(prep)
    assert per_courier[0] != per_courier[1]
    assert all(per_stop[s] <= per_courier[prep.compatible[s][0]] for s in prep.active)
    fixed, _ = cost_scales(prep, False)
    out = solve_vroom(prep, 1.0, fixed, by_duration=False, threads=1)
    assert not out.dropped
    assert sorted(s for seq in out.sequences.values() for s in seq) == list(range(8))
    for c, seq in out.sequences.items():
        assert all(c in prep.compatible[s] for s in seq), (c, seq)


@pytest.mark.parametrize("engine", ["vroom", "ortools", "ortools-local", "pyvrp", "ours"])
def test_every_engine_keeps_stops_in_their_area(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    problem = two_offices()
    with caplog.at_level(logging.WARNING, logger="postal.routing.solver"):
        plan = solve(problem, SolveParams(time_limit_s=2, engine=engine, workers=2))
    assert not plan.unassigned
    assert check_plan(problem, plan) == []
    for route in plan.routes:
        home = problem.depots[problem.couriers[route.courier].start_depot]
        assert {problem.stops[v.stop].area for v in route.visits} <= set(home.areas)
    # No engine job broke on the way (a broken job is logged, not raised).
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
