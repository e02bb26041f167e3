"""Plan mode for routes given in order by a person: ETAs and VROOM's violations.

A dispatcher's hand edit fixes the order of a route's stops; what it does to the day is
plan mode's question (VROOM's ``-c``, ``plan_mode.choose_eta``): the best times for that
order, and every rule the order breaks, with how much. Here a route of our own model
(a courier and a sequence of stops) is written as VROOM's input with ``steps``, timed by
``choose_eta``, and read back as our ``Route`` with each stop's lead time and delay and the
route's causes (``delay``, ``lead_time``, ``load``, ``precedence``, ``missing_break``, ...).

The windows given to plan mode are the stops' own windows met with their desk's opening
hours (service ending before the desk closes), never the tightened windows the search uses,
so a delay is measured against what the citizen or the desk was told. The courier's breaks
go where the search's own schedule would take them when the order is feasible; otherwise
plan mode is asked with the break at the gaps around lunch time, and the answer breaking
the fewest rules (then least lead time and delay) is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postal.routing.model import Problem, Route, StopKind, Visit, Window
from postal.routing.plan_mode import choose_eta
from postal.routing.prep import (
    INF,
    Prepared,
    intersect,
    normalise,
    picked,
    prepare,
    travel_time,
)
from postal.routing.schedule import earliest_schedule, is_feasible

WORKERS = 8
"""CP-SAT workers per plan-mode solve: its portfolio times a 40-stop route that breaks rules
in about a second where one worker takes several (any of the equally good ETAs will do)."""


@dataclass(frozen=True)
class TimedStop:
    """A stop of a timed route: its lead time (served before its window) and delay (after),
    in seconds, and VROOM's causes at that step."""

    stop: int
    lead: int
    delay: int
    causes: frozenset[str]


@dataclass(frozen=True)
class TimedRoute:
    """A route as plan mode times it, with its stops' violations and the route's causes."""

    route: Route
    stops: tuple[TimedStop, ...]
    causes: frozenset[str]
    lead: int
    delay: int
    waiting: int

    @property
    def badness(self) -> tuple[int, int]:
        """Rules broken, then lead time plus delay: smaller is better."""
        return len(self.causes), self.lead + self.delay


def own_windows(problem: Problem, s: int) -> tuple[Window, ...]:
    """Stop ``s``'s windows as promised: its own met with its desk's opening (the service
    ending before closing); empty when it has none."""
    stop = problem.stops[s]
    windows = normalise(stop.windows) if stop.windows else ((0, INF),)
    if stop.desk is not None:
        opening = problem.desks[stop.desk].windows_on(problem.date)
        if opening is not None:
            task = stop.longest_task
            windows = intersect(windows, normalise([(lo, hi - task) for lo, hi in opening]))
    if stop.deadline is not None:
        windows = intersect(windows, ((0, stop.deadline - stop.longest_task),))
    return () if windows == ((0, INF),) else windows


def _task(problem: Problem, s: int) -> dict[str, Any]:
    stop = problem.stops[s]
    out: dict[str, Any] = {"id": s, "location_index": stop.location, "service": stop.service}
    if stop.setup:
        out["setup"] = stop.setup
    windows = own_windows(problem, s)
    if windows:
        out["time_windows"] = [[lo, hi] for lo, hi in windows]
    elif stop.windows or stop.desk is not None:
        # Promised windows that cannot be met at all (a desk closed all day): a window of
        # nothing, so any visit is a delay rather than allowed at any time.
        out["time_windows"] = [[0, 0]]
    return out


def vroom_input(prep: Prepared, courier: int, steps: Sequence[int | None]) -> dict[str, Any]:
    """VROOM's input for one courier driving ``steps`` (stop indices; each None is the
    courier's next break, in the order of ``Courier.breaks``),
    with the stops of that order and their pair partners as jobs and shipments."""
    problem = prep.problem
    c = problem.couriers[courier]
    dims = problem.dims
    stops = [s for s in steps if s is not None]
    wanted = sorted({*stops, *(prep.partner[s] for s in stops if prep.partner[s] >= 0)})
    jobs: list[dict[str, Any]] = []
    shipments: list[dict[str, Any]] = []
    for s in wanted:
        stop = problem.stops[s]
        j = prep.partner[s]
        if j < 0:
            jobs.append(
                {
                    **_task(problem, s),
                    "delivery": [prep.depot_loads[d][s] for d in range(dims)],
                    "pickup": picked(prep, s),
                }
            )
        elif stop.kind is StopKind.PICKUP:
            shipments.append(
                {
                    "pickup": _task(problem, s),
                    "delivery": _task(problem, j),
                    "amount": [prep.deltas[d][s] for d in range(dims)],
                }
            )
    vehicle: dict[str, Any] = {
        "id": courier,
        "start_index": problem.depots[c.start_depot].location,
        "end_index": problem.depots[c.end_depot].location,
        "time_window": list(c.shift),
        "capacity": list(prep.capacities[courier]),
        "breaks": [
            {"id": k, "time_windows": [[lo, hi] for lo, hi in b.starts], "service": b.duration}
            | ({} if b.max_load is None else {"max_load": list(b.max_load)})
            for k, b in enumerate(c.breaks)
        ],
        "steps": [{"type": "start"}, *_steps(prep, steps), {"type": "end"}],
    }
    if c.speed_percent != 100:
        vehicle["speed_factor"] = c.speed_percent / 100
    matrix = {
        "durations": problem.durations_for(c).tolist(),
        "distances": problem.distances_for(c).tolist(),
    }
    return {
        "vehicles": [vehicle],
        "jobs": jobs,
        "shipments": shipments,
        "matrices": {"car": matrix},
    }


def _steps(prep: Prepared, steps: Sequence[int | None]) -> list[dict[str, Any]]:
    """VROOM's steps: a task per stop, the courier's breaks in their order for the Nones."""
    out: list[dict[str, Any]] = []
    breaks = 0
    for s in steps:
        if s is None:
            out.append({"type": "break", "id": breaks})
            breaks += 1
        else:
            out.append({"type": _kind(prep, s), "id": s})
    return out


def _kind(prep: Prepared, s: int) -> str:
    if prep.partner[s] < 0:
        return "job"
    return "pickup" if prep.problem.stops[s].kind is StopKind.PICKUP else "delivery"


def _read(prep: Prepared, courier: int, output: dict[str, Any]) -> TimedRoute:
    """Our route from plan mode's answer for one courier."""
    problem = prep.problem
    if not output["routes"]:  # nothing to drive
        shift = problem.couriers[courier].shift
        empty = Route(courier, (), shift[0], shift[0], 0)
        return TimedRoute(empty, (), frozenset(), 0, 0, 0)
    out = output["routes"][0]
    steps = out["steps"]
    home = problem.depots[problem.couriers[courier].start_depot].location
    visits: list[Visit] = []
    timed: list[TimedStop] = []
    break_starts: list[int] = []
    prev, total = home, 0
    for step in steps:
        begin = step["arrival"] + step["waiting_time"]
        found = {v["cause"]: v.get("duration", 0) for v in step["violations"]}
        if step["type"] == "break":
            break_starts.append(begin)
            continue
        if step["type"] in ("start", "end"):
            continue
        s = int(step["id"])
        loc = problem.stops[s].location
        d = int(problem.distances_for(problem.couriers[courier])[prev, loc])
        total += d
        prev = loc
        visits.append(
            Visit(
                s,
                step["arrival"],
                begin,
                begin + step["setup"] + step["service"],
                step["load"][0],
                d,
            )
        )
        timed.append(
            TimedStop(s, found.get("lead_time", 0), found.get("delay", 0), frozenset(found))
        )
    end = problem.depots[problem.couriers[courier].end_depot].location
    total += int(problem.distances_for(problem.couriers[courier])[prev, end])
    route = Route(
        courier,
        tuple(visits),
        steps[0]["arrival"],
        steps[-1]["arrival"],
        total,
        break_starts[0] if break_starts else None,
        more_break_starts=tuple(break_starts[1:]),
    )
    causes = frozenset(v["cause"] for v in out["violations"])
    lead = sum(v.get("duration", 0) for v in out["violations"] if v["cause"] == "lead_time")
    delay = sum(v.get("duration", 0) for v in out["violations"] if v["cause"] == "delay")
    return TimedRoute(route, tuple(timed), causes, lead, delay, out["waiting_time"])


def _break_gap(prep: Prepared, courier: int, seq: Sequence[int]) -> list[int]:
    """Gaps to try for the break (0 = before the first stop): where the search's schedule
    takes it for a feasible order, else the gaps around lunch time on a forward pass."""
    c = prep.problem.couriers[courier]
    if is_feasible(prep, courier, seq):
        route = earliest_schedule(prep, courier, seq)
        if route is not None and route.break_start is not None:
            return [sum(1 for v in route.visits if v.start < route.break_start)]
    brk = c.break_
    assert brk is not None
    problem = prep.problem
    t, loc = c.shift[0], problem.depots[c.start_depot].location
    gap = len(seq)
    for k, s in enumerate(seq):
        stop = problem.stops[s]
        arrival = t + travel_time(problem, c, loc, stop.location)
        if arrival >= brk.earliest_start:
            gap = k
            break
        windows = own_windows(problem, s)
        start = next((max(arrival, lo) for lo, hi in windows if arrival <= hi), arrival)
        t, loc = start + stop.service, stop.location
    return sorted({g for g in (gap - 1, gap, gap + 1) if 0 <= g <= len(seq)})


def _plan_mode(prep: Prepared, courier: int, steps: list[int | None]) -> TimedRoute:
    return _read(prep, courier, choose_eta(vroom_input(prep, courier, steps), workers=WORKERS))


def timed_route(prep: Prepared, courier: int, seq: Sequence[int]) -> TimedRoute:
    """``seq`` driven by ``courier`` as plan mode times it (module docstring)."""
    c = prep.problem.couriers[courier]
    if not seq:
        return _read(prep, courier, {"routes": []})
    if c.break_ is None:
        return _plan_mode(prep, courier, list(seq))
    if c.more_breaks:
        # Several breaks (VROOM's input, not a post office's day): where the search's schedule
        # takes them; an order that schedule refuses gets none, and plan mode says so.
        route = earliest_schedule(prep, courier, seq) if is_feasible(prep, courier, seq) else None
        steps: list[int | None] = list(seq)
        for b in sorted((route.break_starts if route else ()), reverse=True):
            steps.insert(sum(1 for v in route.visits if v.start < b) if route else 0, None)
        return _plan_mode(prep, courier, steps)
    best: TimedRoute | None = None
    for gap in _break_gap(prep, courier, seq):
        timed = _plan_mode(prep, courier, [*seq[:gap], None, *seq[gap:]])
        if best is None or timed.badness < best.badness:
            best = timed
    assert best is not None
    return best


def timed_routes(problem: Problem, sequences: Sequence[Sequence[int]]) -> list[TimedRoute]:
    """Each courier ``k`` driving ``sequences[k]``, timed by plan mode."""
    prep = prepare(problem)
    return [timed_route(prep, k, seq) for k, seq in enumerate(sequences)]
