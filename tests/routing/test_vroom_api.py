"""VROOM's API, key by key: each honoured (with the checker) or refused with its JSON path."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.routing.checker import ViolationKind, check_plan
from postal.routing.errors import MalformedInstance
from postal.routing.model import Plan, SolveParams, UnassignedReason
from postal.routing.solver import solve
from postal.routing.vroom_format import (
    INVENTORY,
    REFUSED,
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
)
from tests.routing.helpers import dispatcher_headers

D = [[0, 100, 100], [100, 0, 50], [100, 50, 0]]

BASE: dict[str, Any] = {
    "vehicles": [
        {
            "id": 7,
            "start_index": 0,
            "end_index": 0,
            "capacity": [4],
            "time_window": [0, 10000],
            "breaks": [{"id": 1, "time_windows": [[5000, 6000]], "service": 100}],
        }
    ],
    "jobs": [{"id": 1, "location_index": 1, "service": 60, "delivery": [1]}],
    "shipments": [
        {
            "amount": [1],
            "pickup": {"id": 2, "location_index": 1},
            "delivery": {"id": 2, "location_index": 2},
        }
    ],
    "matrices": {"car": {"durations": D}},
}


def _solve(data: dict[str, Any], engine: str = "ours") -> tuple[Any, Any, Plan, dict[str, Any]]:
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    plan = solve(problem, SolveParams(time_limit_s=1.0, workers=1, engine=engine))
    out = json.loads(json.dumps(plan_to_vroom(problem, ids, plan)))
    # What we write, read back and checked by the independent checker.
    assert check_plan(problem, plan_from_vroom(problem, ids, out)) == []
    return problem, ids, plan, out


def _set(path: str, value: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        *head, last = path.split(".")
        obj: Any = d
        for part in head:
            name, _, idx = part.partition("[")
            obj = obj[name]
            if idx:
                obj = obj[int(idx[:-1])]
        obj[last] = value

    return change


# --- 1. the inventory: every key honoured or refused with its path -----------------------------


def _by_coordinates_two_profiles(d: dict[str, Any]) -> None:
    """Coordinates instead of matrices, and a second profile: refused."""
    del d["matrices"]
    for obj in (
        *d["vehicles"],
        *d["jobs"],
        d["shipments"][0]["pickup"],
        d["shipments"][0]["delivery"],
    ):
        for key in ("start_index", "end_index", "location_index"):
            if key in obj:
                obj[key.removesuffix("_index") if key != "location_index" else "location"] = [
                    105.8 + obj.pop(key) / 100,
                    21.0,
                ]
    d["vehicles"].append({**d["vehicles"][0], "id": 8, "profile": "bike"})


REFUSALS = [
    ("vehicles[1].profile", _by_coordinates_two_profiles, "vehicles.profile"),
    ("jobs[0].amount", _set("jobs[0].amount", [1]), "jobs.amount"),
]


@pytest.mark.parametrize(("path", "change", "rule"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refused_key_is_named_by_its_path(path: str, change: Any, rule: str) -> None:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.status == 422
    assert err.value.field == path
    assert err.value.code == "vroom_unsupported"
    assert err.value.detail == f"{path}: {REFUSED[rule]}"


def test_every_refusal_rule_is_tested() -> None:
    assert {r[2] for r in REFUSALS} == set(REFUSED)


@pytest.mark.parametrize(
    "path",
    [
        "input.options",
        "vehicles[0].time_windows",  # a job's key on a vehicle: VROOM would drop it silently
        "vehicles[0].breaks[0].time_window",
        "vehicles[0].costs.per_mile",
        "jobs[0].time_window",
        "shipments[0].priorty",
        "shipments[0].pickup.amount",
        "matrices.car.duration",
    ],
)
def test_unknown_keys_are_refused_too(path: str) -> None:
    data = copy.deepcopy(BASE)
    if path.startswith("input."):
        data[path.split(".")[1]] = {"g": True}
    elif path.startswith("vehicles[0].costs"):
        data["vehicles"][0]["costs"] = {"per_mile": 1}
    else:
        _set(path, 1)(data)
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == path
    assert err.value.code == "vroom_unknown_key"


def test_default_costs_type_and_descriptions_are_accepted() -> None:
    data = copy.deepcopy(BASE)
    data["vehicles"][0].update(
        costs={"fixed": 0, "per_hour": 3600, "per_km": 0}, type="van", description="Van 7"
    )
    data["jobs"][0]["description"] = "Phố Huế 12"
    data["vehicles"][0]["breaks"][0]["description"] = "lunch"
    _, _, _, out = _solve(data)
    route = out["routes"][0]
    assert route["description"] == "Van 7"
    steps = {s["type"]: s for s in route["steps"]}
    assert steps["job"]["description"] == "Phố Huế 12"
    assert steps["break"]["description"] == "lunch"


def test_a_jobs_deprecated_amount_is_its_delivery_as_in_vroom() -> None:
    """VROOM reads a job's ``amount`` as its delivery when it gives neither delivery nor
    pickup: deliveries ride from the start, so two of 3 do not fit one vehicle of 4."""
    import tempfile

    import vroom

    data: dict[str, Any] = {
        "vehicles": [{"id": 1, "start_index": 0, "end_index": 0, "capacity": [4]}],
        "jobs": [
            {"id": 1, "location_index": 1, "amount": [3]},
            {"id": 2, "location_index": 2, "amount": [3]},
            {"id": 3, "location_index": 2, "pickup": [4]},
        ],
        "matrices": {"car": {"durations": D}},
    }
    out = _solve(data)[3]
    assert out["summary"]["unassigned"] == 1
    served = {s["id"] for r in out["routes"] for s in r["steps"] if s["type"] == "job"}
    assert len(served & {1, 2}) == 1 and 3 in served  # 3 picked up after the delivery
    assert out["summary"]["delivery"] == [3]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(data, f)
        f.flush()
        theirs = vroom.Input.from_json(f.name).solve(exploration_level=5, nb_threads=1)
    assert theirs.summary.unassigned == out["summary"]["unassigned"]
    # Beside delivery or pickup VROOM skips it: refused, never silently lost.
    for key in ("delivery", "pickup"):
        bad = copy.deepcopy(data)
        bad["jobs"][1][key] = [1]
        with pytest.raises(MalformedInstance) as err:
            problem_from_vroom(bad)
        assert err.value.field == "jobs[1].amount"


PROFILES: dict[str, Any] = {
    # A car on the ring road, a bicycle through the old quarter: the bicycle alone reaches
    # job 2 in its window (the car needs 400 s), the car alone job 3 (the bicycle 900 s).
    "vehicles": [
        {"id": 1, "profile": "car", "start_index": 0, "end_index": 0, "time_window": [0, 5000]},
        {"id": 2, "profile": "bike", "start_index": 0, "end_index": 0, "time_window": [0, 5000],
         "speed_factor": 2},
    ],
    "jobs": [
        {"id": 2, "location_index": 1, "time_windows": [[0, 150]]},
        {"id": 3, "location_index": 2, "time_windows": [[0, 300]]},
    ],
    "matrices": {
        "car": {"durations": [[0, 400, 200], [400, 0, 500], [200, 500, 0]],
                "distances": [[0, 4000, 2000], [4000, 0, 5000], [2000, 5000, 0]]},
        "bike": {"durations": [[0, 200, 900], [200, 0, 900], [900, 900, 0]],
                 "distances": [[0, 1000, 3000], [1000, 0, 3000], [3000, 3000, 0]]},
    },
}  # fmt: skip


@pytest.mark.parametrize("engine", ["ours", "vroom", "pyvrp", "ortools"])
def test_each_vehicle_travels_by_its_own_profile(engine: str) -> None:
    problem, _, plan, out = _solve(PROFILES, engine)
    assert out["summary"]["unassigned"] == 0
    served = {
        r["vehicle"]: [s["id"] for s in r["steps"] if s["type"] == "job"] for r in out["routes"]
    }
    assert served == {1: [3], 2: [2]}
    car, bike = sorted(out["routes"], key=lambda r: r["vehicle"])
    assert (car["duration"], car["distance"]) == (400, 4000)
    # The bicycle's matrix at its speed factor: 200 s -> 100 s each way.
    assert (bike["duration"], bike["distance"]) == (200, 2000)
    assert bike["steps"][1]["arrival"] == 100
    # The checker reads each courier's profile: the bicycle's route, timed as the bicycle
    # rides it, is too quick for the car.
    by_bike = next(r for r in plan.routes if r.courier == 1)
    kinds = {
        v.kind for v in check_plan(problem, replace(plan, routes=(replace(by_bike, courier=0),)))
    }
    assert ViolationKind.TRAVEL_TIME in kinds


def test_profiles_match_vroom_and_are_checked() -> None:
    import tempfile

    import vroom

    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(PROFILES, f)
        f.flush()
        theirs = vroom.Input.from_json(f.name).solve(exploration_level=5, nb_threads=1)
    assert theirs.summary.unassigned == 0
    bad = copy.deepcopy(PROFILES)
    bad["matrices"]["bike"]["durations"] = [[0, 1], [1, 0]]
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(bad)
    assert err.value.field == "matrices.bike.durations"
    bad = copy.deepcopy(PROFILES)
    bad["vehicles"][1]["profile"] = "truck"
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(bad)
    assert err.value.field == "vehicles[1].profile"


def test_the_inventory_lists_every_key_of_vroom_input() -> None:
    """The keys of VROOM's docs/API.md (1.14), per object: read, or refused by a rule."""
    documented = {
        "input": {"jobs", "shipments", "vehicles", "matrices", "matrix"},
        "vehicles[]": {
            "id", "profile", "description", "start", "start_index", "end", "end_index",
            "capacity", "costs", "skills", "type", "time_window", "breaks", "speed_factor",
            "max_tasks", "max_travel_time", "max_distance", "steps",
        },
        "vehicles[].breaks[]": {"id", "time_windows", "service", "description", "max_load"},
        "jobs[]": {
            "id", "description", "location", "location_index", "setup", "service",
            "setup_per_type", "service_per_type", "amount", "delivery", "pickup", "skills",
            "priority", "time_windows",
        },
        "shipments[]": {"pickup", "delivery", "amount", "skills", "priority"},
    }  # fmt: skip
    refused_keys = {rule.split(".")[-1] for rule in REFUSED}
    for obj, keys in documented.items():
        assert keys <= set(INVENTORY[obj]) | refused_keys, obj


def test_duplicate_ids_and_bad_values_are_refused_with_their_path() -> None:
    cases = [
        (lambda d: d["jobs"].append({"id": 1, "location_index": 2}), "jobs[1].id"),
        (lambda d: d["vehicles"].append({**d["vehicles"][0]}), "vehicles[1].id"),
        (_set("jobs[0].priority", 101), "jobs[0].priority"),
        (_set("jobs[0].setup", -5), "jobs[0].setup"),
        (_set("vehicles[0].speed_factor", 6), "vehicles[0].speed_factor"),
        (_set("shipments[0].pickup.time_windows", [[9, 1]]), "shipments[0].pickup.time_windows[0]"),
        # Never a silently shortened problem: an index outside the matrix, a limit of another
        # number of dimensions, a break that cannot end in the shift, a negative amount.
        (_set("jobs[0].location_index", 3), "jobs[0].location_index"),
        (_set("vehicles[0].end_index", 9), "vehicles[0].end_index"),
        (_set("vehicles[0].breaks[0].max_load", [1, 2]), "vehicles[0].breaks[0].max_load"),
        (_set("vehicles[0].time_window", [0, 50]), "vehicles[0].breaks[0].time_windows"),
        (_set("jobs[0].delivery", [-1]), "jobs[0].delivery[0]"),
    ]
    for change, path in cases:
        data = copy.deepcopy(BASE)
        change(data)
        with pytest.raises(MalformedInstance) as err:
            problem_from_vroom(data)
        assert err.value.field == path, (path, err.value.detail)


def test_the_api_answers_422_with_the_json_path(client: TestClient, session: Session) -> None:
    headers = dispatcher_headers(client, session)
    data = copy.deepcopy(BASE)
    data["jobs"][0]["amount"] = [1]
    r = client.post(
        "/api/v1/optimise",
        params={"time_limit_s": 1, "lang": "en"},
        json=data,
        headers=headers,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "vroom_unsupported"
    assert body["errors"][0]["field"] == "jobs[0].amount"
    assert "deprecated" in body["detail"]


# --- 2. setup ----------------------------------------------------------------------------------

SETUP: dict[str, Any] = {
    "vehicles": [{"id": 3, "start_index": 0, "end_index": 0, "time_window": [0, 10000]}],
    "jobs": [
        {"id": 1, "location_index": 1, "setup": 300, "service": 60, "time_windows": [[0, 150]]},
        {"id": 2, "location_index": 1, "setup": 300, "service": 60},
        {"id": 3, "location_index": 2, "time_windows": [[560, 600]]},
    ],
    "matrices": {"car": {"durations": D}},
}
"""Job 1 must come first (window), job 2 shares its place. Only 1, 2, 3 (travel 250) has job 2
without setup, which lets job 3 start at 570 inside [560, 600]; 1, 3, 2 travels 300; every
order starting with 2 or 3 misses job 1's window."""


@pytest.mark.parametrize("engine", ["ours", "ortools", "vroom"])
def test_setup_is_spent_on_arriving_from_another_place(engine: str) -> None:
    _, _, _, out = _solve(SETUP, engine)
    (route,) = out["routes"]
    keys = ("type", "id", "arrival", "setup", "waiting_time")
    steps = [tuple(s.get(k) for k in keys) for s in route["steps"]]
    assert steps == [
        ("start", None, 0, 0, 0),
        ("job", 1, 100, 300, 0),  # from the depot: setup, then service until 460
        ("job", 2, 460, 0, 0),  # same place: service only, until 520
        ("job", 3, 570, 0, 0),
        ("end", None, 670, 0, 0),
    ]
    assert (route["setup"], route["service"], route["duration"], route["cost"]) == (
        300,
        120,
        250,
        250,
    )
    assert out["summary"]["setup"] == 300 and out["summary"]["cost"] == 250
    assert "distance" not in out["summary"]  # durations only: VROOM reports no distance


def test_the_checker_counts_setup() -> None:
    problem, _, plan, _ = _solve(SETUP)
    # The plan: every setup reported as 0, times shifted to match.
    route = plan.routes[0]
    wrong = [replace(v, departure=v.start + problem.stops[v.stop].service) for v in route.visits]
    bad = Plan(routes=(replace(route, visits=tuple(wrong)),))
    kinds = {v.kind for v in check_plan(problem, bad)}
    assert ViolationKind.SERVICE_TIME in kinds
    # Setup counted at the same place too: job 2 would leave at 820, job 3 can no longer
    # start in its window at 870.
    assert route.visits[1].departure == 520
    late = list(route.visits)
    late[2] = replace(late[2], arrival=870, start=870, departure=870)
    assert {v.kind for v in check_plan(problem, Plan((replace(route, visits=tuple(late)),)))} >= {
        ViolationKind.TIME_WINDOW
    }


# --- 3. breaks ---------------------------------------------------------------------------------


def test_break_ids_are_echoed_exactly() -> None:
    data = copy.deepcopy(BASE)
    data["vehicles"][0]["breaks"][0]["id"] = 1
    _, _, _, out = _solve(data)
    (route,) = out["routes"]
    assert route["vehicle"] == 7
    assert [s["id"] for s in route["steps"] if s["type"] == "break"] == [1]


# --- 4. output fields as VROOM computes them ---------------------------------------------------


def test_route_and_summary_fields_are_hand_computed() -> None:
    data: dict[str, Any] = {
        "vehicles": [{"id": 1, "start_index": 0, "end_index": 0, "time_window": [0, 1000]}],
        "jobs": [
            {"id": 10, "location_index": 1, "service": 20, "priority": 5,
             "time_windows": [[150, 200]]},
            {"id": 11, "location_index": 2, "setup": 7, "service": 30, "priority": 2},
            {"id": 12, "location_index": 2, "service": 10, "time_windows": [[0, 5]]},
        ],
        "matrices": {"car": {"durations": D, "distances": [[10 * x for x in r] for r in D]}},
    }  # fmt: skip
    _, _, _, out = _solve(data)
    (route,) = out["routes"]
    # 0 -> 1 (arrive 100, wait 50, serve 150-170) -> 2 (arrive 220, setup 7, serve until 257)
    # -> 0 (back at 357), or the mirror 0 -> 2 -> 1 -> 0: same travel 250, same totals.
    assert route["duration"] == route["cost"] == 250
    assert route["distance"] == 2500
    assert route["service"] == 50 and route["setup"] == 7 and route["priority"] == 7
    assert route["violations"] == [] and all(s["violations"] == [] for s in route["steps"])
    summary = out["summary"]
    assert summary["unassigned"] == 1 and out["unassigned"][0]["id"] == 12
    for key in ("cost", "setup", "service", "duration", "waiting_time", "priority", "distance"):
        assert summary[key] == route[key], key
    assert set(summary["computing_times"]) == {"loading", "solving", "routing"}
    waits = sum(s["waiting_time"] for s in route["steps"])
    assert route["waiting_time"] == waits
    steps = route["steps"]
    assert steps[-1]["distance"] == 2500 and steps[-1]["duration"] == 250


# --- 5. skills and open routes -----------------------------------------------------------------


def test_skills_choose_the_vehicle() -> None:
    data = copy.deepcopy(BASE)
    data["vehicles"].append({**data["vehicles"][0], "id": 8, "skills": [1, 2], "breaks": []})
    data["jobs"] = [
        {"id": 1, "location_index": 1, "skills": [2]},
        {"id": 4, "location_index": 2, "skills": [3]},
    ]
    data["shipments"] = []
    problem, _, plan, out = _solve(data)
    assert [(r["vehicle"], [s.get("id") for s in r["steps"]]) for r in out["routes"]] == [
        (8, [None, 1, None])
    ]
    assert [(u["id"], u["reason"]) for u in out["unassigned"]] == [(4, "no_courier")]
    assert plan.unassigned[0].reason is UnassignedReason.NO_COURIER
    # The checker refuses job 1 on vehicle 7, which lacks skill 2.
    moved = Plan(routes=(replace(plan.routes[0], courier=0),), unassigned=plan.unassigned)
    assert ViolationKind.SKILLS in {v.kind for v in check_plan(problem, moved)}


def test_a_vehicle_without_an_end_stops_at_its_last_task() -> None:
    data: dict[str, Any] = {
        "vehicles": [{"id": 1, "start_index": 0}],
        "jobs": [{"id": 5, "location_index": 2, "service": 10}],
        "matrices": {"car": {"durations": D}},
    }
    _, _, _, out = _solve(data)
    (route,) = out["routes"]
    end = route["steps"][-1]
    assert end["type"] == "end" and end["location_index"] == 2 and end["arrival"] == 110
    assert route["duration"] == 100
