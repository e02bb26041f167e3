"""VROOM's multi-dimensional amounts and jobs that deliver and pick up: read, kept to in every
dimension, written back per dimension, and checked against VROOM's own plans."""

from __future__ import annotations

from typing import Any

import pytest

from postal.routing.checker import ViolationKind, check_plan
from postal.routing.errors import MalformedInstance
from postal.routing.model import Plan, Route, Visit
from postal.routing.vroom_compat import (
    random_problem,
)
from postal.routing.vroom_format import (
    problem_from_vroom,
)
from tests.routing.helpers import assert_ours_and_vrooms_plans_pass, solve_vroom_checked

D = [[0, 100, 100, 100], [100, 0, 50, 50], [100, 50, 0, 50], [100, 50, 50, 0]]


def _vehicle(vid: int, capacity: list[int]) -> dict[str, Any]:
    return {
        "id": vid,
        "start_index": 0,
        "end_index": 0,
        "capacity": capacity,
        "time_window": [0, 10_000],
    }


_solve = solve_vroom_checked


def test_the_second_dimension_binds() -> None:
    # Weight allows all three parcels on one van; volume allows two.
    data = {
        "vehicles": [_vehicle(1, [10, 2]), _vehicle(2, [10, 2])],
        "jobs": [{"id": k, "location_index": k, "delivery": [1, 1]} for k in (1, 2, 3)],
        "matrices": {"car": {"durations": D}},
    }
    out = _solve(data)
    assert out["unassigned"] == []
    assert len(out["routes"]) == 2
    for route in out["routes"]:
        loads = [s["load"] for s in route["steps"]]
        assert all(len(load) == 2 and load[1] <= 2 for load in loads)
        jobs = sum(1 for s in route["steps"] if s["type"] == "job")
        assert loads[0] == [jobs, jobs] and loads[-1] == [0, 0]
        assert route["delivery"] == [jobs, jobs] and route["pickup"] == [0, 0]
    assert out["summary"]["delivery"] == [3, 3]


def test_one_van_leaves_out_what_its_second_dimension_cannot_hold() -> None:
    data = {
        "vehicles": [_vehicle(1, [10, 2])],
        "jobs": [{"id": k, "location_index": k, "delivery": [1, 1]} for k in (1, 2, 3)],
        "matrices": {"car": {"durations": D}},
    }
    out = _solve(data)
    assert len(out["unassigned"]) == 1


def test_a_job_delivers_and_picks_up() -> None:
    # Job 1 swaps 2 parcels for 2 others; job 2 takes 1 more: 3 on board from the start.
    data = {
        "vehicles": [_vehicle(1, [3])],
        "jobs": [
            {"id": 1, "location_index": 1, "delivery": [2], "pickup": [2]},
            {"id": 2, "location_index": 2, "delivery": [1]},
        ],
        "matrices": {"car": {"durations": D}},
    }
    out = _solve(data)
    (route,) = out["routes"]
    assert out["unassigned"] == []
    steps = route["steps"]
    assert steps[0]["load"] == [3]
    by_id = {s["id"]: s["load"] for s in steps if s["type"] == "job"}
    assert steps[-1]["load"] == [2]
    if [s["id"] for s in steps if s["type"] == "job"] == [1, 2]:
        assert by_id == {1: [3], 2: [2]}
    else:
        assert by_id == {2: [2], 1: [2]}
    assert route["delivery"] == [3] and route["pickup"] == [2]


def test_a_swap_that_overflows_is_left_out() -> None:
    # 2 delivered from the start and 3 picked up at job 2 after job 1's delivery: the van
    # holds 3, so job 2 must come after job 1 (load 2 -> 0 -> 3 fits; the other way 2 + 3 > 3).
    data = {
        "vehicles": [_vehicle(1, [3])],
        "jobs": [
            {"id": 1, "location_index": 1, "delivery": [2]},
            {"id": 2, "location_index": 2, "pickup": [3]},
        ],
        "matrices": {"car": {"durations": D}},
    }
    out = _solve(data)
    (route,) = out["routes"]
    assert [s["id"] for s in route["steps"] if s["type"] == "job"] == [1, 2]
    assert [s["load"] for s in route["steps"]] == [[2], [0], [3], [3]]


def test_the_checker_counts_every_dimension() -> None:
    data = {
        "vehicles": [_vehicle(1, [10, 1])],
        "jobs": [{"id": k, "location_index": k, "delivery": [1, 1]} for k in (1, 2)],
        "matrices": {"car": {"durations": D}},
    }
    problem, _ = problem_from_vroom(data)
    visits = (Visit(0, 100, 100, 100, 1, 100), Visit(1, 150, 150, 150, 0, 50))
    plan = Plan(routes=(Route(0, visits, 0, 250, 250, None, 2),))
    found = [v for v in check_plan(problem, plan) if v.kind is ViolationKind.CAPACITY]
    assert found and "dim 1" in found[0].message


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["jobs"][1].update(delivery=[1, 1]), "jobs[1].delivery"),
        # The vehicle comes first: the job is the one that differs.
        (lambda d: d["vehicles"][0].update(capacity=[4, 4, 4]), "jobs[0].delivery"),
        (lambda d: d["jobs"][0].update(pickup=[1]), "jobs[0].pickup"),
    ],
)
def test_amounts_of_other_dimensions_are_refused_with_the_path(change: Any, path: str) -> None:
    data: dict[str, Any] = {
        "vehicles": [_vehicle(1, [4])],
        "jobs": [
            {"id": 1, "location_index": 1, "delivery": [1] if "pickup" not in path else [1, 1]},
            {"id": 2, "location_index": 2, "delivery": [1]},
        ],
        "matrices": {"car": {"durations": D}},
    }
    if "pickup" in path:
        data["vehicles"][0]["capacity"] = [4, 4]
        data["jobs"][1]["delivery"] = [1, 1]
    change(data)
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == path
    assert "same dimensions" in err.value.detail


def test_negative_amounts_are_refused_with_the_path() -> None:
    data = {
        "vehicles": [_vehicle(1, [4, 4])],
        "jobs": [{"id": 1, "location_index": 1, "delivery": [1, -1]}],
        "matrices": {"car": {"durations": D}},
    }
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "jobs[0].delivery[1]"


@pytest.mark.parametrize("seed", [3, 6, 19, 24])
def test_random_two_dimension_problems_against_vroom(seed: int) -> None:
    problem = random_problem(seed, 30)
    # These seeds draw both features (the generator's own streams decide).
    assert {"two_dims", "both_ways"} & set(problem["_features"])
    assert_ours_and_vrooms_plans_pass(problem, seed)
