"""Typer apps: `bench li-lim|li-lim-variants|solomon|synthetic|vroom-compat` and
`solve PROBLEM.json` (VROOM format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from postal.errors import PostalError

bench_app = typer.Typer(help="Benchmark the optimiser against its peers.", no_args_is_help=True)
solve_app = typer.Typer(help="Solve a VROOM-format problem file.", no_args_is_help=True)

DirOpt = Annotated[Path, typer.Option("--dir", help="Directory of instance files (*.txt).")]
LimitOpt = Annotated[float, typer.Option("--time-limit", help="Seconds per instance and engine.")]
EnginesOpt = Annotated[
    str, typer.Option("--engines", help="Comma-separated: ours,ortools,ortools-local,vroom,pyvrp.")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory (results.csv, *.sol).")]
GlobOpt = Annotated[
    str | None, typer.Option("--instances", help="Glob on instance names, e.g. 'lc1*'.")
]
BksOpt = Annotated[Path | None, typer.Option("--bks", help="bks.csv (default: found near DIR).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed for the engines.")]
IterOpt = Annotated[
    int | None,
    typer.Option(
        "--iterations",
        help="Deterministic mode: PyVRP iterations per search instead of the wall clock "
        "(same seed = same plan; the time limit stays a safety net).",
    ),
]


def _bench(
    kind: str,
    directory: Path,
    time_limit: float,
    engines: str,
    out: Path,
    instances: str | None,
    bks: Path | None,
    seed: int,
    iterations: int | None = None,
    given: list[Path] | None = None,
) -> None:
    """Run the bench on the instance files in ``directory`` (or the ``given`` ones)."""
    from postal.routing.bench import (
        READERS,
        default_bks,
        find_instances,
        load_bks,
        run_bench,
    )

    chosen = _engines(engines)
    files = given if given is not None else find_instances(directory, instances)
    if not files:
        raise typer.BadParameter(f"no instance files in {directory}")
    try:
        table = load_bks(bks or default_bks(directory))
        run_bench(
            files, READERS[kind], chosen, time_limit, out, table, typer.echo, seed, iterations
        )
    except PostalError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=2) from exc


def _engines(engines: str) -> list[str]:
    """The engines named in ``--engines``; refused, naming the option, if one is unknown."""
    from postal.routing.bench import ENGINES

    chosen = [e.strip() for e in engines.split(",") if e.strip()]
    unknown = [e for e in chosen if e not in ENGINES]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"unknown engines {unknown}; use {','.join(ENGINES)}", param_hint="--engines"
        )
    return chosen


@bench_app.command("li-lim")
def bench_li_lim(
    directory: DirOpt,
    time_limit: LimitOpt = 10.0,
    engines: EnginesOpt = "ours,ortools,vroom,pyvrp",
    out: OutOpt = Path("bench-out"),
    instances: GlobOpt = None,
    bks: BksOpt = None,
    seed: SeedOpt = 0,
    iterations: IterOpt = None,
) -> None:
    """Li & Lim PDPTW instances: every engine, same budget, table + results.csv + .sol files."""
    _bench("li-lim", directory, time_limit, engines, out, instances, bks, seed, iterations)


@bench_app.command("li-lim-variants")
def bench_li_lim_variants(
    directory: DirOpt,
    variants: Annotated[
        str,
        typer.Option(
            "--variants",
            help="Comma-separated, of 2,3,4,5: windows off a quarter/half/three quarters of "
            "the stops, or every window three times as wide.",
        ),
    ] = "2,3,5",
    time_limit: LimitOpt = 10.0,
    engines: EnginesOpt = "ours,vroom,pyvrp",
    out: OutOpt = Path("bench-out"),
    instances: GlobOpt = None,
    seed: SeedOpt = 0,
    iterations: IterOpt = None,
) -> None:
    """Li & Lim days not in the shared data, derived from the instances in DIR by Li & Lim's
    own recipe (see postal/routing/variants.py) and written to OUT/instances, then every
    engine on each: table + results.csv + .sol files, engines compared with each other."""
    from postal.routing.bench import find_instances
    from postal.routing.variants import VARIANTS, write_variants

    _engines(engines)  # before minutes spent writing the days
    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if not chosen or unknown:
        raise typer.BadParameter(
            f"unknown variants {unknown}; use some of {','.join(VARIANTS)}",
            param_hint="--variants",
        )
    files = find_instances(directory, instances)
    if not files:
        raise typer.BadParameter(f"no instance files in {directory}", param_hint="--dir")
    try:
        derived = write_variants(files, chosen, out / "instances", seed)
    except PostalError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(f"{len(derived)} days written to {out / 'instances'}")
    # The days just written, not others left in the directory by an earlier run.
    _bench(
        "li-lim", out / "instances", time_limit, engines, out, None, None, seed, iterations, derived
    )


@bench_app.command("solomon")
def bench_solomon(
    directory: DirOpt,
    time_limit: LimitOpt = 10.0,
    engines: EnginesOpt = "ours,ortools,vroom,pyvrp",
    out: OutOpt = Path("bench-out"),
    instances: GlobOpt = None,
    bks: BksOpt = None,
    seed: SeedOpt = 0,
    iterations: IterOpt = None,
) -> None:
    """Solomon VRPTW instances: every engine, same budget, table + results.csv + .sol files."""
    _bench("solomon", directory, time_limit, engines, out, instances, bks, seed, iterations)


@bench_app.command("synthetic")
def bench_synthetic(
    stops: Annotated[int, typer.Option("--stops", help="Number of stops in the day.")] = 5000,
    time_limit: LimitOpt = 60.0,
    seed: SeedOpt = 0,
    workers: Annotated[int, typer.Option("--workers", help="Parallel processes.")] = 2,
) -> None:
    """A synthetic Euclidean day split by depot and geography, solved in parallel processes."""
    from postal.routing.decompose import solve_day, synthetic_day

    day = synthetic_day(stops, seed=seed)
    result = solve_day(day, time_limit, workers=workers, seed=seed)
    typer.echo(json.dumps(result.report(), indent=2))


def solve_command(
    problem: Annotated[Path, typer.Argument(help="VROOM-format input JSON.")],
    time_limit: LimitOpt = 10.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write VROOM-format output here.")
    ] = None,
    seed: SeedOpt = 0,
    iterations: IterOpt = None,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="Plan mode (VROOM's -c): drive the vehicles' steps as given, choose ETAs and "
            "report violations instead of solving.",
        ),
    ] = False,
) -> None:
    """Solve a VROOM-format problem and write VROOM's output format; vehicles' ``steps`` are
    the routes the search starts from, or with ``--plan`` the routes to evaluate."""
    from dataclasses import replace

    from postal.config import get_settings
    from postal.routing.plan_mode import choose_eta, initial_routes, initial_sequences
    from postal.routing.solver import solve
    from postal.routing.vroom_format import (
        haversine_matrices,
        plan_to_vroom,
        problem_from_vroom,
        vroom_params,
    )

    try:
        data = json.loads(problem.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {problem}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    settings = get_settings()
    matrix_fn = haversine_matrices(settings.circuity_factor, settings.speed_kmh)
    try:
        if plan:
            answer = choose_eta(data, matrix_fn)
            summary = answer["summary"]
            note = f"{summary['routes']} routes, {len(summary['violations'])} kinds of violation"
        else:
            prob, ids = problem_from_vroom(data, matrix_fn)
            # The API's objective (POST /optimise): VROOM's cost is travel time.
            params = vroom_params(time_limit, seed, iterations=iterations, source=data)
            initial = initial_sequences(initial_routes(data, prob, ids), len(prob.couriers))
            solved = solve(prob, replace(params, initial=initial))
            answer = plan_to_vroom(prob, ids, solved)
            note = f"{solved.couriers_used} routes, {len(solved.unassigned)} unassigned"
    except PostalError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=2) from exc
    text = json.dumps(answer, indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{note} -> {out}", err=True)


solve_app.command("solve")(solve_command)


@bench_app.command("vroom-compat")
def bench_vroom_compat(
    problems: Annotated[int, typer.Option("--problems", help="Random problems to solve.")] = 200,
    time_limit: LimitOpt = 5.0,
    out: Annotated[Path, typer.Option("--out", help="Output directory (vroom_compat.csv).")] = Path(
        "bench-out"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the problems and engines.")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Processes (and VROOM threads).")] = 2,
    min_tasks: Annotated[int, typer.Option("--min-tasks", help="Smallest problem.")] = 10,
    max_tasks: Annotated[int, typer.Option("--max-tasks", help="Largest problem.")] = 300,
) -> None:
    """Random VROOM problems (every honoured key) solved by ours and by VROOM: both checked,
    ours compared in VROOM's order (priority, tasks served, cost); table + vroom_compat.csv."""
    from postal.routing.vroom_compat import run_compat

    if not 1 <= min_tasks <= max_tasks:
        raise typer.BadParameter("need 1 <= --min-tasks <= --max-tasks")
    run_compat(problems, time_limit, out, typer.echo, seed, workers, min_tasks, max_tasks)
