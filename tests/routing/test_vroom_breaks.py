"""VROOM's breaks in full: several per vehicle, several windows per break and ``max_load``,
each taken, echoed by id, and checked by the independent checker (and against VROOM)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from postal.routing.checker import ViolationKind, check_plan
from postal.routing.errors import MalformedInstance
from postal.routing.model import Plan
from postal.routing.vroom_compat import (
    random_problem,
)
from postal.routing.vroom_format import plan_from_vroom, problem_from_vroom
from tests.routing.helpers import assert_ours_and_vrooms_plans_pass, solve_vroom_checked

# Place 0 is the depot; 1-3 are 100 s out and 50 s apart.
D = [[0, 100, 100, 100], [100, 0, 50, 50], [100, 50, 0, 50], [100, 50, 50, 0]]


def _problem(breaks: list[dict[str, Any]], **jobs: Any) -> dict[str, Any]:
    return {
        "vehicles": [
            {
                "id": 7,
                "start_index": 0,
                "end_index": 0,
                "capacity": [4],
                "time_window": [0, 5000],
                "breaks": breaks,
            }
        ],
        "jobs": jobs.get(
            "jobs",
            [
                {"id": 1, "location_index": 1, "service": 300, "delivery": [1]},
                {"id": 2, "location_index": 2, "service": 300, "delivery": [1]},
            ],
        ),
        "matrices": {"car": {"durations": D}},
    }


def _breaks(out: dict[str, Any]) -> list[dict[str, Any]]:
    (route,) = out["routes"]
    return [s for s in route["steps"] if s["type"] == "break"]


def test_every_break_is_taken_and_echoed_by_id() -> None:
    data = _problem(
        [
            {"id": 31, "time_windows": [[200, 400]], "service": 100, "description": "tea"},
            {"id": 32, "time_windows": [[900, 1200]], "service": 200, "description": "lunch"},
        ]
    )
    out = solve_vroom_checked(data)
    steps = _breaks(out)
    assert [(s["id"], s["description"], s["service"]) for s in steps] == [
        (31, "tea", 100),
        (32, "lunch", 200),
    ]
    starts = [s["arrival"] + s["waiting_time"] for s in steps]
    assert 200 <= starts[0] <= 400 and 900 <= starts[1] <= 1200
    (route,) = out["routes"]
    assert route["service"] == 600 + 100 + 200  # VROOM counts breaks' service too
    times = [s["arrival"] for s in route["steps"]]
    assert times == sorted(times)


def test_a_break_takes_its_second_window_when_the_first_cannot_be_met() -> None:
    # Job 1 must be served at [100, 150] and lasts 1,000 s: the first window [300, 400] falls
    # inside it, the break takes the second, [1500, 1600].
    jobs = [{"id": 1, "location_index": 1, "service": 1000, "time_windows": [[100, 150]]}]
    data = _problem(
        [{"id": 5, "time_windows": [[300, 400], [1500, 1600]], "service": 100}], jobs=jobs
    )
    out = solve_vroom_checked(data)
    assert out["unassigned"] == []
    (brk,) = _breaks(out)
    assert 1500 <= brk["arrival"] + brk["waiting_time"] <= 1600


def test_a_break_with_max_load_waits_until_the_load_is_down() -> None:
    # Two parcels on board from the start; the break allows at most one.
    data = _problem([{"id": 5, "time_windows": [[0, 4000]], "service": 100, "max_load": [1]}])
    out = solve_vroom_checked(data)
    (brk,) = _breaks(out)
    assert brk["load"][0] <= 1
    (route,) = out["routes"]
    assert route["steps"][0]["load"] == [2]


def test_a_break_that_cannot_end_in_the_shift_is_refused_with_its_path() -> None:
    data = _problem([{"id": 1, "time_windows": [[4950, 6000]], "service": 100}])
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "vehicles[0].breaks[0].time_windows"


def test_a_break_id_twice_in_a_vehicle_is_refused_with_its_path() -> None:
    data = _problem([{"id": 1, "service": 10}, {"id": 1, "service": 20}])
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "vehicles[0].breaks[1].id"


def test_the_checker_finds_a_missing_an_overlapping_and_an_overloaded_break() -> None:
    data = _problem(
        [
            {"id": 31, "time_windows": [[200, 400]], "service": 100},
            {"id": 32, "time_windows": [[250, 1200]], "service": 200, "max_load": [0]},
        ]
    )
    out = solve_vroom_checked(data)
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    good = plan_from_vroom(problem, ids, out)
    (route,) = good.routes

    def kinds(plan: Plan) -> list[str]:
        return [v.message for v in check_plan(problem, plan) if v.kind is ViolationKind.BREAK]

    assert kinds(good) == []
    missing = Plan(routes=(type(route)(**{**route.__dict__, "more_break_starts": ()}),))
    assert any("missing" in m for m in kinds(missing))
    first = route.break_starts[0]
    overlap = Plan(routes=(type(route)(**{**route.__dict__, "more_break_starts": (first + 50,)}),))
    assert any("before break 0 ends" in m for m in kinds(overlap))


@pytest.mark.parametrize("seed", [1, 3, 19, 26])
def test_random_problems_with_several_breaks_against_vroom(seed: int) -> None:
    problem = random_problem(seed, 30)
    assert "more_breaks" in problem["_features"]
    assert_ours_and_vrooms_plans_pass(problem, seed)


def test_breaks_are_taken_in_the_order_of_their_first_windows() -> None:
    # As VROOM sorts them: the tea break (given second) opens first, so it is taken first.
    data = _problem(
        [
            {"id": 32, "time_windows": [[900, 1200]], "service": 200, "description": "lunch"},
            {"id": 31, "time_windows": [[200, 400]], "service": 100, "description": "tea"},
        ]
    )
    out = solve_vroom_checked(data)
    assert [(s["id"], s["description"]) for s in _breaks(out)] == [(31, "tea"), (32, "lunch")]
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    assert ids.break_ids == ((31, 32),)
    assert [b.earliest_start for b in problem.couriers[0].breaks] == [200, 900]


@pytest.mark.parametrize("first", [0, 1])
def test_breaks_vroom_cannot_take_in_order_are_refused(first: int) -> None:
    # VROOM's "Inconsistent breaks": break A opens first, so it is taken first, and ends at
    # 100 at the earliest, after break B's window [50, 60] has closed (in either input order).
    breaks = [
        {"id": 1, "time_windows": [[0, 4000]], "service": 100},
        {"id": 2, "time_windows": [[50, 60]], "service": 100},
    ]
    data = _problem(breaks if first == 0 else breaks[::-1])
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    where_b = 1 if first == 0 else 0
    assert err.value.field == f"vehicles[0].breaks[{where_b}].time_windows"
    assert "order of their first windows" in err.value.detail
