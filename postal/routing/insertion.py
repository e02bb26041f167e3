"""Greedy reinsertion of dropped stops with our own schedule: cheapest feasible place first.

After an engine's routes are repaired (stops it misplaced removed), this puts every stop it
can back: into an existing route at the cheapest feasible positions, else on an idle courier.
Detours are ranked by matrix cost and only the cheapest few are scheduled, which keeps the
pass fast on routes of a hundred stops.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from postal.routing.prep import Prepared
from postal.routing.schedule import is_feasible

Sequences = dict[int, list[int]]
_TRIES = 12


def _units(prep: Prepared, dropped: Sequence[int]) -> list[list[int]]:
    """Dropped stops as insertion units: [pickup, delivery] for pairs, [stop] otherwise."""
    units: list[list[int]] = []
    done: set[int] = set()
    for s in dropped:
        if s in done:
            continue
        j = prep.partner[s]
        if j >= 0:
            p, d = (s, j) if prep.delta[s] > 0 else (j, s)
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
    mat = problem.durations if by_duration else problem.distances
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
            new_cost = courier_cost + sum(int(mat[x, y]) for x, y in itertools.pairwise(pts))
            if (best is None or new_cost < best[0]) and is_feasible(prep, c, unit):
                best = (new_cost, c, list(unit))
                break
        if best is None:
            left.extend(unit)
        else:
            out[best[1]] = best[2]
    return out, sorted(left)
