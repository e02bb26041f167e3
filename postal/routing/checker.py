"""Independent feasibility checker: re-derives every rule of the model from scratch.

It shares no code with the solver on purpose (only the data classes): a bug in the solver's
time propagation must not hide itself by being used to check its own output. See
``postal.routing.model`` for the rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from postal.routing.model import Courier, Plan, Problem, Route, StopKind, Visit


class ViolationKind(StrEnum):
    """Every way a plan can break the rules."""

    UNKNOWN_STOP = "unknown_stop"
    DUPLICATE_STOP = "duplicate_stop"
    MISSING_STOP = "missing_stop"
    UNKNOWN_COURIER = "unknown_courier"
    COURIER_REUSED = "courier_reused"
    TIME_WINDOW = "time_window"
    DESK_HOURS = "desk_hours"
    DEADLINE = "deadline"
    TRAVEL_TIME = "travel_time"
    SERVICE_TIME = "service_time"
    BREAK = "break"
    CAPACITY = "capacity"
    LOAD_REPORT = "load_report"
    PAIR_SPLIT = "pair_split"
    PRECEDENCE = "precedence"
    SHIFT_START = "shift_start"
    SHIFT_END = "shift_end"
    DISTANCE_REPORT = "distance_report"
    AREA = "area"
    SKILLS = "skills"
    MAX_TASKS = "max_tasks"
    MAX_TRAVEL_TIME = "max_travel_time"
    MAX_DISTANCE = "max_distance"


@dataclass(frozen=True)
class Violation:
    """One broken rule; ``route`` and ``stop`` are indices (-1 when not applicable)."""

    kind: ViolationKind
    message: str
    route: int = -1
    stop: int = -1


def _travel(problem: Problem, courier: Courier, a: int, b: int) -> int:
    base = int(problem.durations_for(courier)[a, b])
    speed = courier.speed_percent
    # ceil(base * 100 / speed) in integers: a faster courier never gets a fractional second.
    return -((-base * 100) // speed)


def _inside(t: int, windows: Iterable[tuple[int, int]]) -> bool:
    return any(lo <= t <= hi for lo, hi in windows)


def check_plan(problem: Problem, plan: Plan) -> list[Violation]:
    """Return every violation of the model's rules in ``plan`` (empty list = feasible)."""
    out: list[Violation] = []
    n = len(problem.stops)
    seen: dict[int, int] = {}
    where: dict[int, tuple[int, int]] = {}
    used_couriers: set[int] = set()

    for r_idx, route in enumerate(plan.routes):
        for pos, visit in enumerate(route.visits):
            if not 0 <= visit.stop < n:
                out.append(Violation(ViolationKind.UNKNOWN_STOP, f"stop {visit.stop}", r_idx))
                continue
            seen[visit.stop] = seen.get(visit.stop, 0) + 1
            where[visit.stop] = (r_idx, pos)
        if not 0 <= route.courier < len(problem.couriers):
            out.append(Violation(ViolationKind.UNKNOWN_COURIER, f"courier {route.courier}", r_idx))
            continue
        if route.courier in used_couriers and route.visits:
            out.append(
                Violation(ViolationKind.COURIER_REUSED, f"courier {route.courier} twice", r_idx)
            )
        if route.visits:
            used_couriers.add(route.courier)
        out.extend(_check_route(problem, r_idx, route))

    for u in plan.unassigned:
        if not 0 <= u.stop < n:
            out.append(Violation(ViolationKind.UNKNOWN_STOP, f"unassigned stop {u.stop}"))
            continue
        seen[u.stop] = seen.get(u.stop, 0) + 1
    for s in range(n):
        count = seen.get(s, 0)
        if count == 0:
            out.append(
                Violation(ViolationKind.MISSING_STOP, "neither routed nor unassigned", stop=s)
            )
        elif count > 1:
            out.append(Violation(ViolationKind.DUPLICATE_STOP, f"appears {count} times", stop=s))

    out.extend(_check_pairs(problem, where))
    return out


def _check_pairs(problem: Problem, where: dict[int, tuple[int, int]]) -> list[Violation]:
    out: list[Violation] = []
    members: dict[str, list[int]] = {}
    for s, stop in enumerate(problem.stops):
        if stop.pair is not None:
            members.setdefault(stop.pair, []).append(s)
    for pair, idx in members.items():
        pickups = [s for s in idx if problem.stops[s].kind is StopKind.PICKUP]
        deliveries = [s for s in idx if problem.stops[s].kind is StopKind.DELIVERY]
        if len(pickups) != 1 or len(deliveries) != 1:
            out.append(
                Violation(
                    ViolationKind.PAIR_SPLIT, f"pair {pair!r} is not one pickup + one delivery"
                )
            )
            continue
        p, d = pickups[0], deliveries[0]
        wp, wd = where.get(p), where.get(d)
        if wp is None and wd is None:
            continue
        if wp is None or wd is None or wp[0] != wd[0]:
            out.append(
                Violation(ViolationKind.PAIR_SPLIT, f"pair {pair!r} not on one route", stop=p)
            )
            continue
        if wp[1] > wd[1]:
            out.append(
                Violation(
                    ViolationKind.PRECEDENCE, f"pair {pair!r}: delivery before pickup", wp[0], d
                )
            )
    return out


def _check_loads(problem: Problem, r_idx: int, route: Route, valid: list[Visit]) -> list[Violation]:
    """Loads in every capacity dimension: an unpaired stop's delivery is on board from the
    start, its pickup until the end; a pair's amount rides from its pickup to its delivery.
    The reported loads (dimension 0) must be the ones computed here."""
    out: list[Violation] = []
    courier = problem.couriers[route.courier]
    dims = problem.dims
    caps = courier.capacity_in(dims)
    for d in range(dims):
        load = 0
        for v in valid:
            st = problem.stops[v.stop]
            if st.pair is None:
                load += st.amounts(dims)[1][d]
        if d == 0 and route.start_load != load:
            out.append(
                Violation(
                    ViolationKind.LOAD_REPORT,
                    f"start load {route.start_load}, expected {load}",
                    r_idx,
                )
            )
        if load > caps[d]:
            out.append(
                Violation(
                    ViolationKind.CAPACITY,
                    f"start load {load} > capacity {caps[d]} (dim {d})",
                    r_idx,
                )
            )
        for v in valid:
            st = problem.stops[v.stop]
            up, down = st.amounts(dims)
            if st.pair is None:
                load += up[d] - down[d]
            elif st.kind is StopKind.PICKUP:
                load += up[d]
            else:
                load -= down[d]
            if load < 0 or load > caps[d]:
                msg = f"load {load} outside [0, {caps[d]}] (dim {d})"
                out.append(Violation(ViolationKind.CAPACITY, msg, r_idx, v.stop))
            if d == 0 and v.load_after != load:
                msg = f"load {v.load_after}, expected {load}"
                out.append(Violation(ViolationKind.LOAD_REPORT, msg, r_idx, v.stop))
    return out


def _check_breaks(
    problem: Problem,
    route: Route,
    valid: list[Visit],
    bad: Callable[[ViolationKind, str], None],
) -> dict[int, int]:
    """Every break of the courier taken once, in their order, inside one of its windows, not
    overlapping another break or a service, within its load limit. Returns the break time
    taken in each gap between points (gap k ends at point k; before leaving and after
    returning: none)."""
    courier = problem.couriers[route.courier]
    breaks = courier.breaks
    taken = route.break_starts
    in_gap: dict[int, int] = {}
    if not breaks:
        return in_gap
    if len(taken) != len(breaks):
        bad(ViolationKind.BREAK, f"{len(breaks)} breaks, {len(taken)} taken (a break is missing)")
        return in_gap
    departures = [route.start] + [v.departure for v in valid]
    starts = [v.start for v in valid] + [route.end]
    loads = _point_loads(problem, valid)
    spans: list[tuple[int, int]] = []
    for k, (brk, b) in enumerate(zip(breaks, taken, strict=True)):
        b_end = b + brk.duration
        spans.append((b, b_end))
        if not _inside(b, brk.starts):
            bad(ViolationKind.BREAK, f"break {k} at {b} outside its windows {list(brk.starts)}")
        if b_end <= route.start:
            gap = 0
        elif b >= route.end:
            gap = len(valid)
        else:
            found = [g for g in range(len(starts)) if departures[g] <= b and b_end <= starts[g]]
            if not found:
                bad(ViolationKind.BREAK, f"break {k} [{b}, {b_end}] overlaps a service")
                continue
            gap = found[0]
            in_gap[gap] = in_gap.get(gap, 0) + brk.duration
        if brk.max_load is not None and any(
            x > m for x, m in zip(loads[gap], brk.max_load, strict=False)
        ):
            bad(ViolationKind.BREAK, f"break {k} with load {loads[gap]} > max_load {brk.max_load}")
    # In their given order (VROOM's), one after the other.
    for k, ((_, a_end), (b, _)) in enumerate(itertools.pairwise(spans), start=1):
        if b < a_end:
            bad(ViolationKind.BREAK, f"break {k} at {b} before break {k - 1} ends ({a_end})")
    return in_gap


def _point_loads(problem: Problem, valid: list[Visit]) -> list[tuple[int, ...]]:
    """The load in every dimension leaving the depot and after each visit."""
    dims = problem.dims
    amounts = [problem.stops[v.stop].amounts(dims) for v in valid]
    load = [0] * dims
    for v, (_, down) in zip(valid, amounts, strict=True):
        if problem.stops[v.stop].pair is None:
            load = [x + y for x, y in zip(load, down, strict=True)]
    out = [tuple(load)]
    for v, (up, down) in zip(valid, amounts, strict=True):
        st = problem.stops[v.stop]
        gain = up if st.pair is None or st.kind is StopKind.PICKUP else (0,) * dims
        loss = down if st.pair is None or st.kind is StopKind.DELIVERY else (0,) * dims
        load = [x + g - w for x, g, w in zip(load, gain, loss, strict=True)]
        out.append(tuple(load))
    return out


def _check_route(problem: Problem, r_idx: int, route: Route) -> list[Violation]:
    out: list[Violation] = []
    if not route.visits:
        return out
    courier = problem.couriers[route.courier]
    distances = problem.distances_for(courier)
    home = problem.depots[courier.start_depot]
    start_loc = home.location
    end_loc = problem.depots[courier.end_depot].location
    valid = [v for v in route.visits if 0 <= v.stop < len(problem.stops)]

    def bad(kind: ViolationKind, msg: str, stop: int = -1) -> None:
        out.append(Violation(kind, msg, r_idx, stop))

    if route.start < courier.shift[0]:
        bad(ViolationKind.SHIFT_START, f"leaves at {route.start} before shift {courier.shift}")
    if route.end > courier.shift[1]:
        bad(ViolationKind.SHIFT_END, f"back at {route.end} after shift {courier.shift}")

    # Where is each break? Gaps are numbered 0..len(valid): gap k ends at point k.
    in_gap = _check_breaks(problem, route, valid, bad)
    out += _check_loads(problem, r_idx, route, valid)

    if courier.max_tasks is not None and len(route.visits) > courier.max_tasks:
        bad(ViolationKind.MAX_TASKS, f"{len(route.visits)} stops > max_tasks {courier.max_tasks}")

    prev_loc, prev_dep = start_loc, route.start
    total = 0
    travelled = 0
    for k, v in enumerate(valid):
        st = problem.stops[v.stop]
        travel = _travel(problem, courier, prev_loc, st.location)
        travelled += travel
        dist = int(distances[prev_loc, st.location])
        total += dist
        if v.distance_from_previous != dist:
            bad(
                ViolationKind.DISTANCE_REPORT,
                f"distance {v.distance_from_previous}, expected {dist}",
                v.stop,
            )
        need = prev_dep + travel + in_gap.get(k, 0)
        if v.arrival < prev_dep + travel or v.start < need or v.arrival > v.start:
            bad(
                ViolationKind.TRAVEL_TIME,
                f"arrival {v.arrival} / start {v.start}: leaves previous at {prev_dep}, "
                f"travel {travel}",
                v.stop,
            )
        # VROOM's setup: spent only when the courier comes from another place.
        setup = st.setup_for(courier) if st.location != prev_loc else 0
        task = setup + st.service_for(courier)
        if v.departure != v.start + task:
            bad(
                ViolationKind.SERVICE_TIME,
                f"departure {v.departure} != start {v.start} + setup {setup} + service "
                f"{task - setup}",
                v.stop,
            )
        if st.windows and not _inside(v.start, st.windows):
            bad(ViolationKind.TIME_WINDOW, f"start {v.start} outside {st.windows}", v.stop)
        if st.desk is not None and problem.date is not None:
            desk = problem.desks[st.desk]
            opening: tuple[tuple[int, int], ...] = ()
            for day, windows in desk.opening:
                if day == problem.date:
                    opening = windows
            shortened = [(lo, hi - task) for lo, hi in opening]
            if not _inside(v.start, shortened):
                bad(
                    ViolationKind.DESK_HOURS,
                    f"start {v.start}, service {st.service}: desk {desk.id} opening {opening}",
                    v.stop,
                )
        if st.deadline is not None and v.start + task > st.deadline:
            bad(ViolationKind.DEADLINE, f"ends {v.start + task} > {st.deadline}", v.stop)
        if st.area is not None and home.areas and st.area not in home.areas:
            bad(ViolationKind.AREA, f"area {st.area!r} not served by {home.id}", v.stop)
        if not st.skills <= courier.skills:
            missing = sorted(st.skills - courier.skills)
            bad(ViolationKind.SKILLS, f"courier {courier.id} lacks skills {missing}", v.stop)
        prev_loc, prev_dep = st.location, v.departure

    travel = _travel(problem, courier, prev_loc, end_loc)
    travelled += travel
    total += int(distances[prev_loc, end_loc])
    if courier.max_travel_time is not None and travelled > courier.max_travel_time:
        bad(
            ViolationKind.MAX_TRAVEL_TIME,
            f"travel time {travelled} > max_travel_time {courier.max_travel_time}",
        )
    if courier.max_distance is not None and total > courier.max_distance:
        bad(ViolationKind.MAX_DISTANCE, f"distance {total} > max_distance {courier.max_distance}")
    need = prev_dep + travel + in_gap.get(len(valid), 0)
    if route.end < need:
        bad(ViolationKind.TRAVEL_TIME, f"back at {route.end}, cannot be before {need}")
    if route.distance != total:
        bad(ViolationKind.DISTANCE_REPORT, f"route distance {route.distance}, expected {total}")
    return out
