"""`postal bench maps` prints a table and writes the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from maps.cli import app


def test_bench_maps_writes_table_and_csv(tmp_path: Path) -> None:
    args = ["--route-stops", "5", "--overview-stops", "60", "--per-route", "20"]
    result = CliRunner().invoke(
        app, [*args, "--no-boundaries", "--no-roads", "--repeat", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "maps.csv").open(encoding="utf-8")))
    assert [(r["map"], r["stops"]) for r in rows] == [("route", "5"), ("overview", "60")]
    assert float(rows[1]["html_mb"]) > 0 and "overview" in result.output
