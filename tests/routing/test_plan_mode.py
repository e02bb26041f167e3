"""VROOM's vehicle ``steps``: plan mode (ETAs and violations) and initial routes."""

from __future__ import annotations

import copy
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.routing.errors import MalformedInstance
from postal.routing.model import SolveParams
from postal.routing.plan_mode import choose_eta, initial_routes, initial_sequences
from postal.routing.prep import prepare
from postal.routing.schedule import route_cost
from postal.routing.solver import solve
from postal.routing.vroom_compat import violations as checker_violations
from postal.routing.vroom_format import problem_from_vroom
from tests.routing.helpers import dispatcher_headers

# --- VROOM's example_3 (docs/example_3.json), its matrices read from example_3_sol.json ------

T0 = 1600416000
# Locations: 0 the depot, then jobs 1..6 at index = id. Travel (s) and distance (m) of the
# legs example_3_sol.json drives (cumulated durations and distances, differenced).
LEGS = {
    (0, 1): (2328, 32355), (1, 2): (890, 14661), (2, 5): (1595, 21518), (5, 0): (1752, 27071),
    (0, 6): (2941, 62696), (6, 4): (3816, 69018), (4, 3): (1909, 22868), (3, 0): (3480, 62170),
}  # fmt: skip


def _matrix(pairs: dict[tuple[int, int], tuple[int, int]], n: int, k: int) -> list[list[int]]:
    out = [[0 if i == j else 99_999 for j in range(n)] for i in range(n)]
    for (i, j), value in pairs.items():
        out[i][j] = value[k]
    return out


EXAMPLE_3: dict[str, Any] = {
    "vehicles": [
        {
            "id": 1, "start_index": 0, "end_index": 0, "capacity": [4],
            "time_window": [T0, T0 + 10800],
            "steps": [{"type": "start"}, {"type": "job", "id": 1}, {"type": "job", "id": 2},
                      {"type": "job", "id": 5}, {"type": "end"}],
        },
        {
            "id": 2, "start_index": 0, "end_index": 0, "capacity": [4],
            "time_window": [T0, T0 + 10800],
            "steps": [{"type": "start", "service_after": T0 - 800}, {"type": "job", "id": 6},
                      {"type": "job", "id": 4}, {"type": "job", "id": 3}, {"type": "end"}],
        },
    ],
    "jobs": [
        {"id": 1, "delivery": [2], "service": 300, "location_index": 1},
        {"id": 2, "delivery": [2], "service": 300, "location_index": 2},
        {"id": 3, "delivery": [1], "service": 300, "location_index": 3,
         "time_windows": [[T0, T0 + 7200]]},
        {"id": 4, "delivery": [1], "service": 300, "location_index": 4,
         "time_windows": [[T0, T0 + 7200]]},
        {"id": 5, "delivery": [3], "service": 300, "location_index": 5},
        {"id": 6, "delivery": [1], "service": 300, "location_index": 6,
         "time_windows": [[T0, T0 + 7200]]},
    ],
    "matrices": {"car": {"durations": _matrix(LEGS, 7, 0), "distances": _matrix(LEGS, 7, 1)}},
}  # fmt: skip

# From example_3_sol.json: per vehicle, (type, id, arrival, duration, distance, load,
# violations) per step.
EXAMPLE_3_SOL = {
    1: [
        ("start", None, 1600416000, 0, 0, [7], [{"cause": "load"}]),
        ("job", 1, 1600418328, 2328, 32355, [5], [{"cause": "load"}]),
        ("job", 2, 1600419518, 3218, 47016, [3], []),
        ("job", 5, 1600421413, 4813, 68534, [0], []),
        ("end", None, 1600423465, 6565, 95605, [0], []),
    ],
    2: [
        ("start", None, 1600415200, 0, 0, [3], [{"cause": "lead_time", "duration": 800}]),
        ("job", 6, 1600418141, 2941, 62696, [2], []),
        ("job", 4, 1600422257, 6757, 131714, [1], []),
        ("job", 3, 1600424466, 8666, 154582, [0], [{"cause": "delay", "duration": 1266}]),
        ("end", None, 1600428246, 12146, 216752, [0], [{"cause": "delay", "duration": 1446}]),
    ],
}


def _causes(violations: list[dict[str, Any]]) -> set[tuple[str, int | None]]:
    return {(v["cause"], v.get("duration")) for v in violations}


def test_example_3_matches_vrooms_solution() -> None:
    out = choose_eta(copy.deepcopy(EXAMPLE_3))
    assert [r["vehicle"] for r in out["routes"]] == [1, 2]
    for route in out["routes"]:
        got = [
            (s["type"], s.get("id"), s["arrival"], s["duration"], s["distance"], s["load"],
             s["violations"])
            for s in route["steps"]
        ]  # fmt: skip
        assert got == EXAMPLE_3_SOL[route["vehicle"]]
    r1, r2 = out["routes"]
    assert (r1["cost"], r1["duration"], r1["service"]) == (6565, 6565, 900)
    assert (r2["cost"], r2["duration"], r2["waiting_time"]) == (12146, 12146, 0)
    assert r1["violations"] == [{"cause": "load"}]
    assert _causes(r2["violations"]) == {("delay", 2712), ("lead_time", 800)}
    summary = out["summary"]
    assert (summary["cost"], summary["routes"], summary["unassigned"]) == (18711, 2, 0)
    assert summary["delivery"] == [10]
    assert _causes(summary["violations"]) == {
        ("lead_time", 800), ("delay", 2712), ("load", None)
    }  # fmt: skip


# --- small problems, one rule at a time ------------------------------------------------------

D = [[0, 100, 100, 150], [100, 0, 50, 80], [100, 50, 0, 60], [150, 80, 60, 0]]


def _problem(steps: list[dict[str, Any]], **vehicle: Any) -> dict[str, Any]:
    return {
        "vehicles": [
            {"id": 7, "start_index": 0, "end_index": 0, "capacity": [4], **vehicle,
             "steps": steps},
        ],
        "jobs": [
            {"id": 1, "location_index": 1, "service": 60, "delivery": [1]},
            {"id": 2, "location_index": 2, "service": 30, "delivery": [1],
             "time_windows": [[0, 120]]},
        ],
        "shipments": [
            {"amount": [1], "pickup": {"id": 3, "location_index": 1},
             "delivery": {"id": 3, "location_index": 3}},
        ],
        "matrices": {"car": {"durations": D}},
    }  # fmt: skip


def _jobs(*ids: int) -> list[dict[str, Any]]:
    return [{"type": "job", "id": i} for i in ids]


def _route_causes(out: dict[str, Any]) -> set[str]:
    return {v["cause"] for v in out["routes"][0]["violations"]}


def test_a_late_step_is_a_delay_of_its_lateness() -> None:
    out = choose_eta(_problem(_jobs(1, 2)))
    job2 = out["routes"][0]["steps"][2]
    # 100 to job 1, 60 of service, 50 to job 2: it starts at 210, its window ends at 120.
    assert (job2["id"], job2["arrival"], job2["waiting_time"]) == (2, 210, 0)
    assert job2["violations"] == [{"cause": "delay", "duration": 90}]
    # Tasks left out of every route are unassigned.
    assert {(u["type"], u["id"]) for u in out["unassigned"]} == {("pickup", 3), ("delivery", 3)}
    assert out["summary"]["unassigned"] == 2


def test_waiting_at_a_window_start_is_no_violation() -> None:
    data = _problem(_jobs(2, 1))
    data["jobs"][1]["time_windows"] = [[300, 400]]
    out = choose_eta(data)
    job2 = out["routes"][0]["steps"][1]
    # Leaving at 0, arriving at 100: waiting 200 (or leaving later: the makespan is the same,
    # and VROOM leaves at the vehicle's start and waits on arrival).
    assert job2["arrival"] + job2["waiting_time"] == 300
    assert job2["violations"] == []
    assert out["summary"]["violations"] == []


def test_missing_break() -> None:
    data = _problem(_jobs(1), breaks=[{"id": 9, "service": 10}])
    out = choose_eta(data)
    assert _route_causes(out) == {"missing_break"}
    data["vehicles"][0]["steps"] = [*_jobs(1), {"type": "break", "id": 9}]
    out = choose_eta(data)
    assert _route_causes(out) == set()
    assert [s["type"] for s in out["routes"][0]["steps"]] == ["start", "job", "break", "end"]


def test_precedence_delivery_before_pickup() -> None:
    steps = [{"type": "delivery", "id": 3}, {"type": "pickup", "id": 3}]
    out = choose_eta(_problem(steps))
    by_type = {s["type"]: s for s in out["routes"][0]["steps"]}
    assert {"cause": "precedence"} in by_type["delivery"]["violations"]
    assert {"cause": "precedence"} in by_type["pickup"]["violations"]
    assert "precedence" in _route_causes(out)
    # A pickup without its delivery on the route.
    out = choose_eta(_problem([{"type": "pickup", "id": 3}]))
    assert out["routes"][0]["steps"][1]["violations"] == [{"cause": "precedence"}]


def test_skills() -> None:
    data = _problem(_jobs(1))
    data["jobs"][0]["skills"] = [5]
    out = choose_eta(data)
    assert out["routes"][0]["steps"][1]["violations"] == [{"cause": "skills"}]


def test_max_tasks_and_load() -> None:
    data = _problem(_jobs(1, 2), max_tasks=1, capacity=[1])
    out = choose_eta(data)
    steps = out["routes"][0]["steps"]
    assert {"cause": "load"} in steps[0]["violations"]  # two deliveries loaded, capacity 1
    assert {"cause": "max_tasks"} in steps[2]["violations"]
    assert {"cause": "max_tasks"} not in steps[1]["violations"]
    assert {"load", "max_tasks", "delay"} <= _route_causes(out)


def test_several_breaks_windows_and_amount_dimensions() -> None:
    data = _problem(
        [*_jobs(1), {"type": "break", "id": 8}, *_jobs(2), {"type": "break", "id": 9}],
        capacity=[4, 1],
        breaks=[
            {"id": 8, "service": 20, "time_windows": [[0, 10], [150, 170]], "max_load": [0, 0]},
            {"id": 9, "service": 20, "time_windows": [[0, 5]]},
        ],
    )
    data["jobs"][0].update(delivery=[1, 1], pickup=[0, 1])
    data["jobs"][1].update(delivery=[1, 0])
    data["shipments"][0]["amount"] = [1, 0]
    out = choose_eta(data)
    steps = out["routes"][0]["steps"]
    assert steps[0]["load"] == [2, 1]
    assert steps[1]["load"] == [1, 1]  # job 1 delivers (1, 1) and picks up (0, 1)
    brk = steps[2]
    # Job 1 ends at 160: the break's second window fits; its load is over its max_load.
    assert (brk["arrival"], brk["waiting_time"]) == (160, 0)
    assert brk["violations"] == [{"cause": "max_load"}]
    assert steps[4]["violations"][0]["cause"] == "delay"  # break 9 cannot start by 5
    assert out["routes"][0]["delivery"] == [2, 1]
    assert out["routes"][0]["pickup"] == [0, 1]


def test_a_jobs_deprecated_amount_is_its_delivery() -> None:
    data = _problem(_jobs(1, 2), capacity=[4, 1])
    for job, amount in zip(data["jobs"], ([1, 0], [3, 1]), strict=True):
        del job["delivery"]
        job["amount"] = amount
    data["shipments"][0]["amount"] = [0, 0]
    out = choose_eta(data)
    assert out["routes"][0]["steps"][0]["load"] == [4, 1]
    assert out["routes"][0]["delivery"] == [4, 1]


def test_each_vehicle_is_timed_by_its_own_profile() -> None:
    from tests.routing.test_vroom_api import PROFILES

    data = copy.deepcopy(PROFILES)
    data["vehicles"][0]["steps"] = [{"type": "job", "id": 2}]
    data["vehicles"][1]["steps"] = [{"type": "job", "id": 2}]
    data["vehicles"][1]["id"] = 5
    data["vehicles"].append(
        {**copy.deepcopy(PROFILES["vehicles"][1]), "steps": [{"type": "job", "id": 3}]}
    )
    del data["vehicles"][1]
    out = choose_eta(data)
    car, bike = out["routes"]
    # The car needs 400 s to job 2 (window ends at 150): late by 250. The bicycle's 900 s to
    # job 3 at twice the speed is 450 s (window ends at 300): late by 150.
    assert car["steps"][1]["violations"] == [{"cause": "delay", "duration": 250}]
    assert bike["steps"][1]["arrival"] == 450
    assert bike["steps"][1]["violations"] == [{"cause": "delay", "duration": 150}]
    assert (car["distance"], bike["distance"]) == (8000, 6000)


def test_costs() -> None:
    data = _problem(_jobs(1, 2))
    data["matrices"]["car"]["distances"] = [[x * 10 for x in row] for row in D]
    data["vehicles"][0]["costs"] = {"fixed": 1000, "per_hour": 7200, "per_km": 36,
                                    "per_task_hour": 360}  # fmt: skip
    out = choose_eta(data)
    route = out["routes"][0]
    # travel 250 s, distance 2,500 m, task time 90 s:
    # 1000 + round(250 * 2 + 2.5 * 36) + floor(90 * 360 / 3600) = 1000 + 590 + 9.
    assert (route["duration"], route["distance"]) == (250, 2500)
    assert route["cost"] == 1599


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["vehicles"][0]["steps"].append({"type": "job", "id": 99}),
         "vehicles[0].steps[2].id"),
        (lambda d: d["vehicles"][0]["steps"].append({"type": "job", "id": 1}),
         "vehicles[0].steps[2].id"),
        (lambda d: d["vehicles"][0]["steps"].append({"type": "break", "id": 1}),
         "vehicles[0].steps[2].id"),
        (lambda d: d["vehicles"][0]["steps"].append({"type": "lunch", "id": 1}),
         "vehicles[0].steps[2].type"),
        (lambda d: d["vehicles"][0]["steps"].insert(1, {"type": "start"}),
         "vehicles[0].steps[1].type"),
        (lambda d: d["vehicles"][0]["steps"].insert(0, {"type": "end"}),
         "vehicles[0].steps[0].type"),
        (lambda d: d["vehicles"][0]["steps"][0].update(service_at=-1),
         "vehicles[0].steps[0].service_at"),
        (lambda d: d["vehicles"][0]["steps"][0].update(arrival=3),
         "vehicles[0].steps[0].arrival"),
        # Job 2 cannot start before 210 (service_before is hard).
        (lambda d: d["vehicles"][0]["steps"][1].update(service_before=200),
         "vehicles[0].steps[1].service_before"),
        (lambda d: d["vehicles"][0]["steps"][0].update(service_at=50),
         "vehicles[0].steps[0].service_at"),
    ],
)  # fmt: skip
def test_malformed_or_infeasible_steps_are_422_naming_the_path(change: Any, field: str) -> None:
    data = _problem(_jobs(1, 2))
    change(data)
    with pytest.raises(MalformedInstance) as err:
        choose_eta(data)
    assert err.value.status == 422
    assert err.value.field == field, err.value.detail


def test_service_after_is_hard_and_service_at_pins_the_start() -> None:
    steps = [{"type": "job", "id": 1, "service_at": 500}, {"type": "job", "id": 2}]
    out = choose_eta(_problem(steps))
    job1, job2 = out["routes"][0]["steps"][1:3]
    assert job1["arrival"] + job1["waiting_time"] == 500
    assert job2["violations"] == [{"cause": "delay", "duration": 610 - 120}]


def test_a_plan_without_violations_passes_our_checker() -> None:
    data = _problem([{"type": "pickup", "id": 3}, *_jobs(2), {"type": "delivery", "id": 3}])
    data["jobs"][1]["time_windows"] = [[0, 1000]]
    data["vehicles"][0]["steps"].insert(1, {"type": "job", "id": 1})
    out = choose_eta(copy.deepcopy(data))
    assert out["summary"]["violations"] == []
    assert out["unassigned"] == []
    assert checker_violations(data, json.loads(json.dumps(out))) == []


# --- steps as initial routes (solving mode) ---------------------------------------------------


def test_a_valid_initial_route_is_a_start_no_worse_than_itself() -> None:
    data = _problem([{"type": "pickup", "id": 3}, {"type": "delivery", "id": 3}, *_jobs(1)])
    data["jobs"][1]["time_windows"] = [[0, 1000]]
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    routes = initial_routes(data, problem, ids)
    assert list(routes) == [0] and len(routes[0]) == 3
    initial = initial_sequences(routes, len(problem.couriers))
    plan = solve(problem, SolveParams(time_limit_s=1.0, workers=1, initial=initial))
    assert not plan.unassigned
    prep = prepare(problem)
    travel = sum(route_cost(prep, r.courier, [v.stop for v in r.visits], True) for r in plan.routes)
    assert travel <= route_cost(prep, 0, routes[0], True) + 2 * 100  # job 2 added: at most


@pytest.mark.parametrize(
    "steps",
    [
        [{"type": "delivery", "id": 3}, {"type": "pickup", "id": 3}],  # precedence
        [{"type": "pickup", "id": 3}],  # its delivery on no route
        [*({"type": "job", "id": i} for i in (1, 2))],  # job 2's window is missed
    ],
)
def test_an_invalid_initial_route_is_422_naming_the_vehicles_steps(
    steps: list[dict[str, Any]],
) -> None:
    data = _problem(steps)
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    with pytest.raises(MalformedInstance) as err:
        initial_routes(data, problem, ids)
    assert err.value.field == "vehicles[0].steps"


# --- the API ----------------------------------------------------------------------------------


def test_post_optimise_plan_answers_violations(client: TestClient, session: Session) -> None:
    headers = dispatcher_headers(client, session)
    r = client.post("/api/v1/optimise/plan", json=_problem(_jobs(1, 2)), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["routes"][0]["steps"][2]["violations"] == [{"cause": "delay", "duration": 90}]
    bad = _problem([{"type": "job", "id": 42}])
    r = client.post("/api/v1/optimise/plan", json=bad, headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "vehicles[0].steps[0].id"
    r = client.post("/api/v1/optimise/plan", json=_problem(_jobs(1)))
    assert r.status_code == 401


# --- against VROOM's own plan mode (pyvroom's Input.check) ------------------------------------


def random_plan(seed: int) -> dict[str, Any]:
    """A random VROOM input with steps: several breaks and windows, two amount dimensions,
    jobs with delivery and pickup, shipments, skills and limits; some tasks left out."""
    rng = random.Random(seed)
    n = 12
    pts = [(rng.randint(0, 60), rng.randint(0, 60)) for _ in range(n)]
    dur = [[abs(a[0] - b[0]) * 10 + abs(a[1] - b[1]) * 10 for b in pts] for a in pts]
    dist = [[x * 7 for x in row] for row in dur]
    jobs = []
    for i in range(1, 8):
        job: dict[str, Any] = {
            "id": i, "location_index": i, "service": rng.choice([0, 60, 120]),
            "setup": rng.choice([0, 0, 30]), "delivery": [rng.randint(0, 2), rng.randint(0, 1)],
        }  # fmt: skip
        if rng.random() < 0.4:
            job["pickup"] = [rng.randint(0, 2), 0]
        if rng.random() < 0.6:
            lo = rng.randint(0, 1500)
            job["time_windows"] = [[lo, lo + 300]] + ([[lo + 900, lo + 1200]] * (i % 2))
        if rng.random() < 0.2:
            job["skills"] = [1]
        jobs.append(job)
    shipments = [
        {"amount": [1, 1], "pickup": {"id": 20 + k, "location_index": 8 + k, "service": 30},
         "delivery": {"id": 20 + k, "location_index": 10 + k, "service": 30,
                      "time_windows": [[rng.randint(0, 1000), 3000]]}}
        for k in range(2)
    ]  # fmt: skip
    vehicles = []
    tasks = [("job", j["id"]) for j in jobs] + [
        (kind, 20 + k) for k in range(2) for kind in ("pickup", "delivery")
    ]
    rng.shuffle(tasks)
    for v in range(2):
        mine = tasks[v * 5 : v * 5 + 5]
        steps: list[dict[str, Any]] = [{"type": t, "id": i} for t, i in mine]
        breaks = [
            {"id": 1, "service": 100, "time_windows": [[300, 500], [900, 1100]],
             "max_load": [3, 2]},
            {"id": 2, "service": 50, "time_windows": [[1500, 1800]]},
        ]  # fmt: skip
        for b in breaks[: rng.randint(1, 2)]:
            steps.insert(rng.randint(0, len(steps)), {"type": "break", "id": b["id"]})
        vehicle: dict[str, Any] = {
            "id": v + 1, "start_index": 0, "end_index": 0 if v == 0 else 11,
            "capacity": [4, 2], "time_window": [rng.randint(0, 200), 2800], "breaks": breaks,
            "skills": [1] if v == 0 else [], "max_tasks": 4, "steps": steps,
        }  # fmt: skip
        if v == 1:
            vehicle["max_travel_time"] = 1200
            vehicle["max_distance"] = 9000
            vehicle["costs"] = {"fixed": 50, "per_hour": 3000, "per_km": 10,
                                "per_task_hour": 100}  # fmt: skip
        vehicles.append(vehicle)
    return {
        "vehicles": vehicles, "jobs": jobs, "shipments": shipments,
        "matrices": {"car": {"durations": dur, "distances": dist}},
    }  # fmt: skip


def _vroom_check(data: dict[str, Any]) -> dict[str, Any]:
    vroom = pytest.importorskip("vroom")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        out: dict[str, Any] = vroom.Input.from_json(path).check(1).to_dict()
        return out


def _comparable(out: dict[str, Any]) -> dict[str, Any]:
    routes = {}
    # pyvroom writes no distances (ours are checked against example_3 and by max_distance).
    for r in out["routes"]:
        routes[r["vehicle"]] = {
            "totals": {k: r[k] for k in ("cost", "duration", "setup", "service", "waiting_time",
                                         "delivery", "pickup", "priority")},
            "violations": _causes(r["violations"]),
            "steps": [
                (s["type"], s.get("id"), s["arrival"], s["waiting_time"], s["duration"],
                 s["load"], s["setup"], frozenset(_causes(s["violations"])))
                for s in r["steps"]
            ],
        }  # fmt: skip
    unassigned = sorted((u["type"], u["id"]) for u in out["unassigned"])
    return {"routes": routes, "unassigned": unassigned}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_plan_mode_matches_pyvroom(seed: int) -> None:
    data = random_plan(seed)
    theirs = _vroom_check(copy.deepcopy(data))
    ours = choose_eta(copy.deepcopy(data))
    assert _comparable(ours) == _comparable(theirs)


@pytest.mark.parametrize("seed", [1, 2, 3, 8, 20, 29])
def test_plan_mode_matches_pyvroom_with_hard_times_and_open_routes(seed: int) -> None:
    """service_* on a step (VROOM's bounds around breaks included), no time_window, no start
    or no end; where VROOM refuses the route, so do we."""
    rng = random.Random(seed * 7)
    data = random_plan(seed)
    vehicle = data["vehicles"][rng.randint(0, 1)]
    if seed % 4 < 3:
        vehicle.pop(("time_window", "end_index", "start_index")[seed % 4])
    step = vehicle["steps"][rng.randint(0, len(vehicle["steps"]) - 1)]
    step[rng.choice(["service_after", "service_before", "service_at"])] = rng.randint(0, 3000)
    try:
        theirs = _vroom_check(copy.deepcopy(data))
    except Exception:  # VROOM: "Infeasible route for vehicle"
        with pytest.raises(MalformedInstance):
            choose_eta(copy.deepcopy(data))
        return
    assert _comparable(choose_eta(copy.deepcopy(data))) == _comparable(theirs)


# --- the CLI and the worker's parameters ------------------------------------------------------


def test_postal_solve_plan_and_initial_routes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from postal.routing.cli import solve_app

    src, dst = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(_problem(_jobs(1, 2))), encoding="utf-8")
    result = CliRunner().invoke(solve_app, [str(src), "--plan", "--out", str(dst)])
    assert result.exit_code == 0, result.output
    out = json.loads(dst.read_text(encoding="utf-8"))
    assert out["routes"][0]["steps"][2]["violations"] == [{"cause": "delay", "duration": 90}]
    # Without --plan the steps are the route the search starts from: job 2 first is valid.
    src.write_text(json.dumps(_problem(_jobs(2, 1))), encoding="utf-8")
    result = CliRunner().invoke(solve_app, [str(src), "--time-limit", "1", "--out", str(dst)])
    assert result.exit_code == 0, result.output
    assert json.loads(dst.read_text(encoding="utf-8"))["summary"]["violations"] == []
    # An invalid one is refused, naming the vehicle's steps.
    src.write_text(json.dumps(_problem(_jobs(1, 2))), encoding="utf-8")
    result = CliRunner().invoke(solve_app, [str(src), "--time-limit", "1"])
    assert result.exit_code == 2
    assert "vehicles[0].steps" in result.output


def test_the_worker_starts_from_the_steps(engine: Any, settings: Any, session: Session) -> None:
    from postal.optimise import service

    data = _problem(_jobs(2, 1))
    job = service.submit(session, settings, "user:1", data, 1.0, 0)
    session.commit()
    params = service.params(engine, settings, job.id)
    problem, _ids = service.parse(settings, data)
    assert [[problem.stops[s].id for s in seq] for seq in params.initial] == [["job:2", "job:1"]]
    with pytest.raises(MalformedInstance):
        service.parse(settings, _problem(_jobs(1, 2)))
