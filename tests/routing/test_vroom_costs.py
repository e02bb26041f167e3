"""VROOM's vehicle ``costs`` (fixed, per_hour, per_km, per_task_hour): read, solved for and
reported as VROOM computes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from postal.routing.checker import check_plan
from postal.routing.errors import MalformedInstance
from postal.routing.model import user_cost
from postal.routing.plan_mode import choose_eta
from postal.routing.vroom_compat import random_problem, solve_vroom, vroom_input
from postal.routing.vroom_format import (
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
)
from tests.routing.helpers import solve_vroom_checked

# Place 0 is the depot; 1 and 2 are 100 s out, 50 s apart. Distances are ten times durations.
D = [[0, 100, 100], [100, 0, 50], [100, 50, 0]]
M = [[10 * x for x in row] for row in D]


def _vehicle(vid: int, **costs: int) -> dict[str, Any]:
    v: dict[str, Any] = {
        "id": vid,
        "start_index": 0,
        "end_index": 0,
        "capacity": [10],
        "time_window": [0, 10_000],
    }
    if costs:
        v["costs"] = costs
    return v


def _problem(*vehicles: dict[str, Any]) -> dict[str, Any]:
    return {
        "vehicles": list(vehicles),
        "jobs": [
            {"id": 1, "location_index": 1, "setup": 10, "service": 60, "delivery": [1]},
            {"id": 2, "location_index": 2, "service": 30, "delivery": [1]},
        ],
        "matrices": {"car": {"durations": D, "distances": M}},
    }


_solve = solve_vroom_checked


def test_costs_are_read_into_the_couriers() -> None:
    data = _problem(_vehicle(1, fixed=500, per_hour=1800, per_km=20, per_task_hour=7200))
    problem, _ = problem_from_vroom(data)
    (c,) = problem.couriers
    assert (c.fixed_cost, c.cost_per_travel_hour, c.cost_per_km, c.cost_per_task_hour) == (
        500,
        1800,
        20,
        7200,
    )
    assert problem.priced


def test_the_route_cost_is_vrooms_formula() -> None:
    out = _solve(_problem(_vehicle(1, fixed=500, per_hour=1800, per_km=20, per_task_hour=7200)))
    (route,) = out["routes"]
    # 0 -> 1 -> 2 -> 0 (or its mirror): travel 250 s, 2,500 m, task time 10 + 60 + 30 = 100 s
    # (the setup applies: each job is reached from another place).
    assert route["duration"] == 250 and route["distance"] == 2500
    assert route["setup"] + route["service"] == 100
    # VROOM rounds the travel part and truncates the task part.
    expected = 500 + round(250 * 1800 / 3600 + 2500 * 20 / 1000) + 100 * 7200 // 3600
    assert route["cost"] == expected == 875
    assert out["summary"]["cost"] == expected


def test_default_costs_count_travel_time() -> None:
    out = _solve(_problem(_vehicle(1)))
    assert out["summary"]["cost"] == out["summary"]["duration"] == 250


def test_a_fixed_cost_keeps_the_expensive_vehicle_home() -> None:
    out = _solve(_problem(_vehicle(1, fixed=100_000), _vehicle(2, fixed=10)))
    assert [r["vehicle"] for r in out["routes"]] == [2]
    assert out["summary"]["cost"] == 10 + 250


def test_per_hour_picks_the_cheaper_vehicle_per_hour() -> None:
    out = _solve(_problem(_vehicle(1, per_hour=7200), _vehicle(2, per_hour=1800)))
    assert [r["vehicle"] for r in out["routes"]] == [2]
    assert out["summary"]["cost"] == round(250 * 1800 / 3600)


def test_per_km_weighs_distance_against_time() -> None:
    # Two ways to job 1: place 1 is near in time but far in metres for vehicle 1's rule.
    data: dict[str, Any] = {
        "vehicles": [_vehicle(1, per_hour=0, per_km=1000)],
        "jobs": [
            {"id": 1, "location_index": 1, "delivery": [1]},
            {"id": 2, "location_index": 2, "delivery": [1]},
        ],
        # Travel times favour 0-1-2-0 ... both orders cost the same time; metres decide.
        "matrices": {
            "car": {
                "durations": [[0, 10, 10], [10, 0, 10], [10, 10, 0]],
                "distances": [[0, 100, 900], [900, 0, 100], [100, 900, 0]],
            }
        },
    }
    out = _solve(data)
    (route,) = out["routes"]
    order = [s["id"] for s in route["steps"] if s["type"] == "job"]
    assert order == [1, 2]  # 100 + 100 + 100 m, against 900 x 3 the other way
    assert route["distance"] == 300 and route["cost"] == 300


def test_per_km_without_distances_is_refused_with_its_path() -> None:
    data = _problem(_vehicle(1, per_km=5))
    del data["matrices"]["car"]["distances"]
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "vehicles[0].costs.per_km"
    assert "distances" in err.value.detail


@pytest.mark.parametrize("value", [-1, 1.5, "3600", True])
def test_a_bad_cost_is_refused_with_its_path(value: Any) -> None:
    data = _problem(_vehicle(1))
    data["vehicles"][0]["costs"] = {"per_hour": value}
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "vehicles[0].costs.per_hour"


@pytest.mark.parametrize("seed", [3, 8])
def test_our_cost_of_vrooms_own_routes_is_vrooms_cost(seed: int) -> None:
    """VROOM's plan, read back and written by us, costs what VROOM says route by route (and
    has its setup, service with the break's, travel time and distance)."""
    data = vroom_input(random_problem(seed, 40))
    for k, v in enumerate(data["vehicles"]):
        v["costs"] = {
            "fixed": 1000 * k,
            "per_hour": 1800 + 900 * (k % 3),
            "per_km": 3 * (k % 2),
            "per_task_hour": 600 * (k % 4),
        }
    theirs = solve_vroom(data, 1.0, threads=1)
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    plan = plan_from_vroom(problem, ids, theirs)
    assert check_plan(problem, plan) == []
    ours = plan_to_vroom(problem, ids, plan)
    keys = ("cost", "setup", "service", "duration")  # (pyvroom writes no distance)
    by_vehicle = {r["vehicle"]: [r[k] for k in keys] for r in theirs["routes"]}
    assert by_vehicle, "VROOM served nothing"
    assert {r["vehicle"]: [r[k] for k in keys] for r in ours["routes"]} == by_vehicle
    for r in ours["routes"]:
        c = problem.couriers[ids.vehicle_ids.index(r["vehicle"])]
        assert r["cost"] == user_cost(c, r["duration"], r["distance"], r["setup"] + r["service"])


# --- a custom cost matrix ---------------------------------------------------------------------


def _custom(costs: list[list[int]], **vehicle_costs: int) -> dict[str, Any]:
    data = _problem(_vehicle(1, **vehicle_costs) if vehicle_costs else _vehicle(1))
    data["matrices"]["car"]["costs"] = costs
    return data


# Going 0 -> 1 -> 2 -> 0 costs 1 + 1 + 1; the other way 50 + 50 + 50 (same travel time).
ONE_WAY = [[0, 1, 50], [50, 0, 1], [1, 50, 0]]


def test_a_custom_cost_matrix_chooses_the_order_and_is_the_cost() -> None:
    out = _solve(_custom(ONE_WAY, fixed=40, per_task_hour=3600))
    (route,) = out["routes"]
    assert [s["id"] for s in route["steps"] if s["type"] == "job"] == [1, 2]
    # fixed + the matrix along the route + task time (10 + 60 + 30 s at 3600 an hour).
    assert route["cost"] == 40 + 3 + 100
    assert route["duration"] == 250  # travel times still come from 'durations'


def test_our_cost_of_vrooms_route_with_a_custom_matrix_is_vrooms() -> None:
    data = vroom_input(random_problem(4, 40))
    assert "costs" in data["matrices"]["car"]
    theirs = solve_vroom(data, 1.0, threads=1)
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    assert problem.arc_costs is not None
    plan = plan_from_vroom(problem, ids, theirs)
    ours = plan_to_vroom(problem, ids, plan)
    assert {r["vehicle"]: r["cost"] for r in ours["routes"]} == {
        r["vehicle"]: r["cost"] for r in theirs["routes"]
    }


@pytest.mark.parametrize("key", ["per_hour", "per_km"])
def test_per_hour_or_per_km_beside_a_custom_matrix_is_refused(key: str) -> None:
    data = _custom(ONE_WAY, **{key: 7})
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == f"vehicles[0].costs.{key}"
    assert "custom 'costs' matrix" in err.value.detail


def test_a_custom_matrix_of_another_size_is_refused_with_its_path() -> None:
    data = _custom([[0, 1], [1, 0]])
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "matrices.car.costs"


def test_plan_mode_prices_the_given_route_with_the_custom_matrix() -> None:
    data = _custom(ONE_WAY)
    data["vehicles"][0]["steps"] = [{"type": "job", "id": 2}, {"type": "job", "id": 1}]
    out = choose_eta(data)
    (route,) = out["routes"]
    assert route["cost"] == 50 + 50 + 50
