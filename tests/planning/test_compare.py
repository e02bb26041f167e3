"""`postal bench city --engines`: one city day, every engine, the same problem, all checked."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postal.cli import app
from postal.config import REPO_ROOT
from postal.planning.city import city_day
from postal.planning.compare import (
    measured,
    run_engines,
    travel_seconds,
    verdict,
    without_breaks,
)
from postal.routing.checker import check_plan
from postal.routing.decompose import whole_problem
from postal.routing.model import SolveParams
from postal.routing.solver import solve
from tests.conftest import make_settings

DATA = REPO_ROOT / "data"


def test_an_urban_core_day_keeps_to_the_chosen_post_offices() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 80, seed=2, post_offices=["115100", "116500"])
    assert {d.id for d in day.depots} == {"115100", "116500"}
    assert {s.area for s in day.stops} == {"115100", "116500"}
    assert {day.depots[c.start_depot].id for c in day.couriers} == {"115100", "116500"}
    with pytest.raises(ValueError, match="post_offices: no post office 999999"):
        city_day(settings, DATA, "hanoi", 80, post_offices=["115100", "999999"])


def test_travel_seconds_counts_driving_only() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 30, seed=4, post_offices=["115100"])
    problem = whole_problem(day)
    plan = solve(problem, SolveParams(time_limit_s=2, workers=1))
    expected = 0
    for route in plan.routes:
        c = problem.couriers[route.courier]
        locs = [problem.depots[c.start_depot].location]
        locs += [problem.stops[v.stop].location for v in route.visits]
        locs.append(problem.depots[c.end_depot].location)
        expected += sum(int(problem.durations[a, b]) for a, b in itertools.pairwise(locs))
    assert travel_seconds(day, plan) == expected > 0
    # Driving is less than the working day: service, waiting and the break are not in it.
    assert expected < sum(r.end - r.start for r in plan.routes)


def test_city_rows_report_working_and_waiting_time_of_priced_couriers() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 30, seed=4, post_offices=["115100"])
    problem = whole_problem(day)
    # The city day's couriers are priced as the planner prices them (issue 15).
    assert problem.priced
    assert {(c.fixed_cost, c.cost_per_hour) for c in problem.couriers} == {
        (settings.courier_fixed_cost_vnd, settings.courier_cost_per_hour_vnd)
    }
    plan = solve(problem, SolveParams(time_limit_s=2, workers=1))
    run = measured(day, plan, "budget", "ours", True, 2, 1.0, True)
    waits = [v.start - v.arrival for r in plan.routes for v in r.visits]
    working = sum(r.end - r.start for r in plan.routes if r.visits)
    assert run.working_h == pytest.approx(working / 3600) and working > 0
    assert run.waiting_h == pytest.approx(sum(waits) / 3600)
    row = run.row()
    assert row["longest_wait_min"] == f"{max(waits) / 60:.1f}"
    assert row["working_per_courier_h"] == f"{working / 3600 / plan.couriers_used:.2f}"


def test_every_engine_plans_the_same_day_and_is_checked() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 60, seed=1, post_offices=["115100", "116500"])
    runs = run_engines(day, ["ours", "vroom", "vroom-breaks", "ortools"], 3, 0, workers=1)
    by_engine = {r.engine: r for r in runs}
    assert set(by_engine) == {"ours", "vroom", "vroom-breaks", "ortools"}
    assert all(r.feasible and r.stops == 60 for r in runs)
    ours = by_engine["ours"]
    assert ours.breaks and ours.served == 60 and ours.unassigned == 0
    assert not by_engine["vroom"].breaks and by_engine["vroom-breaks"].breaks
    for r in runs:
        assert r.served + r.unassigned == 60
        assert r.travel_h > 0 and r.distance_km > 0
    lines = verdict(runs, 3)
    assert len(lines) == 4 and lines[0].startswith("every stop served with breaks: yes")
    # The baseline is checked against the day without breaks, which really has none.
    assert all(c.break_ is None for c in without_breaks(whole_problem(day)).couriers)


def test_the_baseline_plan_would_break_the_rules_with_breaks() -> None:
    # Sanity of the comparison: VROOM's plan without breaks is checked against the problem it
    # was made for; against the day with breaks its routes have no break at all.
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 40, seed=3, post_offices=["116500"])
    problem = whole_problem(day)
    plan = solve(without_breaks(problem), SolveParams(time_limit_s=2, engine="vroom", workers=1))
    assert check_plan(without_breaks(problem), plan) == []
    kinds = {v.kind for v in check_plan(problem, plan)}
    assert "break" in {str(k) for k in kinds}


def test_unknown_engine_and_too_big_a_day_are_refused() -> None:
    settings = make_settings("sqlite://")
    day = city_day(settings, DATA, "hanoi", 20, seed=1, post_offices=["115100"])
    with pytest.raises(ValueError, match="engines: unknown gurobi"):
        run_engines(day, ["ours", "gurobi"], 1, 0)
    with pytest.raises(ValueError, match="need the whole day as one matrix"):
        run_engines(day, ["vroom"], 1, 0, whole_limit=10)


def test_bench_city_with_engines_writes_the_table(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "bench", "city", "--stops", "40", "--time-limit", "2", "--compare-factor", "0",
            "--engines", "ours,vroom", "--post-offices", "115100", "--workers", "1",
            "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "couriers <= VROOM without breaks" in result.output
    with (tmp_path / "city.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["engine"], r["breaks"], r["feasible"]) for r in rows] == [
        ("ours", "yes", "yes"),
        ("vroom", "no", "yes"),
    ]
    assert float(rows[0]["travel_h"]) > 0
    assert float(rows[0]["working_h"]) > float(rows[0]["travel_h"])
    assert float(rows[0]["waiting_h"]) >= 0 and "waiting_per_courier_min" in rows[0]
    bad = runner.invoke(app, ["bench", "city", "--stops", "20", "--engines", "ours,cplex"])
    assert bad.exit_code == 2
    assert "cplex" in bad.output
    bad = runner.invoke(app, ["bench", "city", "--stops", "20", "--post-offices", "000000"])
    assert bad.exit_code == 2 and "000000" in bad.output
