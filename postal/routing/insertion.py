"""Greedy reinsertion of dropped stops with our own schedule: cheapest feasible place first.

After an engine's routes are repaired (stops it misplaced removed), this puts every stop it
can back: into an existing route at the cheapest feasible positions, else on an idle courier.
Detours are ranked by matrix cost and only the cheapest few are scheduled, which keeps the
pass fast on routes of a hundred stops.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from postal.routing.prep import Prepared
from postal.routing.schedule import is_feasible

Sequences = dict[int, list[int]]
_TRIES = 12
_PAIRS_UP_TO = 12
"""swap_in also takes two served units out at once from routes of at most this many."""


def _units(prep: Prepared, dropped: Sequence[int]) -> list[list[int]]:
    """Dropped stops as insertion units: [pickup, delivery] for pairs, [stop] otherwise."""
    units: list[list[int]] = []
    done: set[int] = set()
    for s in dropped:
        if s in done:
            continue
        j = prep.partner[s]
        if j >= 0:
            p, d = (s, j) if prep.is_pickup(s) else (j, s)
            units.append([p, d])
            done.update((p, d))
        else:
            units.append([s])
            done.add(s)

    def urgency(unit: list[int]) -> tuple[int, int]:
        stops = prep.problem.stops
        return (-max(stops[s].priority for s in unit), min(prep.windows[s][-1][1] for s in unit))

    return sorted(units, key=urgency)


def reinsert(
    prep: Prepared,
    sequences: Sequences,
    dropped: Sequence[int],
    courier_cost: int,
    by_duration: bool,
) -> tuple[Sequences, list[int]]:
    """Insert as many ``dropped`` stops as possible; return new sequences and the rest."""
    problem = prep.problem
    mats = problem.all_durations if by_duration else problem.all_distances
    out = {c: list(seq) for c, seq in sequences.items() if seq}
    left: list[int] = []

    def loc(s: int) -> int:
        return problem.stops[s].location

    def path(c: int, seq: list[int]) -> list[int]:
        courier = problem.couriers[c]
        return [
            problem.depots[courier.start_depot].location,
            *(loc(s) for s in seq),
            problem.depots[courier.end_depot].location,
        ]

    for unit in _units(prep, dropped):
        allowed = set(prep.compatible[unit[0]])
        for s in unit[1:]:
            allowed &= set(prep.compatible[s])
        best: tuple[int, int, list[int]] | None = None
        for c, seq in out.items():
            if c not in allowed:
                continue
            pts = path(c, seq)
            mat = mats[problem.couriers[c].profile]
            options: list[tuple[int, int, int]] = []
            a = loc(unit[0])
            b = loc(unit[-1])
            for i in range(len(seq) + 1):
                d1 = int(mat[pts[i], a] + mat[a, pts[i + 1]] - mat[pts[i], pts[i + 1]])
                if len(unit) == 1:
                    options.append((d1, i, i))
                    continue
                for j in range(i, len(seq) + 1):
                    if j == i:
                        d = int(mat[pts[i], a] + mat[a, b] + mat[b, pts[i + 1]])
                        d -= int(mat[pts[i], pts[i + 1]])
                    else:
                        d = d1 + int(mat[pts[j], b] + mat[b, pts[j + 1]] - mat[pts[j], pts[j + 1]])
                    options.append((d, i, j))
            options.sort()
            for detour, i, j in options[:_TRIES]:
                if best is not None and detour >= best[0]:
                    break
                if len(unit) == 1:
                    cand = [*seq[:i], unit[0], *seq[i:]]
                else:
                    cand = [*seq[:i], unit[0], *seq[i:j], unit[1], *seq[j:]]
                if is_feasible(prep, c, cand):
                    best = (detour, c, cand)
                    break
        for c in sorted(allowed):
            if c in out:
                continue
            pts = path(c, unit)
            mat = mats[problem.couriers[c].profile]
            new_cost = courier_cost + sum(int(mat[x, y]) for x, y in itertools.pairwise(pts))
            if (best is None or new_cost < best[0]) and is_feasible(prep, c, unit):
                best = (new_cost, c, list(unit))
                break
        if best is None:
            left.extend(unit)
        else:
            out[best[1]] = best[2]
    return out, sorted(left)


def _left_out(prep: Prepared, dropped: Sequence[int]) -> tuple[int, int]:
    """(priorities, stops) left out: VROOM's order, smaller is better."""
    return sum(max(0, prep.problem.stops[s].priority) for s in dropped), len(dropped)


def swap_in(
    prep: Prepared,
    sequences: Sequences,
    dropped: Sequence[int],
    courier_cost: int,
    by_duration: bool,
    tries: int = 400,
    deadline: float | None = None,
) -> tuple[Sequences, list[int]]:
    """Serve more priority, then more stops: take a served stop (or pair) out of a route to
    make room for a dropped one, then put back what fits, kept when fewer priorities and
    then fewer stops are left out. At most ``tries`` exchanges are tried (a bounded pass for
    what greedy insertion cannot do: one heavy stop instead of two light ones), and none after
    the monotonic ``deadline`` when one is given."""
    out = {c: list(seq) for c, seq in sequences.items() if seq}
    left = sorted(dropped)
    key = _left_out(prep, left)
    improved = True
    while improved and tries > 0 and left:
        improved = False
        for unit in _units(prep, left):
            allowed = set.intersection(*(set(prep.compatible[s]) for s in unit))
            for c in sorted(out):
                if c not in allowed:
                    continue
                served = _units(prep, out[c])
                victims = [*served]
                if len(served) <= _PAIRS_UP_TO:
                    # Two at once: a shipment may need the room of two jobs.
                    victims += [a + b for a, b in itertools.combinations(served, 2)]
                for victim in victims:
                    if tries <= 0 or (deadline is not None and time.monotonic() > deadline):
                        return out, left
                    tries -= 1
                    trial = {**out, c: [s for s in out[c] if s not in victim]}
                    placed, rest = reinsert(prep, trial, unit, courier_cost, by_duration)
                    if rest:
                        continue
                    others = [s for s in left if s not in unit] + victim
                    placed, rest = reinsert(prep, placed, others, courier_cost, by_duration)
                    if _left_out(prep, rest) < key:
                        out, left, key = placed, sorted(rest), _left_out(prep, rest)
                        improved = True
                        break
                if improved:
                    break
            if improved:
                break
    return out, left
