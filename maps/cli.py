"""`postal bench maps`: time and size the courier route map and the dispatcher overview."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from maps.render import overview_map, route_map
from maps.synthetic import make_overview, make_route
from postal.geo.cli import format_table, write_csv

app = typer.Typer(help="Benchmarks of the route maps.", no_args_is_help=True)
ROUTE_GOAL_S, OVERVIEW_GOAL_S, OVERVIEW_GOAL_MB = 0.5, 5.0, 10.0


def _time_render(build: Any, repeat: int) -> tuple[float, int]:
    """Best wall time of building and rendering to HTML, and the HTML size in bytes."""
    best, size = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        page = build().get_root().render()
        best = min(best, time.perf_counter() - start)
        size = len(page.encode("utf-8"))
    return best, size


@app.command()
def maps(
    route_stops: Annotated[int, typer.Option(min=1, help="Stops on the courier's route.")] = 300,
    overview_stops: Annotated[int, typer.Option(min=1, help="Stops of the day.")] = 25_000,
    per_route: Annotated[int, typer.Option(min=1, help="Stops per courier.")] = 100,
    unassigned: Annotated[int, typer.Option(min=0, help="Unassigned stops.")] = 200,
    boundaries: Annotated[bool, typer.Option(help="Add Hà Nội commune boundaries.")] = True,
    roads: Annotated[
        bool, typer.Option(help="Also time the route map along Hà Nội's roads.")
    ] = True,
    repeat: Annotated[int, typer.Option(min=1, help="Timed runs (best kept).")] = 3,
    out: Annotated[Path | None, typer.Option(help="Directory for maps.csv.")] = None,
) -> None:
    """Render a route map and a day's overview to HTML; print time and size against the goals."""
    route = make_route(route_stops)
    overview = make_overview(overview_stops, per_route=per_route, unassigned=unassigned)
    if boundaries:
        from postal.config import get_settings
        from postal.geo.boundaries import CommuneBoundaries

        outlines = CommuneBoundaries.load(get_settings().data_dir, "hanoi")
        features = tuple(outlines.geojson(c) for c in outlines.codes())
        overview = dataclasses.replace(overview, boundaries=features)
    cases: list[tuple[str, int, Any, float, float | None]] = [
        ("route", route_stops, lambda: route_map(route), ROUTE_GOAL_S, None),
        (
            "overview",
            overview_stops,
            lambda: overview_map(overview),
            OVERVIEW_GOAL_S,
            OVERVIEW_GOAL_MB,
        ),
    ]
    if roads:
        from postal.config import get_settings
        from postal.geo.roadgraph import RoadGraph

        graph = RoadGraph.load(get_settings().data_dir, "hanoi")
        cases.insert(
            1, ("route+roads", route_stops, lambda: route_map(route, graph), ROUTE_GOAL_S, None)
        )
    rows: list[dict[str, Any]] = []
    for name, stops, build, goal_s, goal_mb in cases:
        seconds, size = _time_render(build, repeat)
        mb = size / 1_000_000
        ok = seconds <= goal_s and (goal_mb is None or mb <= goal_mb)
        rows.append(
            {
                "map": name,
                "stops": stops,
                "seconds": f"{seconds:.3f}",
                "html_mb": f"{mb:.2f}",
                "goal_s": goal_s,
                "goal_mb": goal_mb if goal_mb is not None else "",
                "ok": "yes" if ok else "NO",
            }
        )
    typer.echo(format_table(rows))
    if out is not None:
        write_csv(rows, out / "maps.csv")
        typer.echo(f"wrote {out / 'maps.csv'}")
