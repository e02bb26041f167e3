"""Solver-side preparation: validate a problem, derive effective windows, screen out stops.

Every stop gets its effective start-of-service windows (its own windows, the desk's opening
hours of the plan date shortened by the service time, and the deadline), its compatible
couriers (service areas), and, when it cannot be served at all, a reason. The engines only
ever see the stops that survive screening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from postal.routing.errors import InvalidProblem
from postal.routing.model import Courier, Problem, Stop, StopKind, UnassignedReason, Window

_Seconds = TypeVar("_Seconds", int, NDArray[np.int64])

INF = 2**40
"""An 'unbounded' time that keeps every sum far from int64 overflow."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """What the engines need: screened stops with effective windows and compatibility."""

    problem: Problem
    windows: tuple[tuple[Window, ...], ...]
    """Effective windows per stop (empty tuple for screened-out stops)."""
    reasons: dict[int, UnassignedReason]
    """Stops that cannot be served, with the reason."""
    active: tuple[int, ...]
    """Stops the engines route, in problem order."""
    partner: tuple[int, ...]
    """Index of the pair partner per stop, -1 for unpaired stops."""
    compatible: tuple[tuple[int, ...], ...]
    """Couriers allowed per stop (by service area and skills)."""
    delta: tuple[int, ...]
    """Load change per stop in dimension 0: +demand for pickups, -demand for deliveries."""
    depot_load: tuple[int, ...]
    """Demand loaded at the depot per stop in dimension 0 (unpaired deliveries), else 0."""
    horizon: int
    """Latest shift end over all couriers."""
    deltas: tuple[tuple[int, ...], ...] = ()
    """``delta`` per capacity dimension: deltas[d][stop] (deltas[0] is ``delta``)."""
    depot_loads: tuple[tuple[int, ...], ...] = ()
    """``depot_load`` per capacity dimension: depot_loads[d][stop]."""
    capacities: tuple[tuple[int, ...], ...] = ()
    """Per courier, its capacity in every dimension."""

    @property
    def dims(self) -> int:
        """Capacity dimensions."""
        return len(self.deltas)

    @property
    def has_breaks(self) -> bool:
        """True when any courier has a break."""
        return any(c.break_ is not None for c in self.problem.couriers)

    @property
    def shared_setup(self) -> bool:
        """True when a stop with a setup shares its place with another stop or a depot: the
        setup then depends on the order, which engines without setup (PyVRP) cannot see."""
        problem = self.problem
        places: dict[int, int] = {}
        for d in problem.depots:
            places[d.location] = places.get(d.location, 0) + 1
        for s in self.active:
            loc = problem.stops[s].location
            places[loc] = places.get(loc, 0) + 1
        return any(
            problem.stops[s].setup and places[problem.stops[s].location] > 1 for s in self.active
        )

    def is_pickup(self, s: int) -> bool:
        """True for a pickup (of a pair, it comes first: its amount may be zero)."""
        return self.problem.stops[s].kind is StopKind.PICKUP

    @property
    def has_limits(self) -> bool:
        """True when any courier has a max_tasks, max_travel_time or max_distance."""
        return any(
            c.max_tasks is not None or c.max_travel_time is not None or c.max_distance is not None
            for c in self.problem.couriers
        )

    @property
    def exact_for_pyvrp(self) -> bool:
        """True when PyVRP's model is this problem's: one window per stop, no breaks, no setup
        that depends on the order (PyVRP counts every setup: its routes stay feasible), no
        route limits (PyVRP's model leaves them out: see pyvrp_engine), no setup or service
        per vehicle type (PyVRP sees the slowest type's)."""
        return (
            self.single_window
            and not self.has_breaks
            and not self.shared_setup
            and not self.has_limits
            and not any(
                self.problem.stops[s].setup_per_type or self.problem.stops[s].service_per_type
                for s in self.active
            )
        )

    @property
    def single_window(self) -> bool:
        """True when every active stop has exactly one effective window."""
        return all(len(self.windows[s]) == 1 for s in self.active)


def travel_time(problem: Problem, courier: Courier, a: int, b: int) -> int:
    """Travel time from location a to b for ``courier``: its profile's matrix at its speed
    (rounded up)."""
    base = int(problem.durations_for(courier)[a, b])
    if courier.speed_percent == 100:
        return base
    return at_speed(base, courier.speed_percent)


def at_speed(seconds: _Seconds, speed_percent: int) -> _Seconds:
    """Travel times at ``speed_percent`` of the matrix speed, rounded up (ints or arrays)."""
    return (seconds * 100 + speed_percent - 1) // speed_percent


def intersect(a: Sequence[Window], b: Sequence[Window]) -> tuple[Window, ...]:
    """Intersection of two sorted lists of disjoint closed intervals."""
    out: list[Window] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def normalise(windows: Sequence[Window]) -> tuple[Window, ...]:
    """Sort and merge overlapping or touching windows; drop empty ones."""
    out: list[list[int]] = []
    for lo, hi in sorted(w for w in windows if w[0] <= w[1]):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def validate(problem: Problem) -> None:
    """Raise InvalidProblem when indices or pairs are inconsistent."""
    n_loc = problem.durations.shape[0]
    if any(m.shape != (n_loc, n_loc) for m in (*problem.all_durations, *problem.all_distances)):
        raise InvalidProblem(detail="durations and distances must be square and of one size")
    for d in problem.depots:
        if not 0 <= d.location < n_loc:
            raise InvalidProblem(detail=f"depot {d.id}: location {d.location} out of range")
    for c in problem.couriers:
        for dep in (c.start_depot, c.end_depot):
            if not 0 <= dep < len(problem.depots):
                raise InvalidProblem(detail=f"courier {c.id}: depot {dep} out of range")
        if (
            c.speed_percent <= 0
            or not 0 <= c.profile <= len(problem.profiles)
            or c.capacity < 0
            or any(k < 0 for k in c.capacities)
            or c.shift[0] > c.shift[1]
        ):
            raise InvalidProblem(detail=f"courier {c.id}: bad speed, profile, capacity or shift")
    pairs: dict[str, list[int]] = {}
    for i, s in enumerate(problem.stops):
        if not 0 <= s.location < n_loc:
            raise InvalidProblem(detail=f"stop {s.id}: location {s.location} out of range")
        if s.desk is not None and not 0 <= s.desk < len(problem.desks):
            raise InvalidProblem(detail=f"stop {s.id}: desk {s.desk} out of range")
        if (
            s.demand < 0
            or s.service < 0
            or s.setup < 0
            or any(a < 0 for a in (*(s.picked_up or ()), *(s.delivered or ())))
        ):
            raise InvalidProblem(detail=f"stop {s.id}: negative demand, setup or service")
        if s.pair is not None:
            pairs.setdefault(s.pair, []).append(i)
    for pair, idx in pairs.items():
        kinds = sorted(problem.stops[i].kind for i in idx)
        if kinds != [StopKind.DELIVERY, StopKind.PICKUP]:
            raise InvalidProblem(
                detail=f"pair {pair!r} must be exactly one pickup and one delivery"
            )
        a, b = idx
        dims = problem.dims
        p, q = sorted((a, b), key=lambda i: problem.stops[i].kind != StopKind.PICKUP)
        if problem.stops[p].amounts(dims)[0] != problem.stops[q].amounts(dims)[1]:
            raise InvalidProblem(detail=f"pair {pair!r}: pickup and delivery demands differ")


def prepare(problem: Problem) -> Prepared:
    """Validate ``problem`` and derive everything the engines need."""
    validate(problem)
    stops = problem.stops
    n = len(stops)
    horizon = max((c.shift[1] for c in problem.couriers), default=0)
    reasons: dict[int, UnassignedReason] = {}
    windows: list[tuple[Window, ...]] = []
    by_pair: dict[str, list[int]] = {}
    for i, s in enumerate(stops):
        if s.pair is not None:
            by_pair.setdefault(s.pair, []).append(i)
    partner = [-1] * n
    for idx in by_pair.values():
        partner[idx[0]], partner[idx[1]] = idx[1], idx[0]

    compatible: list[tuple[int, ...]] = []
    for i, s in enumerate(stops):
        w = normalise(s.windows) if s.windows else ((0, INF),)
        if s.desk is not None:
            opening = problem.desks[s.desk].windows_on(problem.date)
            if opening is not None:
                if not opening:
                    reasons[i] = UnassignedReason.DESK_CLOSED
                # The setup is counted whole: whether it applies depends on the route.
                task = s.longest_task
                w = intersect(w, normalise([(lo, hi - task) for lo, hi in opening]))
        if s.deadline is not None:
            w = intersect(w, ((0, s.deadline - s.longest_task),))
        if not w and i not in reasons:
            reasons[i] = UnassignedReason.WINDOW_PASSED
        windows.append(w)
        serving = [
            c
            for c, courier in enumerate(problem.couriers)
            if (
                s.area is None
                or not problem.depots[courier.start_depot].areas
                or s.area in problem.depots[courier.start_depot].areas
            )
            and s.skills <= courier.skills
        ]
        if s.area is not None and not any(not d.areas or s.area in d.areas for d in problem.depots):
            reasons.setdefault(i, UnassignedReason.OUTSIDE_SERVICE_AREA)
        elif not serving:
            reasons.setdefault(i, UnassignedReason.NO_COURIER)
        elif not any(_fits(s, problem.couriers[c], problem.dims) for c in serving):
            reasons.setdefault(i, UnassignedReason.CAPACITY)
        compatible.append(tuple(serving))

    _tighten_pairs(problem, windows, partner, compatible, reasons)
    dims = problem.dims
    amounts = [s.amounts(dims) for s in stops]
    # Unpaired: the delivery is loaded at the depot, the pickup rides to the end. Paired:
    # the pickup's amount rides from the pickup to the delivery.
    deltas = tuple(
        tuple(
            up[d] if s.pair is not None and s.kind is StopKind.PICKUP
            else -down[d] if s.pair is not None
            else up[d] - down[d]
            for s, (up, down) in zip(stops, amounts, strict=True)
        )
        for d in range(dims)
    )  # fmt: skip
    depot_loads = tuple(
        tuple(
            0 if s.pair is not None else down[d]
            for s, (_, down) in zip(stops, amounts, strict=True)
        )
        for d in range(dims)
    )
    delta, depot_load = deltas[0], depot_loads[0]
    capacities = tuple(c.capacity_in(dims) for c in problem.couriers)
    prep = Prepared(
        problem=problem,
        windows=tuple(windows),
        reasons=reasons,
        active=(),
        partner=tuple(partner),
        compatible=tuple(compatible),
        delta=delta,
        depot_load=depot_load,
        horizon=horizon,
        deltas=deltas,
        depot_loads=depot_loads,
        capacities=capacities,
    )
    _screen_reachability(prep)
    for i in range(n):
        j = partner[i]
        if j >= 0 and j in reasons and i not in reasons:
            reasons[i] = UnassignedReason.PAIR_UNSERVABLE
    active = tuple(i for i in range(n) if i not in reasons)
    return Prepared(
        problem=problem,
        windows=prep.windows,
        reasons=reasons,
        active=active,
        partner=prep.partner,
        compatible=prep.compatible,
        delta=delta,
        depot_load=depot_load,
        horizon=horizon,
        deltas=deltas,
        depot_loads=depot_loads,
        capacities=capacities,
    )


def _fits(stop: Stop, courier: Courier, dims: int) -> bool:
    """True when the stop's amounts fit the courier's capacity in every dimension."""
    up, down = stop.amounts(dims)
    return all(
        max(u, w) <= cap for u, w, cap in zip(up, down, courier.capacity_in(dims), strict=True)
    )


def _tighten_pairs(
    problem: Problem,
    windows: list[tuple[Window, ...]],
    partner: Sequence[int],
    compatible: Sequence[tuple[int, ...]],
    reasons: dict[int, UnassignedReason],
) -> None:
    """Narrow each pair's windows by precedence, in place.

    A delivery cannot start before its pickup's earliest start plus the pickup's service and
    the quickest courier's travel between them, and a pickup not after its delivery's latest
    start minus the same. The windows this removes can never be used, so nothing feasible is
    lost, and engines that see one window per stop (PyVRP's hull) see fewer impossible hours:
    a result for a citizen's morning must leave its desk in the morning, not after lunch.
    A pair whose windows would empty is left alone; screening then gives the reason.
    """
    for p, stop in enumerate(problem.stops):
        d = partner[p]
        if d < 0 or stop.kind is not StopKind.PICKUP or p in reasons or d in reasons:
            continue
        if not windows[p] or not windows[d]:
            continue
        both = set(compatible[p]) & set(compatible[d])
        if not both:
            continue
        # The quickest courier: nothing feasible is cut.
        gap = stop.shortest_service + min(
            travel_time(problem, problem.couriers[c], stop.location, problem.stops[d].location)
            for c in both
        )
        delivery = intersect(windows[d], ((windows[p][0][0] + gap, INF),))
        pickup = intersect(windows[p], ((0, windows[d][-1][1] - gap),))
        if delivery and pickup:
            windows[p], windows[d] = pickup, delivery


def _screen_reachability(prep: Prepared) -> None:
    """Mark stops no compatible courier can serve even alone (or with only its partner)."""
    # Imported here: schedule builds on Prepared, so the dependency is one-way at import time.
    from postal.routing.schedule import earliest_schedule

    problem = prep.problem
    reasons = prep.reasons

    def alone(k: int) -> bool:
        return any(
            earliest_schedule(prep, c, [k], check_load=False) is not None
            for c in prep.compatible[k]
        )

    for i, s in enumerate(problem.stops):
        if i in reasons:
            continue
        j = prep.partner[i]
        if j >= 0 and (j in reasons or s.kind is StopKind.DELIVERY):
            continue  # the pickup of a pair screens both halves
        seq = [i] if j < 0 else [i, j]
        both = [c for c in prep.compatible[i] if j < 0 or c in set(prep.compatible[j])]
        if any(earliest_schedule(prep, c, seq) is not None for c in both):
            continue
        if j >= 0 and alone(i) and alone(j):
            reasons[i] = reasons[j] = UnassignedReason.PAIR_UNSERVABLE
            continue
        for k in seq:
            if not alone(k):
                reasons[k] = _why_unreachable(prep, k)
        for k in seq:
            reasons.setdefault(k, UnassignedReason.PAIR_UNSERVABLE)


def _why_unreachable(prep: Prepared, i: int) -> UnassignedReason:
    """Window passed when even the earliest arrival misses the last window, else shift."""
    problem = prep.problem
    s = problem.stops[i]
    last = prep.windows[i][-1][1]
    for c in prep.compatible[i]:
        courier = problem.couriers[c]
        loc = problem.depots[courier.start_depot].location
        if courier.shift[0] + travel_time(problem, courier, loc, s.location) <= last:
            return UnassignedReason.SHIFT_TOO_SHORT
    return UnassignedReason.WINDOW_PASSED


def picked(prep: Prepared, s: int) -> list[int]:
    """What stop ``s`` picks up, per capacity dimension (a pair's pickup: its amount)."""
    return [
        max(delta[s] + load[s], 0)
        for delta, load in zip(prep.deltas, prep.depot_loads, strict=True)
    ]
