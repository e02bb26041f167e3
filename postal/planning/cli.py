"""`postal bench city`: a synthetic day of a real locality, solved, against a 10x longer solve
and, with ``--engines``, against the peer engines on the same day."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="City-day benchmark.", no_args_is_help=True)
COLUMNS = (
    "run",
    "engine",
    "breaks",
    "time_limit_s",
    "stops",
    "served",
    "unassigned",
    "couriers",
    "travel_h",
    "distance_km",
    "distance_per_stop_m",
    "seconds",
    "feasible",
    "parts",
    "largest_part",
    "peak_rss_mb_parent",
    "peak_rss_mb_children",
    "note",
)


@app.command("city")
def bench_city(
    locality: Annotated[str, typer.Option(help="Locality slug")] = "hanoi",
    stops: Annotated[int, typer.Option(help="Stops in the day (2 per item)")] = 5000,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds")] = 60.0,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("bench-out/city"),
    compare_factor: Annotated[
        float, typer.Option(help="Also solve ours with this many times the budget (0: skip)")
    ] = 10.0,
    engines: Annotated[
        str,
        typer.Option(
            help="Comma-separated: ours,vroom,vroom-breaks,ortools,ortools-local. 'vroom' plans "
            "the day without the couriers' breaks (the baseline); the others keep them."
        ),
    ] = "ours",
    post_offices: Annotated[
        str,
        typer.Option(
            help="Comma-separated post office codes: only they and the communes they serve "
            "(Hà Nội's urban core: 115100,116500). Empty: the whole locality."
        ),
    ] = "",
    seed: int = 0,
    workers: int = 2,
    max_part: Annotated[int, typer.Option(help="Largest sub-problem in stops")] = 400,
) -> None:
    """Generate a city day from real geography; report couriers, travel, distance, time and
    memory for each engine (every plan checked), and ours against a longer solve."""
    from postal.config import get_settings
    from postal.planning.city import city_day
    from postal.planning.compare import run_engines, verdict

    settings = get_settings()
    chosen = [e.strip() for e in engines.split(",") if e.strip()]
    offices = [c.strip() for c in post_offices.split(",") if c.strip()]
    try:
        day = city_day(settings, settings.data_dir, locality, stops, seed, post_offices=offices)
        runs = run_engines(day, chosen, time_limit, compare_factor, seed, workers, max_part)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    rows = [r.row() for r in runs]
    typer.echo(_table(rows))
    for line in verdict(runs, time_limit):
        typer.echo(line)
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
