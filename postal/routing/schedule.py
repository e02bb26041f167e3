"""Solver-side time propagation: turn an ordered list of stops into a scheduled route.

Earliest-start propagation is exact for feasibility with waiting allowed and start-of-service
windows; the courier's break is placed in the gap that delays the route least (or after the
route when it ends early enough); several breaks, breaks with several windows or a load limit
are placed by a dynamic programme over (points served, breaks taken). Any engine's sequences
go through here before becoming a Plan, so a sequence an engine got wrong (e.g. PyVRP's
relaxation of multi-window stops) is detected here and repaired by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from postal.routing.model import CourierBreak, Problem, Route, Visit, route_money
from postal.routing.prep import Prepared, travel_time

Timed = tuple[list[tuple[int, int, int]], int, int | None]
"""(arrival, start, departure) per stop, the route's end, the (first) break's start."""


def _first_start(windows: Sequence[tuple[int, int]], ready: int) -> int | None:
    for lo, hi in windows:
        if ready <= hi:
            return max(ready, lo)
    return None


def _loads(prep: Prepared, courier: int, seq: Sequence[int]) -> list[int] | None:
    """Loads in dimension 0 at the start and after each stop; None when some dimension's
    load leaves [0, capacity]."""
    out: list[int] = []
    for d in range(prep.dims):
        cap = prep.capacities[courier][d]
        delta, depot = prep.deltas[d], prep.depot_loads[d]
        load = sum(depot[s] for s in seq)
        if load > cap:
            return None
        loads = [load]
        for s in seq:
            load += delta[s]
            if load < 0 or load > cap:
                return None
            loads.append(load)
        if d == 0:
            out = loads
    return out


def _precedence_ok(prep: Prepared, seq: Sequence[int]) -> bool:
    pos = {s: k for k, s in enumerate(seq)}
    for s, k in pos.items():
        j = prep.partner[s]
        if j >= 0 and j in pos and prep.is_pickup(s) and pos[j] < k:
            return False
    return True


def _forward(
    prep: Prepared, courier: int, seq: Sequence[int], gap: int | None, depart: int
) -> tuple[list[tuple[int, int, int]], int, int | None] | None:
    """Propagate times from ``depart`` with the break in ``gap`` (None = no break inside).

    Returns ([(arrival, start, departure)...], end, break_start) or None if infeasible.
    """
    problem = prep.problem
    c = problem.couriers[courier]
    brk = c.break_
    loc = problem.depots[c.start_depot].location
    t = depart
    times: list[tuple[int, int, int]] = []
    b_start: int | None = None
    for k, s in enumerate(seq):
        stop = problem.stops[s]
        tr = travel_time(problem, c, loc, stop.location)
        if brk is not None and gap == k:
            b = max(t, brk.earliest_start)
            if b > brk.latest_start:
                return None
            ready = max(t + tr, b) + brk.duration
            arrival = t + tr if t + tr <= b else ready
            b_start = b
        else:
            ready = arrival = t + tr
        start = _first_start(prep.windows[s], ready)
        if start is None:
            return None
        # Setup only on arriving from another place (VROOM's rule), then the service.
        t = start + (stop.setup_for(c) if stop.location != loc else 0) + stop.service_for(c)
        times.append((arrival, start, t))
        loc = stop.location
    tr = travel_time(problem, c, loc, problem.depots[c.end_depot].location)
    if brk is not None and gap == len(seq):
        b = max(t, brk.earliest_start)
        if b > brk.latest_start:
            return None
        end = max(t + tr, b) + brk.duration
        b_start = b
    else:
        end = t + tr
    if end > c.shift[1]:
        return None
    return times, end, b_start


def earliest_schedule(
    prep: Prepared,
    courier: int,
    seq: Sequence[int],
    check_load: bool = True,
    compact: bool = True,
) -> Route | None:
    """Schedule ``seq`` for ``courier`` as early as possible; None when infeasible.

    ``check_load=False`` checks times only (for half of a pair examined alone). In a priced
    problem (working time costs money) and with ``compact``, the route then leaves as late as
    absorbs its waiting without coming back later.
    """
    problem = prep.problem
    c = problem.couriers[courier]
    if not seq:
        return Route(courier=courier, visits=(), start=c.shift[0], end=c.shift[0], distance=0)
    loads = _loads(prep, courier, seq) if check_load else [0] * (len(seq) + 1)
    if loads is None or not _precedence_ok(prep, seq) or not within_limits(prep, courier, seq):
        return None
    route = _scheduled(prep, courier, seq, loads, c.shift[0])
    if route is None or not compact or not problem.priced:
        return route
    # Priced working time: leave later where that removes waiting without a later return.
    delay = _waiting_slack(prep, route)
    while delay > 0:
        later = _scheduled(prep, courier, seq, loads, route.start + delay)
        if later is not None and later.end <= route.end and later.start > route.start:
            return later
        delay //= 2
    return route


def _waiting_slack(prep: Prepared, route: Route) -> int:
    """How much later the route could leave and absorb its waiting: the least, over its
    visits, of the waiting up to there plus the room left in the visit's window (Savelsbergh's
    forward time slack), no more than the route's whole waiting."""
    waited = 0
    slack: int | None = None
    for v in route.visits:
        waited += v.start - v.arrival
        room = next((hi - v.start for lo, hi in prep.windows[v.stop] if lo <= v.start <= hi), 0)
        stop = prep.problem.stops[v.stop]
        if stop.deadline is not None:
            room = min(room, stop.deadline - v.departure)
        slack = waited + room if slack is None else min(slack, waited + room)
    return max(0, min(slack or 0, waited))


def _scheduled(
    prep: Prepared, courier: int, seq: Sequence[int], loads: list[int], depart: int
) -> Route | None:
    """The earliest schedule of ``seq`` leaving no earlier than ``depart``."""
    problem = prep.problem
    c = problem.couriers[courier]
    more: tuple[int, ...] = ()
    chosen: Timed | None
    if c.simple_break:
        plain = _forward(prep, courier, seq, None, depart)
        chosen = None if plain is None else _one_break(prep, courier, seq, depart, plain)
        if chosen is None:
            return None
        first_break = chosen[2]
    else:
        several = _with_breaks(prep, courier, seq, depart)
        if several is None:
            return None
        times_, end_, starts = several
        chosen = (times_, end_, starts[0])
        more = starts[1:]
        first_break = min(starts)
    times, end, b_start = chosen
    start = depart
    first_loc = problem.stops[seq[0]].location
    home = problem.depots[c.start_depot].location
    if first_break is None or first_break >= times[0][1]:
        # Leave as late as the first visit allows: no pointless waiting at the first stop.
        start = max(start, times[0][1] - travel_time(problem, c, home, first_loc))
    visits: list[Visit] = []
    prev = home
    total = 0
    distances = problem.distances_for(c)
    for k, s in enumerate(seq):
        loc = problem.stops[s].location
        d = int(distances[prev, loc])
        total += d
        arrival, st, dep = times[k]
        if k == 0:
            arrival = max(arrival, start + travel_time(problem, c, home, loc))
            arrival = min(arrival, st)
        visits.append(Visit(s, arrival, st, dep, loads[k + 1], d))
        prev = loc
    total += int(distances[prev, problem.depots[c.end_depot].location])
    return Route(
        courier=courier,
        visits=tuple(visits),
        start=start,
        end=end,
        distance=total,
        break_start=b_start,
        start_load=loads[0],
        more_break_starts=more,
    )


def _one_break(
    prep: Prepared, courier: int, seq: Sequence[int], depart: int, plain: Timed
) -> Timed | None:
    """The plain schedule with the courier's one simple break placed where it delays the
    route least (after the route when it ends early enough)."""
    c = prep.problem.couriers[courier]
    chosen = plain
    brk = c.break_
    if brk is not None:
        end = plain[1]
        if max(end, brk.earliest_start) <= brk.latest_start:
            chosen = (plain[0], end, max(end, brk.earliest_start))
        else:
            best: tuple[list[tuple[int, int, int]], int, int | None] | None = None
            for gap in range(len(seq) + 1):
                cand = _forward(prep, courier, seq, gap, depart)
                if cand is not None and (best is None or cand[1] < best[1]):
                    best = cand
            if best is None:
                return None
            chosen = best
    return chosen


def within_limits(prep: Prepared, courier: int, seq: Sequence[int]) -> bool:
    """True when ``seq`` keeps to the courier's max_tasks, max_travel_time and max_distance."""
    c = prep.problem.couriers[courier]
    if c.max_tasks is not None and len(seq) > c.max_tasks:
        return False
    if c.max_travel_time is not None and route_cost(prep, courier, seq, True) > c.max_travel_time:
        return False
    return c.max_distance is None or route_cost(prep, courier, seq, False) <= c.max_distance


def is_feasible(prep: Prepared, courier: int, seq: Sequence[int]) -> bool:
    """True when ``seq`` can be scheduled for ``courier``."""
    return earliest_schedule(prep, courier, seq, compact=False) is not None


def route_cost(prep: Prepared, courier: int, seq: Sequence[int], by_duration: bool) -> int:
    """Travel cost of depot -> seq -> depot (distance or travel time)."""
    problem = prep.problem
    c = problem.couriers[courier]
    path = [
        problem.depots[c.start_depot].location,
        *(problem.stops[s].location for s in seq),
        problem.depots[c.end_depot].location,
    ]
    if by_duration:
        return sum(travel_time(problem, c, a, b) for a, b in itertools.pairwise(path))
    distances = problem.distances_for(c)
    return sum(int(distances[a, b]) for a, b in itertools.pairwise(path))


def task_time(prep: Prepared, route: Route) -> int:
    """Setup applied and service over the route's visits and its break (VROOM's task time:
    a break's service counts as service)."""
    breaks = prep.problem.couriers[route.courier].breaks
    taken = sum(b.duration for b in breaks) if route.break_start is not None else 0
    return sum(v.departure - v.start for v in route.visits) + taken


def money(prep: Prepared, route: Route) -> int:
    """The priced objective of a scheduled route, in cost units (model.route_money)."""
    if not route.visits:
        return 0
    courier = prep.problem.couriers[route.courier]
    travel = route_cost(prep, route.courier, [v.stop for v in route.visits], True)
    return route_money(
        courier,
        route.start,
        route.end,
        route.distance,
        travel,
        task_time(prep, route),
        arc_cost(prep.problem, route),
    )


def arc_cost(problem: Problem, route: Route) -> int:
    """The custom cost matrix summed along the route, depot to depot (0 without one)."""
    courier = problem.couriers[route.courier]
    arcs = problem.arc_costs_for(courier)
    if arcs is None or not route.visits:
        return 0
    path = [
        problem.depots[courier.start_depot].location,
        *(problem.stops[v.stop].location for v in route.visits),
        problem.depots[courier.end_depot].location,
    ]
    return sum(int(arcs[a, b]) for a, b in itertools.pairwise(path))


def _point_loads(prep: Prepared, courier: int, seq: Sequence[int]) -> list[tuple[int, ...]]:
    """The load in every dimension at each point: leaving the depot, then after each stop."""
    load = [sum(prep.depot_loads[d][s] for s in seq) for d in range(prep.dims)]
    out = [tuple(load)]
    for s in seq:
        load = [x + prep.deltas[d][s] for d, x in enumerate(load)]
        out.append(tuple(load))
    return out


def _gap(
    prep: Prepared,
    courier: int,
    order: Sequence[int],
    t: int,
    travel: int,
    load: tuple[int, ...] | None,
) -> tuple[int, int, list[int]] | None:
    """Travel from a point left at ``t`` to the next, taking the breaks ``order`` (indices
    into Courier.breaks) on the way, each as early as it may start: (ready, arrival, break
    starts), or None when a break cannot be taken there. Travel fills the time around the
    breaks, so the next point is ready once both the travel and the breaks are done."""
    breaks = prep.problem.couriers[courier].breaks
    if not order:
        return t + travel, t + travel, []
    cur, spent, starts = t, 0, []
    for b in order:
        brk = breaks[b]
        if load is not None and not brk.allows(load):
            return None
        at = _first_start(brk.starts, cur)
        if at is None:
            return None
        starts.append(at)
        cur = at + brk.duration
        spent += brk.duration
    ready = max(t + travel + spent, cur)
    return ready, (t + travel if t + travel <= starts[0] else ready), starts


_Back = tuple[int, tuple[int, ...], list[int], int, int, int]
"""How a state was reached: (previous mask, run of breaks, their starts, arrival, start,
departure)."""


def _runs(breaks: Sequence[CourierBreak], taken: int) -> list[tuple[int, ...]]:
    """The runs of breaks (indices) that may be taken in one gap once the set ``taken`` (a
    bit mask, a prefix of the breaks) is: the next ones in their given order, as VROOM takes
    them; the empty run first."""
    left = [b for b in range(len(breaks)) if not taken >> b & 1]
    return [tuple(left[:r]) for r in range(len(left) + 1)]


def _with_breaks(
    prep: Prepared, courier: int, seq: Sequence[int], depart: int
) -> tuple[list[tuple[int, int, int]], int, tuple[int, ...]] | None:
    """The earliest schedule with several breaks, or breaks with several windows or a load
    limit: (times per stop, end, start of each break in Courier.breaks order), or None.

    A dynamic programme over (points served, breaks taken) keeps the earliest departure of
    each state, which dominates: with waiting allowed, leaving a point earlier never makes
    what follows less feasible. Breaks are taken in their given order (VROOM's rule)."""
    problem = prep.problem
    c = problem.couriers[courier]
    breaks = c.breaks
    m = len(breaks)
    full = (1 << m) - 1
    loads = (
        _point_loads(prep, courier, seq) if any(b.max_load is not None for b in breaks) else None
    )
    runs = {mask: _runs(breaks, mask) for mask in range(full + 1)}
    loc = problem.depots[c.start_depot].location
    state: dict[int, int] = {0: depart}
    back: list[dict[int, _Back]] = []
    for k, s in enumerate(seq):
        stop = problem.stops[s]
        travel = travel_time(problem, c, loc, stop.location)
        setup = stop.setup_for(c) if stop.location != loc else 0
        service = stop.service_for(c)
        load = loads[k] if loads is not None else None
        new: dict[int, int] = {}
        step: dict[int, _Back] = {}
        for mask, t in state.items():
            for run in runs[mask]:
                g = _gap(prep, courier, run, t, travel, load)
                if g is None:
                    continue
                ready, arrival, starts = g
                start = _first_start(prep.windows[s], ready)
                if start is None:
                    continue
                dep = start + setup + service
                after = mask | sum(1 << b for b in run)
                if after not in new or dep < new[after]:
                    new[after] = dep
                    step[after] = (mask, run, starts, arrival, start, dep)
        if not new:
            return None
        state = new
        back.append(step)
        loc = stop.location
    travel = travel_time(problem, c, loc, problem.depots[c.end_depot].location)
    load = loads[-1] if loads is not None else None
    finish: tuple[int, int, tuple[int, ...], list[int]] | None = None
    for mask, t in state.items():
        for run in runs[mask]:
            if mask | sum(1 << b for b in run) != full:
                continue
            g = _gap(prep, courier, run, t, travel, load)
            if g is not None and g[0] <= c.shift[1] and (finish is None or g[0] < finish[0]):
                finish = (g[0], mask, run, g[2])
    if finish is None:
        return None
    end, mask, run, starts = finish
    at: dict[int, int] = dict(zip(run, starts, strict=True))
    times: list[tuple[int, int, int]] = [(0, 0, 0)] * len(seq)
    for k in range(len(seq) - 1, -1, -1):
        prev, run, gap_starts, arrival, start, dep = back[k][mask]
        at.update(zip(run, gap_starts, strict=True))
        times[k] = (arrival, start, dep)
        mask = prev
    return times, end, tuple(at[b] for b in range(m))
