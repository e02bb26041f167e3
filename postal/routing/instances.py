"""Readers for the Li & Lim (PDPTW) and Solomon (VRPTW) benchmark files and their BKS tables.

Both formats use Euclidean distances with travel time equal to distance. Inside the optimiser
they are scaled to integers: distance = round(d * SCALE), travel time = ceil(d * SCALE) so that
a schedule feasible in integers is feasible in real numbers too. Reported distances are always
recomputed unrounded from the coordinates.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from postal.routing.errors import MalformedInstance
from postal.routing.model import Courier, Depot, Problem, Stop, StopKind

SCALE = 1000


@dataclass(frozen=True, eq=False)
class BenchInstance:
    """A parsed benchmark instance: the problem plus its real-valued geometry."""

    name: str
    problem: Problem
    coordinates: NDArray[np.float64]
    """(x, y) per location; location 0 is the depot, location i is task i."""
    vehicles_available: int

    def route_distance(self, tasks: Sequence[int]) -> float:
        """Unrounded Euclidean length of depot -> tasks -> depot (tasks are 1-based indices)."""
        path = [0, *tasks, 0]
        xy = self.coordinates
        return sum(
            math.hypot(xy[a, 0] - xy[b, 0], xy[a, 1] - xy[b, 1])
            for a, b in itertools.pairwise(path)
        )


@dataclass(frozen=True)
class Bks:
    """A best known solution: fleet size and unrounded distance."""

    vehicles: int
    distance: float


def _fail(path: Path, line: int, msg: str) -> MalformedInstance:
    return MalformedInstance(detail=f"{path}:{line}: {msg}", field=str(path))


def _numbers(path: Path, line_no: int, text: str, count: int) -> list[float]:
    parts = text.split()
    if len(parts) != count:
        raise _fail(path, line_no, f"expected {count} numbers, found {len(parts)}: {text!r}")
    try:
        return [float(p) for p in parts]
    except ValueError as exc:
        raise _fail(path, line_no, f"not a number in {text!r}") from exc


def _whole(path: Path, line_no: int, value: float, what: str) -> int:
    if value != int(value):
        raise _fail(path, line_no, f"{what} must be an integer, got {value}")
    return int(value)


def _matrices(xy: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    diff = xy[:, None, :] - xy[None, :, :]
    d = np.sqrt((diff**2).sum(axis=2))
    # Tiny epsilon: sqrt of a perfect square is exact, but products with SCALE may not be.
    durations = np.ceil(d * SCALE - 1e-7).astype(np.int64)
    distances = np.rint(d * SCALE).astype(np.int64)
    return durations, distances


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise MalformedInstance(detail=f"{path}: cannot read: {exc}", field=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise MalformedInstance(detail=f"{path}: not UTF-8 text", field=str(path)) from exc


def read_li_lim(path: Path) -> BenchInstance:
    """Parse a Li & Lim PDPTW file; raise MalformedInstance naming the file and line."""
    lines = _read_lines(path)
    numbered = [(i + 1, t) for i, t in enumerate(lines) if t.strip()]
    if not numbered:
        raise _fail(path, 1, "empty file")
    head_no, head = numbered[0]
    parts = head.split()
    if len(parts) < 2:
        raise _fail(path, head_no, "first line must be 'vehicles capacity speed'")
    k, q = (
        _whole(path, head_no, v, "vehicles/capacity")
        for v in _numbers(path, head_no, head, len(parts))[:2]
    )
    rows: list[tuple[int, list[float]]] = []
    for no, text in numbered[1:]:
        values = _numbers(path, no, text, 9)
        idx = _whole(path, no, values[0], "node index")
        if idx != len(rows):
            raise _fail(path, no, f"node index {idx}, expected {len(rows)}")
        rows.append((no, values))
    if len(rows) < 2:
        raise _fail(path, len(lines), "no tasks after the depot line")
    xy = np.array([[v[1], v[2]] for _, v in rows], dtype=np.float64)
    n = len(rows) - 1
    depot_no, depot = rows[0]
    horizon = _whole(path, depot_no, depot[5], "depot latest time")
    stops: list[Stop] = []
    for no, v in rows[1:]:
        idx, demand = int(v[0]), _whole(path, no, v[3], "demand")
        early, late = _whole(path, no, v[4], "earliest"), _whole(path, no, v[5], "latest")
        service = _whole(path, no, v[6], "service time")
        p_sib, d_sib = _whole(path, no, v[7], "pickup"), _whole(path, no, v[8], "delivery")
        if early > late:
            raise _fail(path, no, f"window [{early}, {late}] is empty")
        if p_sib == 0 and 1 <= d_sib <= n and demand >= 0:
            kind, pair = StopKind.PICKUP, str(idx)
        elif d_sib == 0 and 1 <= p_sib <= n and demand <= 0:
            kind, pair = StopKind.DELIVERY, str(p_sib)
        else:
            raise _fail(path, no, f"inconsistent siblings p={p_sib} d={d_sib} demand={demand}")
        sibling_row = rows[d_sib if kind is StopKind.PICKUP else p_sib][1]
        expected = idx
        back = int(sibling_row[7] if kind is StopKind.PICKUP else sibling_row[8])
        if back != expected:
            raise _fail(path, no, f"sibling {d_sib or p_sib} does not point back to {idx}")
        stops.append(
            Stop(
                id=str(idx),
                kind=kind,
                location=idx,
                windows=((early * SCALE, late * SCALE),),
                service=service * SCALE,
                demand=abs(demand),
                pair=pair,
            )
        )
    return _bench(path, xy, stops, k, q, horizon)


def _bench(
    path: Path, xy: NDArray[np.float64], stops: list[Stop], k: int, q: int, horizon: int
) -> BenchInstance:
    durations, distances = _matrices(xy)
    depot = Depot(id="depot", location=0)
    couriers = tuple(
        Courier(id=f"v{i}", start_depot=0, end_depot=0, shift=(0, horizon * SCALE), capacity=q)
        for i in range(k)
    )
    problem = Problem(
        durations=durations,
        distances=distances,
        depots=(depot,),
        couriers=couriers,
        stops=tuple(stops),
        coordinates=xy,
        name=path.stem,
    )
    return BenchInstance(name=path.stem, problem=problem, coordinates=xy, vehicles_available=k)


def read_solomon(path: Path) -> BenchInstance:
    """Parse a Solomon VRPTW file; raise MalformedInstance naming the file and line."""
    lines = _read_lines(path)
    state = "name"
    k = q = -1
    rows: list[tuple[int, list[float]]] = []
    for i, raw in enumerate(lines):
        no, text = i + 1, raw.strip()
        if not text:
            continue
        upper = text.upper()
        if state == "name":
            state = "vehicle_header"
        elif state == "vehicle_header":
            if upper != "VEHICLE":
                raise _fail(path, no, f"expected 'VEHICLE', found {text!r}")
            state = "vehicle_columns"
        elif state == "vehicle_columns":
            state = "vehicle_values"
        elif state == "vehicle_values":
            k, q = (_whole(path, no, v, "vehicles/capacity") for v in _numbers(path, no, text, 2))
            state = "customer_header"
        elif state == "customer_header":
            if upper != "CUSTOMER":
                raise _fail(path, no, f"expected 'CUSTOMER', found {text!r}")
            state = "customer_columns"
        elif state == "customer_columns":
            state = "rows"
        else:
            values = _numbers(path, no, text, 7)
            idx = _whole(path, no, values[0], "customer number")
            if idx != len(rows):
                raise _fail(path, no, f"customer number {idx}, expected {len(rows)}")
            if values[4] > values[5]:
                raise _fail(path, no, f"window [{values[4]}, {values[5]}] is empty")
            rows.append((no, values))
    if len(rows) < 2:
        raise _fail(path, len(lines), "no customers after the depot line")
    xy = np.array([[v[1], v[2]] for _, v in rows], dtype=np.float64)
    depot_no, depot = rows[0]
    horizon = _whole(path, depot_no, depot[5], "depot due date")
    stops = [
        Stop(
            id=str(int(v[0])),
            kind=StopKind.DELIVERY,
            location=int(v[0]),
            windows=(
                (
                    _whole(path, no, v[4], "ready time") * SCALE,
                    _whole(path, no, v[5], "due date") * SCALE,
                ),
            ),
            service=_whole(path, no, v[6], "service time") * SCALE,
            demand=_whole(path, no, v[3], "demand"),
        )
        for no, v in rows[1:]
    ]
    return _bench(path, xy, stops, k, q, horizon)


def read_bks(path: Path) -> dict[str, Bks]:
    """Read a bks.csv (instance, vehicles, distance, ...) keyed by lower-case instance name."""
    out: dict[str, Bks] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        for line_no, row in enumerate(reader, start=2):
            try:
                out[row["instance"].strip().lower()] = Bks(
                    int(row["vehicles"]), float(row["distance"])
                )
            except (KeyError, ValueError, AttributeError) as exc:
                raise _fail(path, line_no, f"bad BKS row {row}") from exc
    return out


def read_solution(path: Path) -> list[list[int]]:
    """Read `Route k : n1 n2 ...` lines (task indices) from a solution file."""
    routes: list[list[int]] = []
    for no, raw in enumerate(_read_lines(path), start=1):
        text = raw.strip()
        if not text.lower().startswith("route"):
            continue
        _, _, rest = text.partition(":")
        try:
            tasks = [int(t) for t in rest.split()]
        except ValueError as exc:
            raise _fail(path, no, f"not a task index in {text!r}") from exc
        if tasks:
            routes.append(tasks)
    return routes


def format_solution(routes: Sequence[Sequence[int]]) -> str:
    """Render routes of task indices as `Route k : n1 n2 ...` lines (k from 1)."""
    return "".join(
        f"Route {k} : {' '.join(str(t) for t in tasks)}\n"
        for k, tasks in enumerate((r for r in routes if r), start=1)
    )
