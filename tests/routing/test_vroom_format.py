"""VROOM's input and output formats: a round trip through solve and the checker."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postal.routing.checker import check_plan
from postal.routing.cli import solve_app
from postal.routing.errors import MalformedInstance
from postal.routing.model import SolveParams, UnassignedReason
from postal.routing.solver import solve
from postal.routing.vroom_format import (
    haversine_matrices,
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
)

M = [
    [0, 600, 900, 1200, 5000],
    [600, 0, 300, 700, 5000],
    [900, 300, 0, 400, 5000],
    [1200, 700, 400, 0, 5000],
    [5000, 5000, 5000, 5000, 0],
]

INPUT: dict[str, Any] = {
    "vehicles": [
        {
            "id": 7,
            "start_index": 0,
            "end_index": 0,
            "capacity": [4],
            "time_window": [28800, 61200],
            "breaks": [{"id": 1, "time_windows": [[39600, 45000]], "service": 1800}],
        },
        {"id": 8, "start_index": 0, "end_index": 0, "capacity": [4], "time_window": [28800, 61200]},
    ],
    "jobs": [
        {
            "id": 101,
            "location_index": 1,
            "service": 120,
            "delivery": [1],
            "time_windows": [[28800, 30000], [46800, 50400]],
        },
        {"id": 102, "location_index": 2, "service": 60, "pickup": [1], "priority": 10},
        {
            "id": 103,
            "location_index": 4,
            "service": 60,
            "delivery": [1],
            "time_windows": [[0, 100]],
        },
    ],
    "shipments": [
        {
            "amount": [2],
            "pickup": {"id": 201, "location_index": 3, "service": 30},
            "delivery": {
                "id": 202,
                "location_index": 1,
                "service": 30,
                "time_windows": [[30000, 40000]],
            },
        }
    ],
    "matrices": {"car": {"durations": M, "distances": [[10 * v for v in row] for row in M]}},
}


def test_round_trip_through_solve_and_checker() -> None:
    problem, ids = problem_from_vroom(copy.deepcopy(INPUT))
    plan = solve(problem, SolveParams(time_limit_s=1.0, workers=1))
    out = json.loads(json.dumps(plan_to_vroom(problem, ids, plan)))
    assert out["code"] == 0
    assert out["summary"]["routes"] == len(out["routes"]) == plan.couriers_used
    served = {(s["type"], s.get("id")) for r in out["routes"] for s in r["steps"]}
    assert {("job", 101), ("job", 102), ("pickup", 201), ("delivery", 202)} <= served
    assert out["unassigned"] == [
        {"id": 103, "type": "job", "location_index": 4, "reason": "window_passed"}
    ]
    for route in out["routes"]:
        assert route["steps"][0]["type"] == "start" and route["steps"][-1]["type"] == "end"
        arrivals = [s["arrival"] for s in route["steps"]]
        assert arrivals == sorted(arrivals)
    back = plan_from_vroom(problem, ids, out)
    assert check_plan(problem, back) == []
    assert back.distance == plan.distance
    assert [[v.stop for v in r.visits] for r in back.routes] == [
        [v.stop for v in r.visits] for r in plan.routes
    ]
    assert {u.reason for u in back.unassigned} == {UnassignedReason.WINDOW_PASSED}


def test_breaks_and_windows_are_read() -> None:
    problem, ids = problem_from_vroom(copy.deepcopy(INPUT))
    brk = problem.couriers[0].break_
    assert brk is not None and (brk.earliest_start, brk.latest_start, brk.duration) == (
        39600,
        45000,
        1800,
    )
    assert problem.stops[0].windows == ((28800, 30000), (46800, 50400))
    assert ids.vehicle_ids == (7, 8)
    assert ids.stop_types == ("job", "job", "job", "pickup", "delivery")
    assert problem.stops[3].pair == problem.stops[4].pair is not None


def test_coordinates_use_the_matrix_function() -> None:
    data = {
        "vehicles": [{"id": 1, "start": [105.85, 21.03], "end": [105.85, 21.03]}],
        "jobs": [{"id": 5, "location": [105.86, 21.03], "service": 60}],
    }
    problem, ids = problem_from_vroom(data, haversine_matrices(1.0, 36.0))
    # 0.01 degree of longitude at 21.03 N is about 1,038 m; at 10 m/s about 104 s.
    assert 1030 <= problem.distances[0, 1] <= 1045
    assert 103 <= problem.durations[0, 1] <= 105
    plan = solve(problem, SolveParams(time_limit_s=0.5, workers=1))
    out = plan_to_vroom(problem, ids, plan)
    assert out["routes"][0]["steps"][1]["location"] == [105.86, 21.03]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["jobs"][0].update(delivery=[1, 2]), "same dimensions"),
        (lambda d: d["jobs"][0].update(location_index=9), "outside"),
        (lambda d: d["vehicles"][0]["breaks"][0].update(id="x"), "must be an integer"),
        (lambda d: d.update(vehicles=[]), "at least one vehicle"),
    ],
    ids=["amounts", "index", "breaks", "vehicles"],
)
def test_unsupported_input_is_an_error(change: Any, words: str) -> None:
    data = copy.deepcopy(INPUT)
    change(data)
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert words in err.value.detail


def test_solve_command_writes_vroom_output(tmp_path: Path) -> None:
    src = tmp_path / "problem.json"
    src.write_text(json.dumps(INPUT), encoding="utf-8")
    dst = tmp_path / "plan.json"
    result = CliRunner().invoke(solve_app, [str(src), "--time-limit", "1", "--out", str(dst)])
    assert result.exit_code == 0, result.output
    out = json.loads(dst.read_text(encoding="utf-8"))
    assert out["summary"]["unassigned"] == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"vehicles": []}', encoding="utf-8")
    result = CliRunner().invoke(solve_app, [str(bad), "--out", str(dst)])
    assert result.exit_code == 2
