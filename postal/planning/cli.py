"""`postal bench city`: a synthetic day of a real locality, solved, against a 10x longer solve
and, with ``--engines``, against the peer engines on the same day. `postal bench province`: a
province's day in PostgreSQL, planned on the task queue by 1, 2, ... worker processes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="City-day and province benchmarks.", no_args_is_help=True)
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
    "working_h",
    "working_per_courier_h",
    "waiting_h",
    "waiting_per_courier_min",
    "longest_wait_min",
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


@app.command("province")
def bench_province(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="PostgreSQL URL, created when missing (default: POSTAL_DATABASE_URL)",
        ),
    ] = None,
    offices: Annotated[int, typer.Option(help="Post offices, one per commune")] = 126,
    stops: Annotated[int, typer.Option(help="Stops in the day (2 per item)")] = 25000,
    workers: Annotated[str, typer.Option(help="Comma-separated worker counts, one run each")] = (
        "1,2"
    ),
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per part")] = 4.0,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("bench-out/province"),
    seed: int = 0,
    recreate: Annotated[
        bool, typer.Option("--recreate", help="Drop the database first and build it anew")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Give up on a plan after this many s")] = 1800.0,
) -> None:
    """Build a province's day in PostgreSQL (once), then plan it on the task queue with each
    number of `postal worker` processes; report wall time, served and unassigned stops with
    their reasons, couriers, km, parts and the speed-up against one worker."""
    import os

    from postal.config import get_settings
    from postal.db import make_engine
    from postal.planning import province_bench as pb

    url = database_url or get_settings().database_url
    try:
        pb.require_postgres(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from exc
    try:
        counts = [int(w) for w in workers.split(",") if w.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise typer.BadParameter("worker counts of at least 1, e.g. 1,2", param_hint="--workers")
    # The workers and everything in this process talk to the same database.
    os.environ["POSTAL_DATABASE_URL"] = url
    get_settings.cache_clear()
    settings = get_settings()
    out.mkdir(parents=True, exist_ok=True)
    created = pb.ensure_database(url, recreate)
    typer.echo(f"database {'created' if created else 'exists'}: {url}")
    engine = make_engine(url)
    try:
        province = pb.prepare_province(engine, settings, offices, stops, seed, typer.echo)
        typer.echo(
            f"province day {province.day}: {len(province.offices)} post offices, "
            f"{province.stops} stops"
        )
        results = []
        for n in counts:
            typer.echo(f"plan with {n} worker(s), {time_limit:g} s per part")
            result = pb.run_once(
                engine, settings, province, n, time_limit, seed, out, typer.echo, timeout
            )
            results.append(result)
            pb.with_speedups(results)
            typer.echo(_table([result.row()], pb.COLUMNS))
    except (ValueError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    rows = [r.row() for r in pb.with_speedups(results)]
    typer.echo("")
    typer.echo(_table(rows, pb.COLUMNS))
    with (out / "province.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=pb.COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    typer.echo(f"wrote {out / 'province.csv'}")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.rjust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).rjust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
