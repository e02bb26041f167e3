"""Deterministic mode: a seed plus an iteration budget gives the same plan twice."""

from __future__ import annotations

import multiprocessing

import numpy as np

from postal.routing.checker import check_plan
from postal.routing.mailbox import NONE_POSTED, Mailbox
from postal.routing.model import Depot, Plan, Problem, SolveParams, Stop, StopKind
from postal.routing.solver import solve

from .helpers import courier, hm


def _pairs_problem(pairs: int = 10, seed: int = 3) -> Problem:
    """Random pickup-delivery pairs on a plane, one window each (PyVRP's exact model)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 8000, size=(1 + 2 * pairs, 2))
    xy[0] = (4000, 4000)
    d = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    stops = []
    for k in range(pairs):
        start = hm(8) + int(rng.integers(0, 4)) * 3600
        stops.append(
            Stop(
                f"p{k}",
                StopKind.PICKUP,
                1 + 2 * k,
                windows=((start, start + 7200),),
                service=120,
                demand=1,
                pair=f"x{k}",
            )
        )
        stops.append(
            Stop(
                f"d{k}",
                StopKind.DELIVERY,
                2 + 2 * k,
                windows=((start, start + 4 * 3600),),
                service=120,
                demand=1,
                pair=f"x{k}",
            )
        )
    return Problem(
        durations=Problem.matrix(d // 5),
        distances=Problem.matrix(d),
        depots=(Depot("po", 0),),
        couriers=tuple(courier(f"c{k}", capacity=3) for k in range(5)),
        stops=tuple(stops),
    )


def _routes(plan: Plan) -> list[tuple[int, tuple[int, ...]]]:
    return [(r.courier, tuple(v.stop for v in r.visits)) for r in plan.routes]


def test_same_seed_and_iterations_give_the_same_plan() -> None:
    problem = _pairs_problem()
    params = SolveParams(time_limit_s=30.0, seed=5, workers=2, iterations=400)
    first = solve(problem, params)
    second = solve(problem, params)
    assert check_plan(problem, first) == []
    assert not first.unassigned
    assert _routes(first) == _routes(second)


def test_pyvrp_engine_is_deterministic_with_iterations() -> None:
    problem = _pairs_problem(seed=4)
    params = SolveParams(time_limit_s=30.0, seed=1, engine="pyvrp", iterations=300)
    assert _routes(solve(problem, params)) == _routes(solve(problem, params))


def test_mailbox_keeps_the_smallest_fleet() -> None:
    box = Mailbox(multiprocessing.get_context("fork"), couriers=4, stops=6)
    assert box.routes() == NONE_POSTED
    assert box.take() is None
    assert box.post({0: [1, 2], 2: [3, 4], 3: [5, 6]})
    assert box.post({1: [1, 2, 3], 2: [4, 5, 6], 3: []})
    assert box.routes() == 2
    assert box.take() == {1: [1, 2, 3], 2: [4, 5, 6]}
    assert not box.post({0: [1], 1: [2, 3, 4], 2: [5, 6]})
    assert box.take() == {1: [1, 2, 3], 2: [4, 5, 6]}
