"""Benchmark runner: every engine on every instance with one budget, checked, tabled, saved."""

from __future__ import annotations

import csv
import fnmatch
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from postal.routing.checker import check_plan
from postal.routing.errors import SolverFailure
from postal.routing.instances import (
    BenchInstance,
    Bks,
    format_solution,
    read_bks,
    read_li_lim,
    read_solomon,
)
from postal.routing.model import Plan, SolveParams
from postal.routing.solver import solve

ENGINES = ("ours", "ortools", "ortools-local", "vroom", "pyvrp")
CSV_COLUMNS = ("instance", "engine", "vehicles", "distance", "seconds", "feasible")


@dataclass(frozen=True)
class BenchRow:
    """One engine's result on one instance."""

    instance: str
    engine: str
    vehicles: int
    distance: float
    seconds: float
    feasible: bool
    unassigned: int
    note: str = ""


def find_instances(directory: Path, pattern: str | None) -> list[Path]:
    """Instance files in ``directory`` (``*.txt``), filtered by a glob on the stem or name."""
    files = sorted(p for p in directory.glob("*.txt") if p.is_file())
    if pattern:
        files = [
            p for p in files if fnmatch.fnmatch(p.stem, pattern) or fnmatch.fnmatch(p.name, pattern)
        ]
    return files


def default_bks(directory: Path) -> Path | None:
    """bks.csv next to the instances or one level up (the vendored layout)."""
    for cand in (directory / "bks.csv", directory.parent / "bks.csv"):
        if cand.is_file():
            return cand
    return None


def evaluate(inst: BenchInstance, plan: Plan) -> tuple[int, float, bool, list[list[int]]]:
    """(vehicles, unrounded distance, feasible, routes as task ids) of a plan."""
    problem = inst.problem
    routes = [[int(problem.stops[v.stop].id) for v in r.visits] for r in plan.routes if r.visits]
    distance = sum(inst.route_distance(r) for r in routes)
    feasible = not check_plan(problem, plan) and not plan.unassigned
    return len(routes), distance, feasible, routes


def run_bench(
    files: Sequence[Path],
    reader: Callable[[Path], BenchInstance],
    engines: Sequence[str],
    time_limit: float,
    out: Path,
    bks: dict[str, Bks],
    echo: Callable[[str], None],
    seed: int = 0,
    iterations: int | None = None,
) -> list[BenchRow]:
    """Run every engine on every file; write results.csv and .sol files; echo a table."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[BenchRow] = []
    echo(_header(engines))
    with (out / "results.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for path in files:
            inst = reader(path)
            line: list[BenchRow] = []
            for engine in engines:
                row = _run_one(inst, engine, time_limit, out, seed, iterations)
                line.append(row)
                rows.append(row)
                writer.writerow(
                    [
                        row.instance,
                        row.engine,
                        row.vehicles,
                        repr(row.distance),
                        f"{row.seconds:.2f}",
                        str(row.feasible).lower(),
                    ]
                )
                fh.flush()
            echo(_table_line(inst.name, bks.get(inst.name.lower()), line))
    for text in summary(rows, bks, engines) if bks else []:
        echo(text)
    if len(engines) > 1:
        for text in peer_summary(rows, engines):
            echo(text)
    return rows


def _run_one(
    inst: BenchInstance,
    engine: str,
    time_limit: float,
    out: Path,
    seed: int,
    iterations: int | None = None,
) -> BenchRow:
    t0 = time.perf_counter()
    params = SolveParams(time_limit_s=time_limit, engine=engine, seed=seed, iterations=iterations)
    try:
        plan = solve(inst.problem, params)
    except SolverFailure as exc:
        return BenchRow(inst.name, engine, 0, 0.0, time.perf_counter() - t0, False, -1, exc.detail)
    seconds = time.perf_counter() - t0
    vehicles, distance, feasible, routes = evaluate(inst, plan)
    (out / f"{inst.name}.{engine}.sol").write_text(format_solution(routes), encoding="utf-8")
    return BenchRow(inst.name, engine, vehicles, distance, seconds, feasible, len(plan.unassigned))


def _header(engines: Iterable[str]) -> str:
    cols = "".join(f" | {e:>8} {'dist':>9} {'gap%':>6} {'s':>5} ok" for e in engines)
    return f"{'instance':<10} {'bks':>3} {'dist':>9}{cols}"


def _table_line(name: str, best: Bks | None, line: Sequence[BenchRow]) -> str:
    head = f"{name:<10} {best.vehicles if best else '-':>3} {best.distance if best else 0:>9.2f}"
    cells = []
    for r in line:
        gap = "-"
        if best and r.vehicles == best.vehicles and r.feasible:
            gap = f"{round(100 * (r.distance / best.distance - 1), 2) + 0.0:.2f}"
        ok = "y" if r.feasible else f"n{r.unassigned}"
        cells.append(f" | {r.vehicles:>8} {r.distance:>9.2f} {gap:>6} {r.seconds:>5.1f} {ok}")
    return head + "".join(cells)


def summary(rows: Sequence[BenchRow], bks: dict[str, Bks], engines: Sequence[str]) -> list[str]:
    """Per engine: feasible count, BKS matches, mean gap at BKS fleet, mean extra vehicles."""
    out = []
    for engine in engines:
        mine = [r for r in rows if r.engine == engine]
        with_bks = [(r, bks[r.instance.lower()]) for r in mine if r.instance.lower() in bks]
        same = [(r, b) for r, b in with_bks if r.feasible and r.vehicles == b.vehicles]
        gaps = [r.distance / b.distance - 1 for r, b in same]
        match = sum(1 for g in gaps if g <= 1e-4)
        extra = [r.vehicles - b.vehicles for r, b in with_bks if r.feasible]
        mean_gap = 100 * sum(gaps) / len(gaps) if gaps else float("nan")
        mean_extra = sum(extra) / len(extra) if extra else float("nan")
        out.append(
            f"{engine}: feasible {sum(r.feasible for r in mine)}/{len(mine)}, "
            f"BKS matched {match}/{len(with_bks)}, mean gap at BKS fleet {mean_gap:.2f}% "
            f"over {len(gaps)}, mean extra vehicles {mean_extra:.2f}"
        )
    return out


def peer_summary(rows: Sequence[BenchRow], engines: Sequence[str]) -> list[str]:
    """Per engine, against the best of the engines on each instance (fewest vehicles, then
    distance, feasible plans only): instances where it is that best, mean gap to the best
    distance where it has the best fleet, mean extra vehicles. For days without a best
    known plan (``li-lim-variants``), and beside the best known where there is one."""
    best: dict[str, tuple[int, float]] = {}
    for r in rows:
        if r.feasible and (r.instance not in best or (r.vehicles, r.distance) < best[r.instance]):
            best[r.instance] = (r.vehicles, r.distance)
    out = []
    for engine in engines:
        mine = [r for r in rows if r.engine == engine and r.instance in best]
        ok = [r for r in mine if r.feasible]
        same = [r for r in ok if r.vehicles == best[r.instance][0]]
        gaps = [r.distance / best[r.instance][1] - 1 for r in same]
        wins = sum(1 for g in gaps if g <= 1e-9)
        extra = [r.vehicles - best[r.instance][0] for r in ok]
        mean_gap = 100 * sum(gaps) / len(gaps) if gaps else float("nan")
        mean_extra = sum(extra) / len(extra) if extra else float("nan")
        out.append(
            f"{engine} against the best engine: best on {wins}/{len(mine)}, mean gap at the "
            f"best fleet {mean_gap:.2f}% over {len(gaps)}, mean extra vehicles {mean_extra:.2f}"
        )
    return out


def load_bks(path: Path | None) -> dict[str, Bks]:
    """BKS table from ``path`` (empty when None)."""
    return read_bks(path) if path is not None else {}


READERS: dict[str, Callable[[Path], BenchInstance]] = {
    "li-lim": read_li_lim,
    "solomon": read_solomon,
}
