"""VROOM's vehicle ``type`` with tasks' ``setup_per_type`` and ``service_per_type``: each
vehicle spends its type's times, in the plan, the output, the checker and plan mode."""

from __future__ import annotations

from typing import Any

import pytest

from postal.routing.errors import MalformedInstance
from postal.routing.plan_mode import choose_eta
from postal.routing.vroom_compat import random_problem
from postal.routing.vroom_format import problem_from_vroom
from tests.routing.helpers import assert_ours_and_vrooms_plans_pass, solve_vroom_checked

D = [[0, 100, 100], [100, 0, 50], [100, 50, 0]]


def _vehicle(vid: int, vtype: str) -> dict[str, Any]:
    return {"id": vid, "type": vtype, "start_index": 0, "end_index": 0, "time_window": [0, 10_000]}


def _job(**extra: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "location_index": 1,
        "setup": 100,
        "service": 600,
        "setup_per_type": {"bike": 10},
        "service_per_type": {"bike": 60},
        **extra,
    }


def _step(out: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    (route,) = out["routes"]
    (job,) = [s for s in route["steps"] if s["type"] == "job"]
    return route["vehicle"], job


def test_each_type_spends_its_own_times() -> None:
    for vtype, setup, service in (("bike", 10, 60), ("van", 100, 600)):
        out = solve_vroom_checked(
            {
                "vehicles": [_vehicle(1, vtype)],
                "jobs": [_job()],
                "matrices": {"car": {"durations": D}},
            }
        )
        _, job = _step(out)
        assert (job["setup"], job["service"]) == (setup, service)
        assert out["summary"]["service"] == service


def test_a_tight_window_goes_to_the_type_that_fits_it() -> None:
    # The task must end by 300 (window [100, 200] at the start of a 100 s service + setup):
    # only the bike's 10 + 60 s fits before the shift ends at 400 back at the depot.
    data = {
        "vehicles": [
            {**_vehicle(1, "van"), "time_window": [0, 400]},
            {**_vehicle(2, "bike"), "time_window": [0, 400]},
        ],
        "jobs": [_job(time_windows=[[100, 200]])],
        "matrices": {"car": {"durations": D}},
    }
    out = solve_vroom_checked(data)
    assert out["unassigned"] == []
    vehicle, job = _step(out)
    assert vehicle == 2 and job["service"] == 60


def test_a_bad_time_per_type_is_refused_with_its_path() -> None:
    data = {
        "vehicles": [_vehicle(1, "bike")],
        "jobs": [_job(service_per_type={"bike": -5})],
        "matrices": {"car": {"durations": D}},
    }
    with pytest.raises(MalformedInstance) as err:
        problem_from_vroom(data)
    assert err.value.field == "jobs[0].service_per_type.bike"


def test_plan_mode_spends_the_types_times() -> None:
    data = {
        "vehicles": [{**_vehicle(1, "bike"), "steps": [{"type": "job", "id": 1}]}],
        "jobs": [_job()],
        "matrices": {"car": {"durations": D}},
    }
    _, job = _step(choose_eta(data))
    assert (job["setup"], job["service"]) == (10, 60)


@pytest.mark.parametrize("seed", [4, 11])
def test_random_problems_with_times_per_type_against_vroom(seed: int) -> None:
    problem = random_problem(seed, 30)
    assert "per_type" in problem["_features"]
    assert_ours_and_vrooms_plans_pass(problem, seed)
