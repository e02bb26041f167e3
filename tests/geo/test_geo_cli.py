"""The bench commands print a table and write a CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from postal.geo.bench import bench_matrix
from postal.geo.cli import app

runner = CliRunner()


def test_bench_matrix_rows(data_dir: Path) -> None:
    [row] = bench_matrix(100, 2, data_dir=data_dir)
    assert row["points"] == 100 and row["repeat"] == 2
    assert 0 < row["best_s"] <= row["median_s"] or row["best_s"] == row["median_s"] == 0
    assert row["mb"] == 0.1  # 100 x 100 x (8 + 4) bytes


def test_matrix_command(data_dir: Path, tmp_path: Path) -> None:
    args = ["matrix", "--points", "50", "--points", "80", "--repeat", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "best_s" in result.output
    with (tmp_path / "matrix.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["points"] for r in rows] == ["50", "80"]


def test_circuity_command(data_dir: Path, tmp_path: Path) -> None:
    args = ["circuity", "--pairs", "40", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with (tmp_path / "circuity.csv").open() as f:
        [row] = list(csv.DictReader(f))
    assert row["pairs"] == "40" and float(row["median"]) > 1.0
