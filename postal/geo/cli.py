"""`postal bench matrix|circuity`: print a table and write a CSV of the geography benchmarks."""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from postal.geo.bench import bench_circuity, bench_matrix

app = typer.Typer(help="Benchmarks of the geography layer.", no_args_is_help=True)

DataDirOption = Annotated[
    Path | None, typer.Option(help="Reference data directory (default: the settings' data_dir).")
]
OutOption = Annotated[Path | None, typer.Option(help="Directory to write the CSV into.")]


class TravelProviderName(StrEnum):
    """The travel providers `postal bench matrix --provider` can time."""

    geodesic = "geodesic"
    roadgraph = "roadgraph"
    osrm = "osrm"


def _data_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    from postal.config import get_settings

    return get_settings().data_dir


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a plain, right-aligned text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows (equal keys) as CSV, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _report(rows: list[dict[str, Any]], out: Path | None, name: str) -> None:
    typer.echo(format_table(rows))
    if out is not None and rows:
        write_csv(rows, out / name)
        typer.echo(f"wrote {out / name}")


@app.command()
def matrix(
    points: Annotated[list[int], typer.Option(help="Number of points (repeatable).")] = [2000],  # noqa: B006
    repeat: Annotated[int, typer.Option(min=1, help="Timed runs per size.")] = 5,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    locality: Annotated[str, typer.Option(help="Locality whose bounding box is used.")] = "hanoi",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    provider: Annotated[
        TravelProviderName, typer.Option(help="Travel provider to time.")
    ] = TravelProviderName.geodesic,
    osrm_url: Annotated[
        str | None, typer.Option(help="OSRM server base URL (for --provider osrm).")
    ] = None,
    max_table_size: Annotated[
        int, typer.Option(min=1, help="OSRM sources per table request (for --provider osrm).")
    ] = 100,
) -> None:
    """Time distance+duration matrices on random points in the locality's bounding box."""
    if provider is TravelProviderName.osrm and not osrm_url:
        raise typer.BadParameter("--provider osrm needs --osrm-url", param_hint="--osrm-url")
    base = _data_dir(data_dir)
    rows = [
        row
        for n in points
        for row in bench_matrix(
            n,
            repeat,
            data_dir=base,
            locality=locality,
            seed=seed,
            provider=provider.value,
            osrm_url=osrm_url,
            max_table_size=max_table_size,
        )
    ]
    _report(rows, out, "matrix.csv")


@app.command()
def circuity(
    pairs: Annotated[int, typer.Option(min=1, help="Random node pairs to measure.")] = 2000,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    locality: Annotated[str, typer.Option(help="Locality of the road graph.")] = "hanoi",
    min_m: Annotated[
        float, typer.Option(help="Least geodesic distance of a pair, metres.")
    ] = 500.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Measure road distance over geodesic distance on the locality's road graph."""
    rows = bench_circuity(
        _data_dir(data_dir), pairs, locality=locality, seed=seed, min_geodesic_m=min_m
    )
    _report(rows, out, "circuity.csv")
