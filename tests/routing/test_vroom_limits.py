"""VROOM's vehicle limits (max_tasks, max_travel_time, max_distance) and task priorities,
on hand-checkable problems: every engine keeps to them, the checker flags a plan that does
not, and the API's objective is VROOM's order (priorities, then tasks, then cost)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postal.routing.checker import ViolationKind, check_plan
from postal.routing.cli import solve_app
from postal.routing.errors import MalformedInstance
from postal.routing.model import Plan, Problem, Route, SolveParams, TravelCost, Visit
from postal.routing.solver import solve
from postal.routing.vroom_format import (
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
    vroom_params,
)

# Depot 0; places 1 and 2 are 100 s from the depot and 50 s from each other.
D = [[0, 100, 100], [100, 0, 50], [100, 50, 0]]
# Distances: place 2 is far (1000 m) from the depot, 1 is near (100 m).
M = [[0, 100, 1000], [100, 0, 950], [1000, 950, 0]]

ENGINES = ["ours", "ortools", "vroom"]


def _problem(vehicles: list[dict[str, Any]], jobs: list[dict[str, Any]], **extra: Any) -> Any:
    data: dict[str, Any] = {
        "vehicles": [{"start_index": 0, "end_index": 0, **v} for v in vehicles],
        "jobs": jobs,
        "matrices": {"car": {"durations": D, "distances": M}},
        **extra,
    }
    return data


def _solve(data: dict[str, Any], engine: str = "ours") -> tuple[Plan, dict[str, Any]]:
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    params = SolveParams(
        time_limit_s=1.0, workers=1, engine=engine, travel_cost=TravelCost.DURATION
    )
    plan = solve(problem, params)
    out = json.loads(json.dumps(plan_to_vroom(problem, ids, plan)))
    assert check_plan(problem, plan_from_vroom(problem, ids, out)) == []
    return plan, out


def _tasks(out: dict[str, Any]) -> list[list[tuple[str, int]]]:
    return [
        [(s["type"], s["id"]) for s in r["steps"] if s["type"] not in ("start", "end", "break")]
        for r in out["routes"]
    ]


def _unassigned(out: dict[str, Any]) -> set[tuple[str, int]]:
    return {(u["type"], u["id"]) for u in out["unassigned"]}


# --- max_tasks -------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_max_tasks_leaves_the_third_job_out(engine: str) -> None:
    jobs = [{"id": k, "location_index": 1 + k % 2} for k in range(3)]
    _, out = _solve(_problem([{"id": 1, "max_tasks": 2}], jobs), engine)
    assert [len(t) for t in _tasks(out)] == [2]
    assert len(out["unassigned"]) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_max_tasks_spreads_jobs_over_two_vehicles(engine: str) -> None:
    jobs = [{"id": k, "location_index": 1} for k in range(3)]
    vehicles = [{"id": 1, "max_tasks": 2}, {"id": 2, "max_tasks": 2}]
    _, out = _solve(_problem(vehicles, jobs), engine)
    assert sorted(len(t) for t in _tasks(out)) == [1, 2]
    assert out["unassigned"] == []


def test_a_shipment_counts_two_tasks() -> None:
    data = _problem(
        [{"id": 1, "max_tasks": 3}],
        [{"id": 9, "location_index": 1, "priority": 1}],
        shipments=[
            {"pickup": {"id": 5, "location_index": 1}, "delivery": {"id": 5, "location_index": 2}}
        ],
    )
    data["jobs"].append({"id": 10, "location_index": 2})
    # Four tasks, three places: the shipment (two) and the job of priority 1 (one).
    _, out = _solve(data)
    assert sorted(_tasks(out)[0]) == [("delivery", 5), ("job", 9), ("pickup", 5)]
    assert _unassigned(out) == {("job", 10)}


# --- max_travel_time -------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_max_travel_time_counts_travel_only(engine: str) -> None:
    # 0-1-2-0 travels 250 s; 0-1-0 200 s. Long services do not count towards the limit.
    jobs = [
        {"id": 1, "location_index": 1, "service": 3000},
        {"id": 2, "location_index": 2, "service": 3000, "priority": 5},
    ]
    _, out = _solve(_problem([{"id": 1, "max_travel_time": 249}], jobs), engine)
    assert _tasks(out) == [[("job", 2)]]
    assert out["routes"][0]["duration"] == 200
    _, out = _solve(_problem([{"id": 1, "max_travel_time": 250}], jobs), engine)
    assert out["unassigned"] == []
    assert out["routes"][0]["duration"] == 250


def test_max_travel_time_is_at_the_vehicles_speed() -> None:
    jobs = [{"id": 1, "location_index": 1}, {"id": 2, "location_index": 2}]
    _, out = _solve(_problem([{"id": 1, "max_travel_time": 125, "speed_factor": 2}], jobs))
    assert out["unassigned"] == []
    assert out["routes"][0]["duration"] == 125


# --- max_distance ----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_max_distance_keeps_the_far_job_off_the_short_range_vehicle(engine: str) -> None:
    # Vehicle 1 may drive 1,500 m: job 2 (2,000 m there and back) needs vehicle 2.
    jobs = [{"id": 1, "location_index": 1}, {"id": 2, "location_index": 2}]
    vehicles = [{"id": 1, "max_distance": 1500}, {"id": 2, "max_distance": 2000}]
    _, out = _solve(_problem(vehicles, jobs), engine)
    routes = zip(out["routes"], _tasks(out), strict=True)
    by_vehicle = {r["vehicle"]: [t[1] for t in ts] for r, ts in routes}
    assert out["unassigned"] == []
    assert 2 in by_vehicle[2]
    assert all(r["distance"] <= (1500 if r["vehicle"] == 1 else 2000) for r in out["routes"])


def test_max_distance_alone_leaves_the_far_job_out() -> None:
    jobs = [{"id": 1, "location_index": 1}, {"id": 2, "location_index": 2}]
    _, out = _solve(_problem([{"id": 1, "max_distance": 1999}], jobs))
    assert _unassigned(out) == {("job", 2)}
    assert out["routes"][0]["distance"] == 200


def test_max_distance_needs_distances() -> None:
    data = _problem([{"id": 1, "max_distance": 10}], [{"id": 1, "location_index": 1}])
    data["matrices"]["car"].pop("distances")
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "vehicles[0].max_distance"


@pytest.mark.parametrize("key", ["max_tasks", "max_travel_time", "max_distance"])
def test_bad_limits_are_refused_with_their_path(key: str) -> None:
    data = _problem([{"id": 1}, {"id": 2, key: -1}], [{"id": 1, "location_index": 1}])
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == f"vehicles[1].{key}"


# --- the checker -----------------------------------------------------------------------------


def _one_route_plan() -> tuple[Problem, Plan]:
    jobs = [{"id": 1, "location_index": 1}, {"id": 2, "location_index": 2}]
    problem, _ = problem_from_vroom(_problem([{"id": 1}], jobs))
    # 0 -> 1 -> 2 -> 0: 250 s of travel, 100 + 950 + 1000 = 2050 m.
    visits = (Visit(0, 100, 100, 100, 0, 100), Visit(1, 150, 150, 150, 0, 950))
    return problem, Plan(routes=(Route(0, visits, 0, 250, 2050),))


@pytest.mark.parametrize(
    ("limits", "kind"),
    [
        ({"max_tasks": 1}, ViolationKind.MAX_TASKS),
        ({"max_travel_time": 249}, ViolationKind.MAX_TRAVEL_TIME),
        ({"max_distance": 2049}, ViolationKind.MAX_DISTANCE),
    ],
)
def test_the_checker_flags_each_limit(limits: dict[str, int], kind: ViolationKind) -> None:
    problem, plan = _one_route_plan()
    assert check_plan(problem, plan) == []
    at_limit = {k: v + 1 for k, v in limits.items()}
    courier = replace(problem.couriers[0], **at_limit)
    assert check_plan(replace(problem, couriers=(courier,)), plan) == []
    courier = replace(problem.couriers[0], **limits)
    found = check_plan(replace(problem, couriers=(courier,)), plan)
    assert [v.kind for v in found] == [kind]


# --- priorities: VROOM's order -----------------------------------------------------------------


def _capacity_day(priorities: tuple[int, int, int]) -> dict[str, Any]:
    """One vehicle of capacity 2; job 1 needs 2 units, jobs 2 and 3 one each."""
    jobs = [
        {"id": k + 1, "location_index": 1 + k % 2, "delivery": [2 if k == 0 else 1], "priority": p}
        for k, p in enumerate(priorities)
    ]
    return _problem([{"id": 1, "capacity": [2]}], jobs)


@pytest.mark.parametrize("engine", ["ours", "ortools"])  # VROOM alone misses the ties
@pytest.mark.parametrize(
    ("priorities", "left_out"),
    [
        ((10, 4, 4), {2, 3}),  # 10 > 4 + 4: the one job of priority 10, though fewer tasks
        ((8, 4, 4), {1}),  # a tie on priorities: the most tasks
        ((0, 0, 0), {1}),  # no priorities: the most tasks
        ((9, 4, 4), {2, 3}),
    ],
)
def test_priorities_first_then_tasks(
    engine: str, priorities: tuple[int, int, int], left_out: set[int]
) -> None:
    _, out = _solve(_capacity_day(priorities), engine)
    assert {u["id"] for u in out["unassigned"]} == left_out
    assert out["summary"]["priority"] == sum(priorities) - sum(priorities[k - 1] for k in left_out)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("job_priority", "kept"), [(5, "shipment"), (7, "jobs")])
def test_a_shipments_priority_counts_once_per_step(
    engine: str, job_priority: int, kept: str
) -> None:
    # Room for two tasks: the shipment of priority 3 (3 + 3 = 6), or the jobs (p + 0).
    data = _problem(
        [{"id": 1, "max_tasks": 2}],
        [
            {"id": 1, "location_index": 1, "priority": job_priority},
            {"id": 2, "location_index": 2},
        ],
        shipments=[
            {
                "priority": 3,
                "pickup": {"id": 5, "location_index": 1},
                "delivery": {"id": 5, "location_index": 2},
            }
        ],
    )
    _, out = _solve(data, engine)
    types = {t for ts in _tasks(out) for t, _ in ts}
    assert types == ({"pickup", "delivery"} if kept == "shipment" else {"job"})


def test_a_point_of_priority_outweighs_every_stop() -> None:
    from postal.routing.ortools_engine import penalty_for

    base, stops = 1_000, 300
    assert penalty_for(0, base, stops) == base
    one_point = penalty_for(1, base, stops) - penalty_for(0, base, stops)
    assert one_point > stops * penalty_for(0, base, stops)
    assert penalty_for(100, base, stops) - penalty_for(99, base, stops) == one_point
    # Near int64's limit the weight falls back to base, priorities still first.
    assert penalty_for(100, 10**12, 30_000) < 2**63


# --- `postal solve`: the API's objective ---------------------------------------------------------


def test_postal_solve_minimises_travel_time_as_the_api_does(tmp_path: Path) -> None:
    # One way round is 30 s and 300 m, the other 300 s and 30 m: VROOM's cost is the time.
    durations = [[0, 10, 100], [100, 0, 10], [10, 100, 0]]
    distances = [[0, 100, 10], [10, 0, 100], [100, 10, 0]]
    data = _problem(
        [{"id": 1}],
        [{"id": 1, "location_index": 1}, {"id": 2, "location_index": 2}],
        matrices={"car": {"durations": durations, "distances": distances}},
    )
    src = tmp_path / "problem.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    dst = tmp_path / "plan.json"
    result = CliRunner().invoke(solve_app, [str(src), "--time-limit", "1", "--out", str(dst)])
    assert result.exit_code == 0, result.output
    out = json.loads(dst.read_text(encoding="utf-8"))
    assert _tasks(out) == [[("job", 1), ("job", 2)]]
    assert (out["summary"]["cost"], out["summary"]["distance"]) == (30, 300)
    assert vroom_params(5.0).travel_cost is TravelCost.DURATION


# --- breaks end within the vehicle's time window (found by the compatibility bench) ----------


def test_a_break_after_the_last_task_ends_within_the_time_window() -> None:
    # 100 s there, 750 s of service, 100 s back: 950 s; the break (100 s, from 800 s) cannot
    # follow it within [0, 1000], nor fit before it: VROOM leaves the job out, and so do we.
    vehicle = {
        "id": 1,
        "time_window": [0, 1000],
        "breaks": [{"id": 3, "time_windows": [[800, 990]], "service": 100}],
    }
    data = _problem([vehicle], [{"id": 1, "location_index": 1, "service": 750}])
    _, out = _solve(data)
    assert _unassigned(out) == {("job", 1)}
    data["jobs"][0]["service"] = 650  # back at 850, break 850-950: served
    _, out = _solve(data)
    steps = out["routes"][0]["steps"]
    assert [s["type"] for s in steps] == ["start", "job", "break", "end"]
    assert steps[-1]["arrival"] == 950
    too_late = copy.deepcopy(data)
    too_late["vehicles"][0]["breaks"][0]["time_windows"] = [[950, 990]]
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(too_late)
    assert err.value.field == "vehicles[0].breaks[0].time_windows"
