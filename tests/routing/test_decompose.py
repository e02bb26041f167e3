"""Big-day decomposition: parts keep pairs together, share couriers, and merge back."""

from __future__ import annotations

from collections import Counter

import numpy as np

from postal.routing.checker import check_plan
from postal.routing.decompose import EuclideanMatrices, solve_day, split_day, synthetic_day


def test_synthetic_day_shape() -> None:
    day = synthetic_day(240, seed=3)
    kinds = Counter(s.id[0] for s in day.stops)
    # Results (r) outnumber dossiers (d) roughly 5 to 1.
    assert kinds["r"] > 3 * kinds["d"]
    assert all(c.break_ is not None for c in day.couriers)
    assert all(len(d.opening[0][1]) == 2 for d in day.desks)


def test_split_keeps_pairs_and_shares_couriers() -> None:
    day = synthetic_day(600, seed=1, depots=2)
    parts = split_day(day, max_part=120)
    assert all(len(p.stops) <= 120 + 2 for p in parts)
    seen = Counter(s for p in parts for s in p.stops)
    assert sorted(seen) == list(range(len(day.stops))) and set(seen.values()) == {1}
    couriers = Counter(c for p in parts for c in p.couriers)
    assert set(couriers.values()) == {1}
    for part in parts:
        pairs = Counter(s.pair for s in part.problem.stops)
        assert set(pairs.values()) == {2}
        assert part.couriers
        depots = {day.couriers[c].start_depot for c in part.couriers}
        assert len(depots) == 1


def test_part_matrices_come_from_the_matrix_function() -> None:
    day = synthetic_day(100, seed=2)
    (part,) = split_day(day, max_part=1000)
    fn = EuclideanMatrices()
    stop = part.problem.stops[0]
    original = day.stops[part.stops[0]]
    home = day.coordinates[day.depots[0].location]
    there = day.coordinates[original.location]
    _, dist = fn(np.asarray([home, there]))
    assert part.problem.distances[part.problem.depots[0].location, stop.location] == dist[0, 1]


def test_solve_day_serves_every_stop_once() -> None:
    day = synthetic_day(160, seed=4, depots=2)
    result = solve_day(day, time_limit_s=3.0, workers=2, max_part=60)
    plan = result.plan
    routed = Counter(v.stop for r in plan.routes for v in r.visits)
    left = Counter(u.stop for u in plan.unassigned)
    assert set((routed + left).values()) == {1}
    assert sorted(routed + left) == list(range(len(day.stops)))
    assert result.parts >= 2
    assert result.peak_rss_mb_parent > 0
    report = result.report()
    assert report["stops"] == len(day.stops)


def test_each_part_plan_passes_the_checker() -> None:
    from postal.routing.model import SolveParams
    from postal.routing.solver import solve

    day = synthetic_day(80, seed=5)
    for part in split_day(day, max_part=40):
        plan = solve(part.problem, SolveParams(time_limit_s=1.0, workers=1))
        assert check_plan(part.problem, plan) == []
