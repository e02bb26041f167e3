"""Li & Lim days made by their own recipe (postal/routing/variants.py) and their bench."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from postal.routing.checker import check_plan
from postal.routing.cli import bench_app
from postal.routing.instances import read_li_lim
from postal.routing.model import SolveParams
from postal.routing.solver import solve
from postal.routing.variants import derive

LR101 = Path(__file__).resolve().parents[2] / "data/bench/li_lim/pdp_100/lr101.txt"


def _rows(text: str) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in text.splitlines()[1:] if line.strip()]


def _latest(depot: list[float], row: list[float], service: float) -> int:
    return math.floor(depot[5] - math.hypot(row[1] - depot[1], row[2] - depot[2]) - service)


def test_a_quarter_of_the_windows_come_off_and_the_stops_are_paired_again(
    tmp_path: Path,
) -> None:
    text = derive(LR101, "2")
    assert text == derive(LR101, "2")  # repeatable
    assert text != derive(LR101, "2", seed=1)
    source = {tuple(r[1:3]): r for r in _rows(LR101.read_text(encoding="utf-8"))[1:]}
    rows = _rows(text)
    depot, nodes = rows[0], rows[1:]
    opened = 0
    for r in nodes:
        before = source[(r[1], r[2])]
        if (r[4], r[5]) != (before[4], before[5]):
            # Any time the courier still gets back to the depot (service 0 or 10 here).
            assert r[4] == 0 and r[5] in {_latest(depot, r, 0), _latest(depot, r, 10)}, r
            opened += 1
    assert 0.1 < opened / len(nodes) < 0.4
    # Pairs point at each other, the pickup carries what its delivery drops.
    by_no = {int(r[0]): r for r in nodes}
    pairs = [(r, by_no[int(r[8])]) for r in nodes if r[8] > 0]
    assert 2 * len(pairs) == len(nodes)
    for pickup, delivery in pairs:
        assert int(delivery[7]) == int(pickup[0]) and pickup[3] == -delivery[3] >= 0
    # The stop left over in a route of odd length: a copy of it is its delivery.
    copies = [(p, d) for p, d in pairs if (p[1], p[2]) == (d[1], d[2]) and p[6] == 0]
    assert copies and all(int(d[0]) > len(source) for _, d in copies)
    # Every pair rode one feasible route of the time-window day: all served, by our rules.
    path = tmp_path / "lr101v2.txt"
    path.write_text(text, encoding="utf-8")
    inst = read_li_lim(path)
    plan = solve(inst.problem, SolveParams(time_limit_s=2, engine="pyvrp"))
    assert not plan.unassigned and check_plan(inst.problem, plan) == []


def test_variant_5_widens_every_window_by_its_width_on_both_sides() -> None:
    text = derive(LR101, "5")
    source = {tuple(r[1:3]): r for r in _rows(LR101.read_text(encoding="utf-8"))[1:]}
    rows = _rows(text)
    depot = rows[0]
    for r in rows[1:]:
        before = source[(r[1], r[2])]
        width = before[5] - before[4]
        assert r[4] == max(0, before[4] - width)
        latest = {max(_latest(depot, r, service), before[5]) for service in (0, 10)}
        assert r[5] in {min(x, before[5] + width) for x in latest}


@pytest.mark.parametrize(
    ("option", "value"),
    [("--variants", "9"), ("--variants", "2,x"), ("--variants", ""), ("--engines", "gurobi")],
)
def test_unknown_variants_or_engines_are_refused_naming_the_option(
    tmp_path: Path, option: str, value: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        bench_app,
        ["li-lim-variants", "--dir", str(LR101.parent), "--out", str(out), option, value],
    )
    assert result.exit_code == 2
    assert option in result.output
    assert not (out / "instances").exists()  # refused before any day is written


def test_the_variants_bench_writes_the_days_and_compares_the_engines(tmp_path: Path) -> None:
    src = tmp_path / "inst"
    src.mkdir()
    shutil.copy(LR101, src / "lr101.txt")
    out = tmp_path / "out"
    # A day left by an earlier run in the same place is not run again.
    (out / "instances").mkdir(parents=True)
    shutil.copy(LR101, out / "instances" / "earlier.txt")
    result = CliRunner().invoke(
        bench_app,
        [
            "li-lim-variants",
            "--dir",
            str(src),
            "--variants",
            "3",
            "--time-limit",
            "1",
            "--engines",
            "ours,vroom",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "instances" / "lr101v3.txt").is_file()
    assert "lr101v3" in result.output
    assert "ours against the best engine: best on" in result.output
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert [(r["instance"], r["engine"]) for r in rows] == [
        ("lr101v3", "ours"),
        ("lr101v3", "vroom"),
    ]
    assert all(r["feasible"] == "true" for r in rows)
