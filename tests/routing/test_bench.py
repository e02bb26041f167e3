"""The bench commands on tiny instances: table, results.csv and .sol files, all checked."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from postal.routing.cli import bench_app
from postal.routing.instances import read_li_lim, read_solution

LI_LIM = (
    "4\t20\t1\n"
    "0\t50\t50\t0\t0\t2000\t0\t0\t0\n"
    "1\t60\t50\t5\t0\t1500\t10\t0\t2\n"
    "2\t70\t55\t-5\t0\t1500\t10\t1\t0\n"
    "3\t40\t45\t8\t0\t1500\t10\t0\t4\n"
    "4\t30\t40\t-8\t0\t1500\t10\t3\t0\n"
    "5\t50\t60\t3\t100\t400\t10\t0\t6\n"
    "6\t55\t70\t-3\t150\t900\t10\t5\t0\n"
)

SOLOMON = """TINY

VEHICLE
NUMBER     CAPACITY
  3         30

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      50        50          0          0       1000          0
    1      60        50         10          0        800         10
    2      70        55         10          0        800         10
    3      40        45         10          0        800         10
    4      30        40         10        100        300         10
"""


def test_li_lim_bench_writes_results_and_solutions(tmp_path: Path) -> None:
    src = tmp_path / "inst"
    src.mkdir()
    (src / "tiny1.txt").write_text(LI_LIM, encoding="utf-8")
    (src / "bks.csv").write_text("instance,vehicles,distance\ntiny1,1,100.0\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        bench_app,
        [
            "li-lim",
            "--dir",
            str(src),
            "--time-limit",
            "1",
            "--out",
            str(out),
            "--engines",
            "ours,ortools,vroom,pyvrp",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "tiny1" in result.output and "BKS matched" in result.output
    with (out / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["instance", "engine", "vehicles", "distance", "seconds", "feasible"]
    assert [r["engine"] for r in rows] == ["ours", "ortools", "vroom", "pyvrp"]
    inst = read_li_lim(src / "tiny1.txt")
    for row in rows:
        assert row["feasible"] == "true"
        routes = read_solution(out / f"tiny1.{row['engine']}.sol")
        assert sorted(t for r in routes for t in r) == [1, 2, 3, 4, 5, 6]
        assert len(routes) == int(row["vehicles"])
        assert float(row["distance"]) == sum(inst.route_distance(r) for r in routes)


def test_solomon_bench_and_instance_filter(tmp_path: Path) -> None:
    src = tmp_path / "inst"
    src.mkdir()
    (src / "TINY.txt").write_text(SOLOMON, encoding="utf-8")
    (src / "OTHER.txt").write_text("garbage", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        bench_app,
        [
            "solomon",
            "--dir",
            str(src),
            "--time-limit",
            "1",
            "--out",
            str(out),
            "--engines",
            "ours,pyvrp",
            "--instances",
            "TIN*",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert {r["instance"] for r in rows} == {"TINY"}
    assert all(r["feasible"] == "true" for r in rows)


def test_malformed_instance_fails_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "inst"
    src.mkdir()
    (src / "bad.txt").write_text(LI_LIM.replace("3\t40\t45", "3\t40\tzz"), encoding="utf-8")
    result = CliRunner().invoke(
        bench_app, ["li-lim", "--dir", str(src), "--time-limit", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "bad.txt:5:" in result.output


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        bench_app, ["li-lim", "--dir", str(tmp_path), "--engines", "gurobi"]
    )
    assert result.exit_code != 0
