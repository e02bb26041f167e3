"""Compatibility with VROOM itself: random VROOM problems solved by ours and by VROOM (pyvroom).

``random_problem(seed, tasks)`` writes a VROOM input that uses every key the format honours
(see ``vroom_format.INVENTORY``): custom ``durations`` and ``distances``, vehicles with
capacities, shifts, one break (with its id and description), skills, speed factors,
``max_tasks``, ``max_travel_time``, ``max_distance``, open starts or ends, descriptions and
default costs, a second profile (bicycles with matrices of their own); jobs with setups,
services, one or two time windows, deliveries or pickups (or the deprecated ``amount``),
skills and priorities; shipments with the same. Which features a problem uses is drawn from
its seed, breaks aside (``breaks``), so that a run covers problems with and without each.

Both answers, ours written by ``plan_to_vroom`` and VROOM's own, are read back and checked by
the independent checker; ours must also name only ids VROOM would write (``foreign_ids``).
``postal bench vroom-compat`` compares them as VROOM ranks solutions: the sum of the
priorities served, then the tasks served, then the cost (travel time at VROOM's default
costs). Ours puts fewest vehicles before cost (our objective), so the table shows routes too.
Durations are multiples of 20 s and speed factors 0.8, 1 or 1.25, so that VROOM's scaled
durations and ours agree to the second.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from postal.errors import PostalError
from postal.routing.checker import check_plan
from postal.routing.solver import solve
from postal.routing.vroom_format import (
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
    vroom_params,
)

DAY = 8 * 3600
"""Shifts start at 08:00 (seconds since midnight)."""
SPEED_MS = 8.0
"""About 29 km/h."""
SPEED_FACTORS = (1.0, 1.0, 0.8, 1.25)
CSV_COLUMNS = (
    "problem",
    "seed",
    "tasks",
    "features",
    "ours_priority",
    "ours_unassigned",
    "ours_cost",
    "ours_routes",
    "ours_violations",
    "ours_foreign_ids",
    "ours_seconds",
    "vroom_priority",
    "vroom_unassigned",
    "vroom_cost",
    "vroom_routes",
    "vroom_violations",
    "vroom_seconds",
    "no_worse",
    "note",
)


# --- the generator ---------------------------------------------------------------------------


def _matrices(rng: np.random.Generator, n: int) -> tuple[list[list[int]], list[list[int]]]:
    """Durations (multiples of 20 s) and distances (metres) between n random places."""
    xy = rng.uniform(0, 12_000, size=(n, 2))
    metres = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * 1.3)
    seconds = np.rint(metres / SPEED_MS / 20) * 20
    return seconds.astype(np.int64).tolist(), metres.astype(np.int64).tolist()


def _windows(rng: np.random.Generator, lo: int, hi: int, late: bool = False) -> list[list[int]]:
    """None, one or two time windows inside [lo, hi] (the later half of the day if late)."""
    kind = rng.choice(3, p=[0.35, 0.45, 0.2])
    if kind == 0:
        return []
    start = lo + (hi - lo) // 2 if late else lo
    a = int(rng.integers(start, hi - 3600))
    if kind == 1:
        return [[a, a + int(rng.integers(1800, 4 * 3600))]]
    b = int(rng.integers(a + 1800, hi - 1200))
    return [[a, a + 1200], [b, b + int(rng.integers(1200, 3 * 3600))]]


def random_problem(seed: int, tasks: int, breaks: bool | None = None) -> dict[str, Any]:
    """A VROOM input of about ``tasks`` tasks (jobs plus shipment steps) drawn from ``seed``;
    ``breaks`` forces breaks on or off (None: drawn too)."""
    rng = np.random.default_rng(seed)
    coin = rng.random
    features = {
        "breaks": bool(coin() < 0.6) if breaks is None else breaks,
        "setups": bool(coin() < 0.6),
        "skills": bool(coin() < 0.5),
        "priorities": bool(coin() < 0.5),
        "shipments": bool(coin() < 0.6),
        "limits": bool(coin() < 0.5),
        "open_ends": bool(coin() < 0.3),
        "speeds": bool(coin() < 0.4),
    }
    # Costs come from a stream of their own: the rest of a seed's problem stays as it was.
    crng = np.random.default_rng([seed, 1])
    priced = bool(crng.random() < 0.5)
    n_ship = int(tasks * rng.uniform(0.1, 0.3)) if features["shipments"] else 0
    n_jobs = max(tasks - 2 * n_ship, 1)
    n_places = max(2, int((n_jobs + 2 * n_ship) * 0.85)) + 2  # some tasks share a place
    durations, distances = _matrices(rng, n_places)
    depots = [0, 1] if coin() < 0.3 else [0]

    def place() -> int:
        return int(rng.integers(2, n_places))

    n_vehicles = max(2, math.ceil((n_jobs + 2 * n_ship) / rng.uniform(8, 16)))
    vehicles: list[dict[str, Any]] = []
    for k in range(n_vehicles):
        shift = int(rng.integers(5, 10)) * 3600
        home = int(rng.choice(depots))
        v: dict[str, Any] = {
            "id": 100 + k,
            "description": f"van {k}",
            "start_index": home,
            "end_index": home,
            "capacity": [int(rng.integers(6, 16))],
            "time_window": [DAY, DAY + shift],
            "costs": {"fixed": 0, "per_hour": 3600},
        }
        if priced:
            v["costs"] = {
                "fixed": int(crng.choice([0, 0, 600, 3000])),
                "per_hour": int(crng.choice([1800, 3600, 5400])),
                "per_km": int(crng.choice([0, 0, 2, 6])),
                "per_task_hour": int(crng.choice([0, 0, 1800])),
            }
        if coin() < 0.3:
            v.update(profile="car", type="van" if coin() < 0.5 else "bike")
        if coin() < 0.3:
            v["start"] = v["end"] = [105.8 + home / 100, 21.0]  # echoed, matrices rule
        if features["open_ends"] and coin() < 0.5:
            side = "end" if coin() < 0.7 else "start"
            v.pop(side, None)
            del v[f"{side}_index"]
        if features["breaks"]:
            lo = DAY + shift // 2 - 3600
            v["breaks"] = [
                {
                    "id": 1000 + k,
                    "description": "lunch",
                    "time_windows": [[lo, lo + int(rng.integers(1800, 3 * 3600))]],
                    "service": int(rng.choice([900, 1800, 2700])),
                }
            ]
        if features["skills"]:
            v["skills"] = sorted({int(s) for s in rng.choice([1, 2, 3], size=2)})
        if features["speeds"]:
            v["speed_factor"] = float(rng.choice(SPEED_FACTORS))
        if features["limits"]:
            which = rng.choice(3)
            if which == 0:
                v["max_tasks"] = int(rng.integers(4, 14))
            elif which == 1:
                v["max_travel_time"] = int(shift * rng.uniform(0.3, 0.7))
            else:
                v["max_distance"] = int(rng.integers(15_000, 60_000))
        vehicles.append(v)
    if features["skills"]:
        vehicles[0]["skills"] = [1, 2, 3]  # every task has a vehicle that may serve it

    end = DAY + 9 * 3600

    def task(tid: int, late: bool = False) -> dict[str, Any]:
        t: dict[str, Any] = {
            "id": tid,
            "location_index": place(),
            "service": int(rng.integers(1, 31)) * 20,
        }
        if coin() < 0.2:
            t["location"] = [105.8 + t["location_index"] / 1000, 21.0]
        if features["setups"] and coin() < 0.7:
            t["setup"] = int(rng.integers(0, 16)) * 20
        tw = _windows(rng, DAY, end, late)
        if tw:
            t["time_windows"] = tw
        return t

    def extras(t: dict[str, Any]) -> None:
        if features["skills"] and coin() < 0.5:
            t["skills"] = [int(rng.integers(1, 4))]
        if features["priorities"] and coin() < 0.5:
            t["priority"] = int(rng.integers(0, 101))

    jobs = []
    for k in range(n_jobs):
        job = task(1 + k)
        job["description"] = f"job {1 + k}"
        job["delivery" if coin() < 0.6 else "pickup"] = [int(rng.integers(1, 4))]
        extras(job)
        jobs.append(job)
    shipments = []
    for k in range(n_ship):
        sh: dict[str, Any] = {
            "amount": [int(rng.integers(1, 4))],
            "pickup": task(1 + k),
            "delivery": task(1 + k, late=True),
        }
        sh["pickup"]["description"] = f"shipment {1 + k} pickup"
        extras(sh)
        shipments.append(sh)
    # A second capacity dimension (weight and volume, say), and jobs that deliver and pick up,
    # from a stream of their own too.
    arng = np.random.default_rng([seed, 2])
    two_dims = bool(arng.random() < 0.4)
    both_ways = bool(arng.random() < 0.4)
    if two_dims:
        for v in vehicles:
            v["capacity"].append(int(arng.integers(3, 9)))
        for job in jobs:
            for key in ("delivery", "pickup"):
                if key in job:
                    job[key].append(int(arng.integers(0, 3)))
        for sh in shipments:
            sh["amount"].append(int(arng.integers(0, 3)))
    if both_ways:
        for job in jobs:
            if arng.random() < 0.3:
                other = "pickup" if "delivery" in job else "delivery"
                job[other] = [
                    int(arng.integers(0, 3))
                    for _ in job["delivery" if other == "pickup" else "pickup"]
                ]
    # Some jobs that only deliver say so by the deprecated 'amount', which VROOM still reads
    # (a stream of its own).
    lrng = np.random.default_rng([seed, 6])
    for job in jobs:
        if "pickup" not in job and lrng.random() < 0.15:
            job["amount"] = job.pop("delivery")
    # Breaks as VROOM allows them: a second, short one, two windows, a load limit (a stream
    # of their own as well).
    brng = np.random.default_rng([seed, 3])
    more_breaks = features["breaks"] and bool(brng.random() < 0.5)
    if more_breaks:
        for v in vehicles:
            lo, hi = v["time_window"]
            lunch = v["breaks"][0]
            if brng.random() < 0.5:
                morning = lo + int(brng.integers(1, 3)) * 3600
                v["breaks"].insert(
                    0,
                    {"id": lunch["id"] + 5000, "time_windows": [[morning, morning + 3600]],
                     "service": 600},
                )  # fmt: skip
            if brng.random() < 0.4:
                late = lunch["time_windows"][0][1] + 2 * 3600
                if late + 1800 < hi:
                    lunch["time_windows"].append([late, late + 1800])
            if brng.random() < 0.3:
                lunch["max_load"] = [int(x) // 2 for x in v["capacity"]]
    # Setup and service per vehicle type: vans and bikes spend different times at a task.
    trng = np.random.default_rng([seed, 5])
    typed = bool(trng.random() < 0.3)
    if typed:
        for v in vehicles:
            v["type"] = "bike" if trng.random() < 0.5 else "van"
        steps = [*jobs, *(sh[part] for sh in shipments for part in ("pickup", "delivery"))]
        for t in steps:
            if trng.random() < 0.5:
                t["service_per_type"] = {"bike": int(t["service"] * 0.5), "van": t["service"] + 60}
            if trng.random() < 0.3:
                t["setup_per_type"] = {"van": int(trng.integers(0, 10)) * 30}
    # A custom cost matrix (the vehicles' per_hour and per_km then keep their defaults).
    mrng = np.random.default_rng([seed, 4])
    custom = not priced and bool(mrng.random() < 0.3)
    matrices: dict[str, Any] = {"durations": durations, "distances": distances}
    if custom:
        toll = mrng.integers(0, 3, size=(len(durations), len(durations)))
        matrices["costs"] = [
            [int(d + m // 10 + 100 * t * (d > 0)) for d, m, t in zip(drow, mrow, trow, strict=True)]
            for drow, mrow, trow in zip(durations, distances, toll.tolist(), strict=True)
        ]
    # A second profile for some vehicles: bicycles, quicker than vans on short legs through
    # the old quarter, slower on long ones, on shorter roads (a stream of its own).
    prng = np.random.default_rng([seed, 7])
    profiles = {"car": matrices}
    two_profiles = bool(prng.random() < 0.3)
    if two_profiles:
        dur = np.array(durations)
        short = dur <= np.median(dur)
        bike: dict[str, Any] = {
            # Multiples of 20 s, as the vans' (see above).
            "durations": (np.where(short, dur * 7 // 10, dur * 3 // 2) // 20 * 20).tolist(),
            "distances": (np.array(distances) * 9 // 10).tolist(),
        }
        if custom:
            bike["costs"] = (np.array(matrices["costs"]) * 8 // 10).tolist()
        profiles["bike"] = bike
        for v in vehicles:
            if prng.random() < 0.5:
                v["profile"] = "bike"
    out: dict[str, Any] = {
        "vehicles": vehicles,
        "jobs": jobs,
        "matrices": profiles,
    }
    if shipments:
        out["shipments"] = shipments
    extra = {
        "costs": priced,
        "two_dims": two_dims,
        "both_ways": both_ways,
        "more_breaks": more_breaks,
        "custom_costs": custom,
        "per_type": typed,
        "profiles": two_profiles,
    }
    out["_features"] = sorted(k for k, on in {**features, **extra}.items() if on)
    return out


def vroom_input(problem: dict[str, Any]) -> dict[str, Any]:
    """The problem without the generator's notes (what is given to either solver)."""
    return {k: v for k, v in problem.items() if not k.startswith("_")}


def task_count(problem: dict[str, Any]) -> int:
    """Jobs plus shipment steps."""
    return len(problem.get("jobs", [])) + 2 * len(problem.get("shipments", []))


# --- checks ----------------------------------------------------------------------------------


def foreign_ids(problem: dict[str, Any], output: dict[str, Any]) -> list[str]:
    """Ids in ``output`` that VROOM would not write for ``problem``: unknown vehicles, tasks
    or breaks, a task missing or written twice (routes and unassigned together)."""
    tasks = {("job", j["id"]) for j in problem.get("jobs", [])}
    for sh in problem.get("shipments", []):
        tasks |= {("pickup", sh["pickup"]["id"]), ("delivery", sh["delivery"]["id"])}
    vehicles = {v["id"]: v for v in problem["vehicles"]}
    out: list[str] = []
    seen: list[tuple[str, int]] = []
    for r in output.get("routes", []):
        v = vehicles.get(r.get("vehicle"))
        if v is None:
            out.append(f"vehicle {r.get('vehicle')}")
            continue
        breaks = {b["id"] for b in v.get("breaks", [])}
        for step in r["steps"]:
            kind = step["type"]
            if kind == "break" and step.get("id") not in breaks:
                out.append(f"break {step.get('id')} of vehicle {v['id']}")
            elif kind in ("job", "pickup", "delivery"):
                seen.append((kind, step.get("id")))
    seen += [(u.get("type", "job"), u.get("id")) for u in output.get("unassigned", [])]
    out += [f"{k} {i}" for k, i in seen if (k, i) not in tasks]
    out += [f"{k} {i} written twice" for k, i in sorted(set(seen)) if seen.count((k, i)) > 1]
    out += [f"{k} {i} missing" for k, i in sorted(tasks - set(seen))]
    return out


def violations(problem: dict[str, Any], output: dict[str, Any]) -> list[str]:
    """What the independent checker finds in ``output`` (read back into our model)."""
    prob, ids = problem_from_vroom(copy.deepcopy(vroom_input(problem)))
    try:
        plan = plan_from_vroom(prob, ids, output)
    except (KeyError, ValueError) as exc:
        return [f"unreadable: {exc!r}"]
    return [f"{v.kind}: {v.message}" for v in check_plan(prob, plan)]


# --- solving ---------------------------------------------------------------------------------


def solve_ours(
    problem: dict[str, Any], time_limit: float, seed: int = 0, workers: int = 2
) -> dict[str, Any]:
    """Our answer in VROOM's output format, solved as POST /optimise solves it."""
    prob, ids = problem_from_vroom(copy.deepcopy(vroom_input(problem)))
    plan = solve(prob, vroom_params(time_limit, seed, workers, source=vroom_input(problem)))
    out: dict[str, Any] = json.loads(json.dumps(plan_to_vroom(prob, ids, plan)))
    return out


def solve_vroom(problem: dict[str, Any], time_limit: float, threads: int = 2) -> dict[str, Any]:
    """VROOM's own answer (pyvroom, exploration level 5) with the same time limit."""
    import vroom

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.json"
        path.write_text(json.dumps(vroom_input(problem)), encoding="utf-8")
        inp = vroom.Input.from_json(path)
    sol = inp.solve(
        exploration_level=5, nb_threads=threads, timeout=dt.timedelta(seconds=time_limit)
    )
    out: dict[str, Any] = sol.to_dict()
    return out


# --- the bench -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One solver's answer as VROOM ranks it, and what the checks found."""

    priority: int
    unassigned: int
    cost: int
    routes: int
    violations: int
    foreign: int
    seconds: float
    note: str = ""

    def key(self) -> tuple[int, int, int]:
        """VROOM's order: most priority served, then most tasks, then least cost."""
        return -self.priority, self.unassigned, self.cost


@dataclass(frozen=True)
class CompatRow:
    """One problem: ours against VROOM."""

    problem: str
    seed: int
    tasks: int
    features: str
    ours: Side
    vroom: Side

    @property
    def no_worse(self) -> bool:
        """Ours feasible and at least as good as VROOM in VROOM's order."""
        ok = self.ours.violations == 0 and self.ours.foreign == 0 and not self.ours.note
        return ok and self.ours.key() <= self.vroom.key()

    @property
    def gap(self) -> float:
        """Cost over VROOM's, where both serve the same priorities and tasks (else nan)."""
        if self.ours.key()[:2] != self.vroom.key()[:2] or not self.vroom.cost:
            return float("nan")
        return self.ours.cost / self.vroom.cost - 1


def _side(problem: dict[str, Any], run: Callable[[], dict[str, Any]], ours: bool) -> Side:
    t0 = time.perf_counter()
    try:
        out = run()
    except (PostalError, RuntimeError, ValueError) as exc:
        return Side(0, task_count(problem), 0, 0, 0, 0, time.perf_counter() - t0, repr(exc)[:80])
    seconds = time.perf_counter() - t0
    summary = out.get("summary", {})
    return Side(
        priority=int(summary.get("priority", 0)),
        unassigned=len(out.get("unassigned", [])),
        cost=int(summary.get("cost", 0)),
        routes=len(out.get("routes", [])),
        violations=len(violations(problem, out)),
        foreign=len(foreign_ids(problem, out)) if ours else 0,
        seconds=seconds,
    )


def compare(
    seed: int, tasks: int, time_limit: float, breaks: bool | None = None, workers: int = 2
) -> CompatRow:
    """Generate one problem and solve it with both."""
    problem = random_problem(seed, tasks, breaks)
    return CompatRow(
        problem=f"p{seed:04d}",
        seed=seed,
        tasks=task_count(problem),
        features="+".join(problem["_features"]),
        ours=_side(problem, lambda: solve_ours(problem, time_limit, seed, workers), True),
        vroom=_side(problem, lambda: solve_vroom(problem, time_limit, workers), False),
    )


def _line(r: CompatRow) -> str:
    def cell(s: Side) -> str:
        bad = f" !{s.violations + s.foreign}" if s.violations or s.foreign else ""
        return f"{s.priority:>5} {s.unassigned:>3} {s.cost:>7} {s.routes:>3} {s.seconds:>5.1f}{bad}"

    gap = "-" if math.isnan(r.gap) else f"{100 * r.gap:+.2f}"
    return (
        f"{r.problem:<6} {r.tasks:>4} | {cell(r.ours)} | {cell(r.vroom)} | {gap:>7} "
        f"{'y' if r.no_worse else 'n'}  {r.features}"
    )


HEADER = (
    f"{'problem':<6} {'tasks':>4} | {'prio':>5} {'un':>3} {'cost':>7} {'rts':>3} {'s':>5}"
    f" | {'prio':>5} {'un':>3} {'cost':>7} {'rts':>3} {'s':>5} | {'gap%':>7} ok  features\n"
    f"{'':<11} | {'ours':<27} | {'vroom':<27} |"
)


def sizes(problems: int, seed: int, lo: int = 10, hi: int = 300) -> list[int]:
    """Task counts for ``problems`` problems, spread over [lo, hi] (seeded)."""
    rng = np.random.default_rng(seed)
    return [int(x) for x in rng.integers(lo, hi + 1, size=problems)]


def run_compat(
    problems: int,
    time_limit: float,
    out: Path,
    echo: Callable[[str], None],
    seed: int = 0,
    workers: int = 2,
    lo: int = 10,
    hi: int = 300,
) -> list[CompatRow]:
    """Solve ``problems`` random problems with both, echo a table, write results.csv."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[CompatRow] = []
    echo(HEADER)
    with (out / "vroom_compat.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for k, n in enumerate(sizes(problems, seed, lo, hi)):
            # Every other problem with breaks, so that both kinds are covered.
            row = compare(seed * 100_003 + k, n, time_limit, breaks=k % 2 == 0, workers=workers)
            rows.append(row)
            o, v = asdict(row.ours), asdict(row.vroom)
            writer.writerow(
                [row.problem, row.seed, row.tasks, row.features]
                + [o[f] for f in ("priority", "unassigned", "cost", "routes")]
                + [o["violations"], o["foreign"], f"{o['seconds']:.2f}"]
                + [v[f] for f in ("priority", "unassigned", "cost", "routes", "violations")]
                + [f"{v['seconds']:.2f}", str(row.no_worse).lower(), o["note"] or v["note"]]
            )
            fh.flush()
            echo(_line(row))
    for text in compat_summary(rows):
        echo(text)
    return rows


def compat_summary(rows: Sequence[CompatRow], worst: int = 5) -> list[str]:
    """The share no worse than VROOM, the checks' totals and the worst cases."""
    if not rows:
        return ["no problems"]
    n = len(rows)
    no_worse = sum(r.no_worse for r in rows)
    gaps = [r.gap for r in rows if not math.isnan(r.gap)]
    more_routes = sum(r.ours.routes < r.vroom.routes for r in rows)
    lines = [
        f"ours no worse than VROOM (priority served, tasks served, cost): {no_worse}/{n} "
        f"({100 * no_worse / n:.0f}%)",
        f"ours infeasible by the checker: {sum(r.ours.violations > 0 for r in rows)}, "
        f"with ids VROOM would not write: {sum(r.ours.foreign > 0 for r in rows)}, "
        f"failed: {sum(bool(r.ours.note) for r in rows)}; "
        f"VROOM's plans failing our checker: {sum(r.vroom.violations > 0 for r in rows)}",
        f"same tasks served: {len(gaps)}, mean cost gap "
        f"{100 * sum(gaps) / len(gaps) if gaps else float('nan'):+.2f}%; "
        f"ours with fewer routes on {more_routes}",
    ]

    def badness(r: CompatRow) -> tuple[int, int, float]:
        o, v = r.ours.key(), r.vroom.key()
        return (o[0] - v[0], o[1] - v[1], r.ours.cost / max(r.vroom.cost, 1))

    bad = sorted((r for r in rows if not r.no_worse), key=badness, reverse=True)[:worst]
    if bad:
        lines.append("worst cases:")
        lines += [f"  {_line(r)}" for r in bad]
    return lines
