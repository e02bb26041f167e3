"""Large days: improve a plan by solving neighbourhoods of its routes again.

On a thousand stops VROOM's local search stalls far from the best known plans (Li & Lim
lr1_10_1 at 60 s: +8.5%), while on eighty stops it comes close in a second. So the routes of
a plan are taken a few at a time, a seed route and the routes nearest to it, and their stops
solved again by VROOM with their couriers alone; the new routes replace the old ones when
they are feasible by our rules and better by the portfolio's order (fewer couriers, then
less travel; money in a priced problem). Nothing is ever made worse, and pairs stay whole
(a pair rides one route, so it is in a neighbourhood whole or not at all).

"Nearest" is read from the travel matrix, so any problem works, coordinates or not: a
route's distance to the seed is the mean, over its stops, of the travel from the nearest of
the seed's stops.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from postal.routing.prep import Prepared, prepare
from postal.routing.schedule import earliest_schedule, is_feasible, money, route_cost

Sequences = dict[int, list[int]]
"""Courier index -> ordered stop indices."""
STOPS_PER_PART = 100
"""Stops per neighbourhood, about."""
PART_SECONDS = 2.0
"""VROOM's time limit per neighbourhood (it stops sooner when its search converges)."""


def _score(
    prep: Prepared, sequences: dict[int, list[int]], by_duration: bool
) -> tuple[int, int] | None:
    """(couriers, travel) of some routes, or (0, money) when priced; None if one breaks a
    rule of ours."""
    couriers = cost = 0
    for c, seq in sequences.items():
        if not seq:
            continue
        if not is_feasible(prep, c, seq):
            return None
        couriers += 1
        if prep.problem.priced:
            route = earliest_schedule(prep, c, seq)
            if route is None:
                return None
            cost += money(prep, route)
        else:
            cost += route_cost(prep, c, seq, by_duration)
    return (0, cost) if prep.problem.priced else (couriers, cost)


def nearest_routes(prep: Prepared, sequences: Sequences, seed: int, count: int) -> list[int]:
    """The courier ``seed`` and the ``count - 1`` couriers whose routes are nearest to it."""
    problem = prep.problem
    routes = [c for c, seq in sequences.items() if seq]
    seed_locs = np.array([problem.stops[s].location for s in sequences[seed]])
    locs = np.array([problem.stops[s].location for c in routes for s in sequences[c]])
    sizes = np.array([len(sequences[c]) for c in routes])
    # Travel from the seed's nearest stop to each stop, averaged per route.
    near = problem.durations[np.ix_(seed_locs, locs)].min(axis=0).astype(np.float64)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    mean = np.add.reduceat(near, starts) / sizes
    order = np.argsort(mean, kind="stable")
    chosen = [routes[i] for i in order[:count]]
    if seed not in chosen:  # ties at distance 0: the seed first anyway
        chosen = [seed, *chosen[: count - 1]]
    return chosen


def improve(
    prep: Prepared,
    sequences: Sequences,
    deadline: float,
    fixed: int,
    by_duration: bool,
    seed: int = 0,
    threads: int = 1,
    stops_per_part: int = STOPS_PER_PART,
    part_seconds: float = PART_SECONDS,
    with_breaks: bool = True,
    on_better: Callable[[Sequences], None] | None = None,
) -> Sequences:
    """``sequences`` improved neighbourhood by neighbourhood until the monotonic
    ``deadline`` (module docstring): as many routes per neighbourhood as hold about
    ``stops_per_part`` stops (two at least), VROOM given ``part_seconds`` for each (on
    ``threads`` threads). ``on_better`` sees the routes after each improvement."""
    from postal.routing.vroom_engine import solve_vroom

    problem = prep.problem
    best = {c: list(seq) for c, seq in sequences.items() if seq}
    if len(best) < 2:
        return best
    rng = random.Random(seed)
    queue: list[int] = []
    mean = sum(len(seq) for seq in best.values()) / len(best)
    routes_per_part = max(2, round(stops_per_part / mean))
    tried: set[int] = set()
    """Neighbourhoods (their routes as they stand) that VROOM did not improve: VROOM would
    solve them the same way again."""

    def key(chosen: list[int]) -> int:
        return hash(frozenset(tuple(best[c]) for c in chosen))

    skipped = 0
    while time.monotonic() < deadline - 0.1 and skipped <= len(best):
        if not queue:
            queue = [c for c in best if best[c]]
            rng.shuffle(queue)
        start = queue.pop()
        if not best.get(start):
            continue
        chosen = nearest_routes(prep, best, start, routes_per_part)
        if key(chosen) in tried:
            skipped += 1  # a whole round of tried neighbourhoods: nothing left to try
            continue
        skipped = 0
        tried.add(key(chosen))
        stops = sorted(s for c in chosen for s in best[c])
        sub = replace(
            problem,
            stops=tuple(problem.stops[s] for s in stops),
            couriers=tuple(problem.couriers[c] for c in chosen),
        )
        left = deadline - time.monotonic()
        if left < 0.2:
            break
        out = solve_vroom(
            prepare(sub),
            min(part_seconds, left),
            fixed,
            by_duration,
            threads=threads,
            exploration=5,
            with_breaks=with_breaks,
        )
        if out.dropped:
            continue
        new = {chosen[k]: [stops[s] for s in seq] for k, seq in out.sequences.items() if seq}
        new_score = _score(prep, new, by_duration)
        old_score = _score(prep, {c: best[c] for c in chosen}, by_duration)
        if new_score is None or old_score is None or new_score >= old_score:
            continue
        for c in chosen:
            best.pop(c, None)
        best.update(new)
        queue.extend(c for c in new if c not in queue)
        if on_better is not None:
            on_better(best)
    return best
