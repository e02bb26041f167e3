"""`postal bench city`: a synthetic day of a real locality, solved, against a 10x longer solve."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="City-day benchmark.", no_args_is_help=True)
COLUMNS = (
    "run",
    "time_limit_s",
    "stops",
    "served",
    "unassigned",
    "couriers",
    "distance_km",
    "distance_per_stop_m",
    "parts",
    "largest_part",
    "seconds",
    "peak_rss_mb_parent",
    "peak_rss_mb_children",
)


@app.command("city")
def bench_city(
    locality: Annotated[str, typer.Option(help="Locality slug")] = "hanoi",
    stops: Annotated[int, typer.Option(help="Stops in the day (2 per item)")] = 5000,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds")] = 60.0,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("bench-out/city"),
    compare_factor: Annotated[
        float, typer.Option(help="Also solve with this many times the budget (0: skip)")
    ] = 10.0,
    seed: int = 0,
    workers: int = 2,
    max_part: Annotated[int, typer.Option(help="Largest sub-problem in stops")] = 400,
) -> None:
    """Generate a city day from real geography; report couriers, distance, time and memory."""
    from postal.config import get_settings
    from postal.planning.city import city_day
    from postal.routing.decompose import solve_day

    settings = get_settings()
    day = city_day(settings, settings.data_dir, locality, stops, seed)
    rows: list[dict[str, Any]] = []
    runs = [("budget", time_limit)]
    if compare_factor > 0:
        runs.append((f"x{compare_factor:g}", time_limit * compare_factor))
    for name, limit in runs:
        result = solve_day(day, limit, workers=workers, seed=seed, max_part=max_part)
        report = result.report()
        report["unassigned"] = sum(report["unassigned"].values())
        rows.append({"run": name, "time_limit_s": limit, **report})
        typer.echo(_table(rows))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "city.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    typer.echo(f"wrote {out / 'city.csv'}")


def _table(rows: list[dict[str, Any]]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in COLUMNS}
    lines = ["  ".join(c.rjust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(str(r.get(c, "")).rjust(widths[c]) for c in COLUMNS) for r in rows]
    return "\n".join(lines)
