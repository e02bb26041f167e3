"""Li & Lim days that are not in the shared data, made by Li & Lim's own recipe.

The shared data holds one instance per type at a thousand stops (``*_10_1``); the other
nine of each type differ in their time windows, and an optimiser tuned on the first alone
may lose on them. Their recipe (Li & Lim 2001) is reproduced here from a shared instance:

1. The windows change as Solomon's and Gehring & Homberger's instances of one type do:
   variants 2, 3 and 4 take the windows off a quarter, half and three quarters of the
   stops (any time the courier can still get back to the depot), variant 5 widens every
   window by its own width on both sides (R105 against R101).
2. That day is solved as a plain time-window problem (every stop a delivery, VROOM's
   quickest construction, run to convergence on one thread so the result is repeatable).
3. Within each route, stops are paired at random: the earlier one is the pickup and keeps
   its demand, the later one is its delivery. A stop left over in a route of odd length is
   dropped. Every pair then rides a route that served it feasibly, so the day has a
   feasible plan with the time-window fleet.

No best known plan exists for such a day: the engines are compared with each other
(``postal bench li-lim-variants``).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

from postal.routing.instances import SCALE, read_li_lim
from postal.routing.model import Problem, StopKind

VARIANTS: dict[str, tuple[float, int]] = {
    "2": (0.25, 0),
    "3": (0.5, 0),
    "4": (0.75, 0),
    "5": (0.0, 1),
}
"""Variant -> (share of stops whose window is taken off, widening in window widths)."""
CONSTRUCTION_SECONDS = 120.0
"""VROOM's limit for the time-window day; its quickest construction converges long before
(a few seconds on a thousand stops), so the result does not depend on the clock."""


def variant_name(stem: str, variant: str) -> str:
    """The derived day's name: ``lr1_10_1`` variant 2 is ``lr1_10_1v2``."""
    return f"{stem}v{variant}"


def derive(path: Path, variant: str, seed: int = 0) -> str:
    """The text of ``path``'s ``variant`` (see VARIANTS), in Li & Lim's file format.

    Raises KeyError for an unknown variant and MalformedInstance for a bad file.
    """
    share, widen = VARIANTS[variant]
    inst = read_li_lim(path)  # validates the file
    lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    head, rows = lines[0], [t.split() for t in lines[1:]]
    depot = rows[0]
    dx, dy, horizon = float(depot[1]), float(depot[2]), int(float(depot[5]))
    rnd = random.Random(f"{path.stem}:{variant}:{seed}")
    windows: list[tuple[int, int]] = []
    for row in rows[1:]:
        x, y, service = float(row[1]), float(row[2]), int(float(row[6]))
        # Solomon's rule for a stop without a window: any start that still gets back.
        latest = math.floor(horizon - math.hypot(x - dx, y - dy) - service)
        early, late = int(float(row[4])), int(float(row[5]))
        if widen:
            width = late - early
            early, late = (
                max(0, early - widen * width),
                min(max(latest, late), late + widen * width),
            )
        if rnd.random() < share:
            early, late = 0, max(latest, late)
        windows.append((early, late))
    problem = inst.problem
    stops = tuple(
        replace(
            st,
            kind=StopKind.DELIVERY,
            pair=None,
            windows=((windows[s][0] * SCALE, windows[s][1] * SCALE),),
        )
        for s, st in enumerate(problem.stops)
    )
    routes = _time_window_routes(replace(problem, stops=stops))
    # node -> (demand, service, pickup sibling, delivery sibling), nodes numbered as in the file
    role: dict[int, tuple[int, str, int, int]] = {}
    copies: list[tuple[int, int]] = []  # (copied node, the copy's number)
    count = len(rows) - 1
    for route in routes:
        order = list(range(len(route)))
        rnd.shuffle(order)
        for a, b in zip(order[0::2], order[1::2], strict=False):
            first, second = sorted((a, b))
            pickup, delivery = route[first] + 1, route[second] + 1  # stop index -> node
            demand = abs(int(float(rows[pickup][3])))
            role[pickup] = (demand, rows[pickup][6], 0, delivery)
            role[delivery] = (-demand, rows[delivery][6], pickup, 0)
        if len(order) % 2:
            # Li & Lim's rule for the stop left over: a copy of it is its delivery; the pickup
            # takes no service time, the copy the stop's own.
            node = route[order[-1]] + 1
            count += 1
            demand = abs(int(float(rows[node][3])))
            role[node] = (demand, "0", 0, count)
            copies.append((node, count))
    out = ["\t".join(depot)]
    numbered = [(no, no, role[no]) for no in range(1, len(rows)) if no in role]
    for node, copy in copies:
        numbered.append((copy, node, (-role[node][0], rows[node][6], node, 0)))
    for no, node, (demand, service_text, pickup_sib, delivery_sib) in numbered:
        row = rows[node]
        early, late = windows[node - 1]
        fields = [no, row[1], row[2], demand, early, late, service_text, pickup_sib, delivery_sib]
        out.append("\t".join(str(f) for f in fields))
    return head + "\n" + "\n".join(out) + "\n"


def _time_window_routes(problem: Problem) -> list[list[int]]:
    """Routes (stop indices) of VROOM's quickest construction for a time-window day."""
    from postal.routing.prep import prepare
    from postal.routing.solver import cost_scales
    from postal.routing.vroom_engine import solve_vroom

    prep = prepare(problem)
    fixed, _ = cost_scales(prep, False)
    out = solve_vroom(
        prep, CONSTRUCTION_SECONDS, fixed, False, threads=1, exploration=0, with_breaks=False
    )
    return [seq for _, seq in sorted(out.sequences.items()) if seq]


def write_variants(files: list[Path], variants: list[str], out: Path, seed: int = 0) -> list[Path]:
    """Every variant of every file, written to ``out`` (created); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in files:
        for variant in variants:
            target = out / f"{variant_name(path.stem, variant)}.txt"
            target.write_text(derive(path, variant, seed), encoding="utf-8")
            written.append(target)
    return written
