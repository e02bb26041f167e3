"""The optimiser's problem and plan: frozen dataclasses in integer units.

Units inside the optimiser: time in seconds since midnight of the plan date (benchmarks use
their own scaled unit), distance in metres, load in items. Locations are indices into the
problem's square matrices; several stops may share one location (one node per stop).

Semantics the solver and the independent checker both implement (each on its own):
- a stop's task starts inside one of its time windows (start-of-service windows, VROOM's
  "task start"), then its setup (only when its location differs from the previous point's:
  the previous stop, or the start depot for the first stop) and its service follow without a
  gap; departure = start + setup applied + service, no later than its deadline when one is set;
- a stop at a desk must also start inside the desk's opening windows of the plan date,
  shortened by the stop's setup applied and service time so that the handover ends before the
  desk closes;
- a stop with skills goes only to a courier holding all of them (VROOM's skills);
- travel time from i to j for a courier is ceil(durations[i][j] * 100 / speed_percent), and
  distances and custom costs are read, from the matrices of the courier's profile (VROOM's
  vehicle ``profile``: the problem's own matrices, or one of ``Problem.profiles``);
- load, in each capacity dimension: a pickup adds its demand, a delivery removes it; an
  unpaired delivery is loaded at the start depot, an unpaired pickup is carried to the end
  depot (a stop with VROOM's amounts may do both: its delivery is loaded at the start depot,
  its pickup carried to the end); load stays within [0, capacity];
- a pickup and a delivery sharing a pair id ride the same route, pickup first;
- each of a courier's breaks (when set) starts in one of its windows ([earliest_start,
  latest_start] by default) and lasts `duration`; it is taken before leaving, after returning,
  or between two consecutive points of the route where the time between them covers travel
  plus every break taken there; breaks are taken in their order and do not overlap; a
  break with a `max_load` is taken
  only where the load on board (every dimension) is within it;
- a route leaves its start depot no earlier than the shift start and reaches its end depot no
  later than the shift end;
- a courier's route holds at most ``max_tasks`` stops, travels at most ``max_travel_time``
  (the sum of its legs' travel times at the courier's speed) and ``max_distance`` (the sum of
  its legs' distances, depot to depot), each when set (VROOM's vehicle limits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

Window = tuple[int, int]
"""A closed interval [start, end] of seconds."""

Matrix = NDArray[np.int64]


class StopKind(StrEnum):
    """What the courier does at a stop."""

    PICKUP = "pickup"
    DELIVERY = "delivery"


class UnassignedReason(StrEnum):
    """Why a stop is left out of every route."""

    WINDOW_PASSED = "window_passed"
    """No courier can reach the stop inside any of its windows (or before its deadline)."""
    DESK_CLOSED = "desk_closed"
    """The stop is at a desk that is closed on the plan date."""
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    """The stop's area is served by no post office of the problem."""
    CAPACITY = "capacity"
    """The stop's demand exceeds every compatible courier's capacity."""
    NO_COURIER = "no_courier"
    """There is no courier for it: none compatible, or all are fully used."""
    SHIFT_TOO_SHORT = "shift_too_short"
    """No compatible courier can go there and come back within the shift."""
    PAIR_UNSERVABLE = "pair_unservable"
    """Its pickup or delivery partner cannot be served, or both cannot fit one route."""
    TIME_LIMIT = "time_limit"
    """It could be served, but the search found no place for it within the time limit."""


@dataclass(frozen=True)
class Depot:
    """A post office: where couriers start and end."""

    id: str
    location: int
    areas: tuple[str, ...] = ()
    """Service areas (e.g. commune codes) this post office serves; empty = every area."""


@dataclass(frozen=True)
class CourierBreak:
    """A courier's break: it must start in [earliest_start, latest_start] (or, when
    ``windows`` are given, inside one of them; earliest and latest are then their hull)."""

    earliest_start: int
    latest_start: int
    duration: int
    windows: tuple[Window, ...] = ()
    """Several start windows (VROOM's break ``time_windows``); empty = one, the hull."""
    max_load: tuple[int, ...] | None = None
    """The break is taken only with at most this load on board, per capacity dimension
    (VROOM's ``max_load``); None = any load."""

    @property
    def starts(self) -> tuple[Window, ...]:
        """The windows its start must fall in."""
        return self.windows or ((self.earliest_start, self.latest_start),)

    @property
    def simple(self) -> bool:
        """One start window and no load limit (the classic lunch break)."""
        return len(self.starts) == 1 and self.max_load is None

    def allows(self, load: Sequence[int]) -> bool:
        """True when the break may be taken with ``load`` on board."""
        return self.max_load is None or all(
            x <= m for x, m in zip(load, self.max_load, strict=False)
        )


@dataclass(frozen=True)
class Courier:
    """One courier for the day (one vehicle)."""

    id: str
    start_depot: int
    end_depot: int
    shift: Window
    capacity: int
    break_: CourierBreak | None = None
    speed_percent: int = 100
    """100 = the matrix speed; 125 = a quarter faster (travel times divided by 1.25)."""
    skills: frozenset[int] = frozenset()
    """What the courier can do; a stop needing skills goes only to a courier holding them."""
    max_tasks: int | None = None
    """At most this many stops on the route (VROOM's ``max_tasks``; a shipment counts two)."""
    max_travel_time: int | None = None
    """At most this much travel time (at the courier's speed; service and waiting excluded)."""
    max_distance: int | None = None
    """At most this distance over the route, depot to depot."""
    fixed_cost: int = 0
    """Money for using this courier at all (e.g. VND a day; VROOM's ``costs.fixed``)."""
    cost_per_hour: int = 0
    """Money per hour of working time: from leaving the start depot to reaching the end depot,
    waiting included. Any courier with a fixed or hourly cost makes the problem priced."""
    cost_per_km: int = 0
    """Money per kilometre travelled (VROOM's ``costs.per_km``)."""
    cost_per_travel_hour: int = 0
    """Money per hour of travel alone, at the courier's speed (VROOM's ``costs.per_hour``)."""
    cost_per_task_hour: int = 0
    """Money per hour of task time: setup applied and service, the break's included (VROOM's
    ``costs.per_task_hour``)."""
    capacities: tuple[int, ...] = ()
    """Every capacity dimension (VROOM's ``capacity``); empty = ``(capacity,)``."""
    more_breaks: tuple[CourierBreak, ...] = ()
    """Further breaks after ``break_`` (VROOM's several breaks): every one is taken, in this
    order (VROOM's rule)."""
    vehicle_type: str | None = None
    """VROOM's vehicle ``type``: picks a stop's setup and service per type."""
    profile: int = 0
    """Whose travel matrices the courier uses: 0 = the problem's own, k = ``profiles[k - 1]``
    (VROOM's vehicle ``profile``: a car and a bicycle on other roads at other speeds)."""

    @property
    def breaks(self) -> tuple[CourierBreak, ...]:
        """Every break of the courier, ``break_`` first."""
        return () if self.break_ is None else (self.break_, *self.more_breaks)

    @property
    def simple_break(self) -> bool:
        """No break, or one with one window and no load limit."""
        return not self.more_breaks and (self.break_ is None or self.break_.simple)

    def capacity_in(self, dims: int) -> tuple[int, ...]:
        """The capacity in ``dims`` dimensions (a dimension not given holds nothing)."""
        caps = self.capacities or (self.capacity,)
        return (*caps, *(0,) * (dims - len(caps)))

    @property
    def priced(self) -> bool:
        """True when this courier costs money in some way (see Problem.priced)."""
        return bool(
            self.fixed_cost
            or self.cost_per_hour
            or self.cost_per_km
            or self.cost_per_travel_hour
            or self.cost_per_task_hour
        )


@dataclass(frozen=True)
class Desk:
    """A one-stop desk: a location and its opening windows per date."""

    id: str
    location: int
    opening: tuple[tuple[dt.date, tuple[Window, ...]], ...] = ()
    """(date, windows) pairs; a date absent here means the desk is closed that day."""

    def windows_on(self, day: dt.date | None) -> tuple[Window, ...] | None:
        """Opening windows on ``day``; None when ``day`` is None (no calendar applies)."""
        if day is None:
            return None
        for d, windows in self.opening:
            if d == day:
                return windows
        return ()


@dataclass(frozen=True)
class Stop:
    """One visit to make: a pickup or a delivery at a location."""

    id: str
    kind: StopKind
    location: int
    windows: tuple[Window, ...] = ()
    """Start-of-service windows; empty = any time in the courier's shift."""
    service: int = 0
    demand: int = 0
    pair: str | None = None
    """Links a pickup and its delivery (same value on both)."""
    deadline: int | None = None
    """Service must end by then (a statutory or contractual deadline)."""
    priority: int = 0
    """0-100; higher priorities are dropped last when not everything fits."""
    desk: int | None = None
    """Index of the desk this stop is at, if any; its opening windows then apply."""
    area: str | None = None
    """Service area of the address (checked against depots' areas); None = anywhere."""
    setup: int = 0
    """Time to get started, spent before the service only when the courier arrives from
    another location (VROOM's ``setup``); the time window bounds its start."""
    skills: frozenset[int] = frozenset()
    """Skills a courier needs to serve this stop (all of them)."""
    picked_up: tuple[int, ...] | None = None
    """VROOM's amounts, one per capacity dimension: what the stop picks up. With
    ``delivered``, it replaces ``demand`` and ``kind`` for loads (a job may do both); when
    both are None, the stop moves ``demand`` in dimension 0 as its kind says."""
    delivered: tuple[int, ...] | None = None
    """What the stop delivers, per capacity dimension (see ``picked_up``)."""
    setup_per_type: tuple[tuple[str, int], ...] = ()
    """(vehicle type, setup) pairs: a courier of that type spends this setup instead
    (VROOM's ``setup_per_type``)."""
    service_per_type: tuple[tuple[str, int], ...] = ()
    """(vehicle type, service) pairs, as ``setup_per_type`` (VROOM's ``service_per_type``)."""

    def setup_for(self, courier: Courier) -> int:
        """The setup this courier spends here (its type's, else the stop's)."""
        return _per_type(self.setup_per_type, courier.vehicle_type, self.setup)

    def service_for(self, courier: Courier) -> int:
        """The service time this courier spends here (its type's, else the stop's)."""
        return _per_type(self.service_per_type, courier.vehicle_type, self.service)

    @property
    def longest_task(self) -> int:
        """Setup and service of the slowest vehicle type (bounds that hold for every courier)."""
        return max([self.setup, *(v for _, v in self.setup_per_type)]) + max(
            [self.service, *(v for _, v in self.service_per_type)]
        )

    @property
    def shortest_service(self) -> int:
        """The least service time over vehicle types."""
        return min([self.service, *(v for _, v in self.service_per_type)])

    def amounts(self, dims: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(picked up, delivered), each with ``dims`` capacity dimensions."""
        if self.picked_up is None and self.delivered is None:
            one = (self.demand, *(0,) * (dims - 1))
            none = (0,) * dims
            return (one, none) if self.kind is StopKind.PICKUP else (none, one)
        up, down = self.picked_up or (), self.delivered or ()
        return (
            (*up, *(0,) * (dims - len(up))),
            (*down, *(0,) * (dims - len(down))),
        )


def _per_type(values: tuple[tuple[str, int], ...], vehicle_type: str | None, default: int) -> int:
    if vehicle_type is not None:
        for name, value in values:
            if name == vehicle_type:
                return value
    return default


@dataclass(frozen=True, eq=False)
class Profile:
    """A further set of travel matrices, the same size as the problem's (VROOM's profiles)."""

    durations: Matrix
    distances: Matrix
    arc_costs: Matrix | None = None


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the optimiser needs for one day and one area."""

    durations: Matrix
    distances: Matrix
    depots: tuple[Depot, ...]
    couriers: tuple[Courier, ...]
    stops: tuple[Stop, ...]
    desks: tuple[Desk, ...] = ()
    date: dt.date | None = None
    coordinates: NDArray[np.float64] | None = None
    """Optional (x, y) per location (lon/lat or plane), used to split big days."""
    name: str = ""
    arc_costs: Matrix | None = None
    """Money per leg from location to location (VROOM's custom ``costs`` matrix): when set,
    a route's travel is priced by it instead of per hour of travel and per km."""
    profiles: tuple[Profile, ...] = ()
    """Further travel matrices, for couriers whose ``profile`` is 1 or more."""

    def durations_for(self, courier: Courier) -> Matrix:
        """Travel times at the matrix speed for ``courier`` (its profile's)."""
        return self.all_durations[courier.profile]

    def distances_for(self, courier: Courier) -> Matrix:
        """Distances for ``courier`` (its profile's)."""
        return self.all_distances[courier.profile]

    def arc_costs_for(self, courier: Courier) -> Matrix | None:
        """The custom cost matrix for ``courier`` (its profile's), if any."""
        if courier.profile == 0:
            return self.arc_costs
        return self.profiles[courier.profile - 1].arc_costs

    @property
    def all_durations(self) -> tuple[Matrix, ...]:
        """Every profile's travel times, the problem's own first."""
        return (self.durations, *(p.durations for p in self.profiles))

    @property
    def all_distances(self) -> tuple[Matrix, ...]:
        """Every profile's distances, the problem's own first."""
        return (self.distances, *(p.distances for p in self.profiles))

    @property
    def priced(self) -> bool:
        """True when some courier has a cost (fixed, per hour of working, travel or task
        time, per km): the objective is then money (model.route_money) instead of fewest
        couriers, then travel."""
        return (
            self.arc_costs is not None
            or any(p.arc_costs is not None for p in self.profiles)
            or any(c.priced for c in self.couriers)
        )

    @property
    def dims(self) -> int:
        """Capacity dimensions: the most any courier or stop gives (at least one)."""
        return max(
            [
                1,
                *(len(c.capacities) for c in self.couriers),
                *(len(s.picked_up or ()) for s in self.stops),
                *(len(s.delivered or ()) for s in self.stops),
            ]
        )

    @staticmethod
    def matrix(values: Sequence[Sequence[int]] | NDArray[np.integer]) -> Matrix:
        """Turn nested sequences or any integer array into the int64 matrix the model uses."""
        return np.ascontiguousarray(np.asarray(values, dtype=np.int64))


@dataclass(frozen=True)
class Visit:
    """One stop on a route with its schedule."""

    stop: int
    """Index into problem.stops."""
    arrival: int
    start: int
    departure: int
    load_after: int
    distance_from_previous: int


@dataclass(frozen=True)
class Route:
    """One courier's ordered visits; start = leaving the depot, end = back at the depot."""

    courier: int
    visits: tuple[Visit, ...]
    start: int
    end: int
    distance: int
    break_start: int | None = None
    start_load: int = 0
    more_break_starts: tuple[int, ...] = ()
    """Starts of the courier's further breaks (``Courier.more_breaks``), in their order."""

    @property
    def break_starts(self) -> tuple[int, ...]:
        """Starts of every break taken, in the order of ``Courier.breaks``."""
        return () if self.break_start is None else (self.break_start, *self.more_break_starts)


@dataclass(frozen=True)
class Unassigned:
    """A stop left out, with the reason."""

    stop: int
    reason: UnassignedReason


@dataclass(frozen=True)
class Plan:
    """The optimiser's answer: routes (non-empty only) and unassigned stops."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...] = ()
    engine: str = ""
    seconds: float = 0.0

    @property
    def couriers_used(self) -> int:
        """Number of routes with at least one visit."""
        return sum(1 for r in self.routes if r.visits)

    @property
    def distance(self) -> int:
        """Total distance over all routes."""
        return sum(r.distance for r in self.routes)


COST_UNITS_PER_MONEY = 3600
"""Priced objectives count in 1/3600 of the money unit: an hourly cost is then an integer cost
per second of working time (the time dimension's span cost)."""


def route_money(
    courier: Courier,
    start: int,
    end: int,
    distance: int,
    travel: int = 0,
    task: int = 0,
    arc: int = 0,
) -> int:
    """The priced objective of one used route, in cost units (1/3600 of the money unit): the
    fixed cost, the working time (``end - start``, waiting included) at the hourly cost, the
    ``travel`` time (seconds at the courier's speed) and the ``task`` time (setup applied and
    service) at their hourly costs, the ``arc`` money of a custom cost matrix, and the
    distance at the per-km cost plus one unit a metre (a tie-break towards shorter)."""
    return (
        (courier.fixed_cost + arc) * COST_UNITS_PER_MONEY
        + courier.cost_per_hour * (end - start)
        + courier.cost_per_travel_hour * travel
        + courier.cost_per_task_hour * task
        + metre_cost(courier) * distance
    )


def user_cost(courier: Courier, travel: int, distance: int, task: int, arc: int = 0) -> int:
    """A used route's cost in money as VROOM (1.15) reports it: the fixed cost, the travel
    cost rounded (``travel`` seconds at ``per_hour``, ``distance`` metres at ``per_km``:
    CostWrapper::user_cost_from_user_metrics) and the task cost truncated from VROOM's
    internal units (``task`` = setup and service, a break's service included, at
    ``per_task_hour``). With a custom cost matrix, ``arc`` is its sum along the route and
    replaces the travel cost."""
    variable = travel * courier.cost_per_travel_hour / 3600 + distance * courier.cost_per_km / 1000
    task_cost = (courier.cost_per_task_hour * task * 100) // (100 * COST_UNITS_PER_MONEY)
    return courier.fixed_cost + arc + int(variable + 0.5) + task_cost


def metre_cost(courier: Courier) -> int:
    """Cost units per metre of a priced courier: the per-km cost (x 3.6, rounded) + 1."""
    return (courier.cost_per_km * COST_UNITS_PER_MONEY + 500) // 1000 + 1


class TravelCost(StrEnum):
    """What the objective counts after the number of couriers."""

    DISTANCE = "distance"
    DURATION = "duration"


@dataclass(frozen=True)
class SolveParams:
    """How to solve: time budget, seed and engine options."""

    time_limit_s: float = 10.0
    seed: int = 0
    engine: str = "ours"
    """'ours' (portfolio + OR-Tools), 'ortools' (textbook, parallel cheapest insertion),
    'ortools-local' (textbook, local cheapest insertion), 'pyvrp', 'vroom'."""
    travel_cost: TravelCost = TravelCost.DISTANCE
    courier_cost: int | None = None
    """Fixed cost per used courier; None = larger than any possible travel (fewest first)."""
    workers: int = 2
    """Processes the portfolio may use."""
    use_pyvrp: bool = True
    use_vroom: bool = True
    log: bool = False
    """Print the portfolio's progress (phases, candidates) to stdout."""
    vroom_first: bool = False
    """Relaxed problems up to a few hundred stops start from VROOM's own search with breaks
    (VROOM's format, whose every rule VROOM sees; city days with desks keep the default)."""
    vroom_input: str | None = None
    """The problem as VROOM's own JSON input (VROOM-format requests with custom matrices): the
    portfolio's VROOM solves it as given, so that its plan is VROOM's own."""
    iterations: int | None = None
    """Deterministic mode ('ours' and 'pyvrp'): each PyVRP search stops after this many
    iterations (the fleet job splits them as it splits time) and OR-Tools after
    iterations // 10 solutions, instead of at the wall clock; VROOM and the exchange of
    fleets between processes are left out. Same problem, seed and iterations = same plan,
    as long as the run ends within ``time_limit_s``, which remains a safety net."""
    initial: tuple[tuple[int, ...], ...] = ()
    """Routes to start from, one stop sequence per courier (VROOM's ``steps`` in solving
    mode, see plan_mode.initial_routes); each must be feasible. Empty: none."""
