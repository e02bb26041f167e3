"""Compatibility with VROOM itself: random problems using every honoured key, solved by ours
and by VROOM (pyvroom); both plans checked by the independent checker, ours never naming an
id VROOM would not write. Bounded: six problems of 10-40 tasks at one second each."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postal.routing.cli import bench_app
from postal.routing.solver import solve
from postal.routing.vroom_compat import (
    foreign_ids,
    random_problem,
    solve_ours,
    solve_vroom,
    task_count,
    vroom_input,
)
from postal.routing.vroom_format import INVENTORY, problem_from_vroom, vroom_params
from tests.routing.helpers import assert_ours_and_vrooms_plans_pass

CASES = [(1, 12, True), (2, 25, False), (3, 40, True), (4, 18, False), (5, 33, True)]
CASES += [(6, 10, False)]


def _keys(problem: dict[str, Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {k: set() for k in INVENTORY}
    used["input"] = {k for k in problem if not k.startswith("_")}
    used["matrices.<profile>"] = set(problem["matrices"]["car"])
    for v in problem["vehicles"]:
        used["vehicles[]"] |= set(v)
        used["vehicles[].costs"] |= set(v.get("costs", {}))
        for b in v.get("breaks", []):
            used["vehicles[].breaks[]"] |= set(b)
    for j in problem["jobs"]:
        used["jobs[]"] |= set(j)
    for sh in problem.get("shipments", []):
        used["shipments[]"] |= set(sh)
        used["shipments[].pickup|delivery"] |= set(sh["pickup"]) | set(sh["delivery"])
    return used


def test_the_generator_uses_every_honoured_key() -> None:
    used: dict[str, set[str]] = {k: set() for k in INVENTORY}
    for seed in range(20):
        for obj, keys in _keys(random_problem(seed, 30)).items():
            used[obj] |= keys
    # Left out on purpose: the deprecated top-level 'matrix' (durations only, like
    # 'matrices' without 'distances'), and vehicles' 'steps' (plan mode and initial routes:
    # tests/routing/test_plan_mode.py compares them with pyvroom's).
    left_out = {"input": {"matrix"}, "vehicles[]": {"steps"}}
    for obj, keys in INVENTORY.items():
        assert set(keys) - left_out.get(obj, set()) <= used[obj], obj


def test_the_generator_is_seeded_and_sized() -> None:
    assert random_problem(7, 50) == random_problem(7, 50)
    assert random_problem(7, 50) != random_problem(8, 50)
    for n in (10, 40, 300):
        assert abs(task_count(random_problem(n, n)) - n) <= 1


@pytest.mark.parametrize(("seed", "tasks", "breaks"), CASES)
def test_ours_is_feasible_and_writes_only_vroom_ids(seed: int, tasks: int, breaks: bool) -> None:
    problem = random_problem(seed, tasks, breaks)
    assert_ours_and_vrooms_plans_pass(problem, seed)


def test_foreign_ids_are_found() -> None:
    problem = random_problem(1, 12, True)
    out = solve_ours(problem, time_limit=0.5, workers=1)
    task = next(s for s in out["routes"][0]["steps"] if s["type"] in ("job", "pickup"))
    task["id"] = 999_999
    brk = next(s for r in out["routes"] for s in r["steps"] if s["type"] == "break")
    brk["id"] = 7
    found = foreign_ids(problem, out)
    assert any(f.startswith(f"{task['type']} 999999") for f in found)
    assert any(f.startswith("break 7") for f in found)
    assert any(f.endswith("missing") for f in found)


def test_the_bench_prints_a_table_and_writes_csv(tmp_path: Path) -> None:
    args = ["vroom-compat", "--problems", "2", "--time-limit", "0.5", "--max-tasks", "15"]
    result = CliRunner().invoke(bench_app, [*args, "--workers", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "ours no worse than VROOM" in result.output
    lines = (tmp_path / "vroom_compat.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("problem,seed,tasks")


def test_the_portfolios_vroom_solves_the_input_as_given() -> None:
    """With custom matrices, VROOM inside the portfolio gets the user's own input, so ours is
    VROOM's plan or better (VROOM converges on a small problem well within the time)."""
    problem = random_problem(93, 76, breaks=False)
    source = vroom_input(problem)
    assert vroom_params(1.0, source=source).vroom_input is not None
    assert vroom_params(1.0, source={"vehicles": [], "jobs": []}).vroom_input is None
    ours = solve_ours(problem, time_limit=3.0, seed=0, workers=2)
    theirs = solve_vroom(problem, time_limit=3.0, threads=2)
    assert ours["summary"]["priority"] >= theirs["summary"]["priority"]
    assert len(ours["unassigned"]) <= len(theirs["unassigned"])
    if len(ours["unassigned"]) == len(theirs["unassigned"]):
        assert ours["summary"]["cost"] <= theirs["summary"]["cost"]


def test_input_vroom_refuses_falls_back_to_the_translation() -> None:
    # No capacity beside amounts: we read it as no limit, VROOM refuses it ("inconsistent").
    source: dict[str, Any] = {
        "vehicles": [{"id": 1, "start_index": 0, "end_index": 0}],
        "jobs": [{"id": 1, "location_index": 1, "delivery": [1]}],
        "matrices": {"car": {"durations": [[0, 10], [10, 0]]}},
    }
    prob, _ = problem_from_vroom(copy.deepcopy(source))
    plan = solve(prob, vroom_params(1.0, workers=1, source=source))
    assert plan.unassigned == () and plan.couriers_used == 1
