"""OR-Tools routing: the engine that expresses every rule of the model (the only OR-Tools import).

One node per stop (stops sharing a desk are distinct nodes at distance zero); the time
dimension's domain at each node is the union of the stop's effective windows (gaps such as a
desk's lunch are removed with RemoveInterval); a stop's setup (VROOM's) is part of the arc
into it when the arc changes place, its window then bounds the cumul minus the setup
applied; couriers' breaks are interval variables the routing layer schedules around visits;
every stop sits in its own disjunction with a penalty far above any courier cost, so a stop
that cannot fit comes back unperformed instead of making the model infeasible (priorities
first, then the number of stops: VROOM's order, see penalty_for); a large fixed cost per used
courier puts fewest couriers first. A priced problem (couriers with costs, model.route_money)
is solved for money instead: each courier's fixed cost, its working time as the time
dimension's span cost (waiting included; the start floats within the shift so leaving later
is free), and in the arc costs its distance at its per-km cost, its travel time and its task
time (setup applied and service) at their hourly costs (VROOM's ``costs``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from postal.routing.model import COST_UNITS_PER_MONEY, metre_cost
from postal.routing.prep import Prepared, at_speed

Sequences = dict[int, list[int]]


@dataclass(frozen=True)
class OrtoolsOutcome:
    """Sequences found (courier -> stops), stops left unperformed, and the model's cost."""

    sequences: Sequences
    dropped: list[int]
    cost: int
    seconds: float
    found: bool


def penalty_for(priority: int, base: int, stops: int) -> int:
    """Penalty for leaving a stop out, in VROOM's order: a point of priority outweighs any
    number of stops (``base * (stops + 1)``), and a stop any courier and travel cost (``base``).

    Where that weight would come near int64's limit (tens of thousands of stops with large
    travel costs), a point of priority weighs ``base``: still first before couriers and travel.
    """
    weight = base * (stops + 1)
    if weight * 101 * (stops + 1) >= 2**62:
        weight = base
    return base + weight * max(0, min(priority, 100))


def _restrict(var: pywrapcp.IntVar, windows: Sequence[tuple[int, int]]) -> None:
    """Limit ``var`` to the union of sorted ``windows`` (gaps removed)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    var.SetRange(merged[0][0], merged[-1][1])
    for (_, hi), (lo, _) in itertools.pairwise(merged):
        if hi + 1 <= lo - 1:
            var.RemoveInterval(hi + 1, lo - 1)


class OrtoolsModel:
    """A routing model over a Prepared problem (optionally a subset of its couriers)."""

    def __init__(
        self,
        prep: Prepared,
        courier_cost: int,
        drop_penalty: int,
        by_duration: bool,
        couriers: Sequence[int] | None = None,
        stops: Sequence[int] | None = None,
    ) -> None:
        self.prep = prep
        problem = prep.problem
        self.couriers = list(range(len(problem.couriers)) if couriers is None else couriers)
        self.stops = list(prep.active if stops is None else stops)
        n_depots = len(problem.depots)
        self.n_depots = n_depots
        n_nodes = n_depots + len(self.stops)
        self.node_of = {s: n_depots + k for k, s in enumerate(self.stops)}
        starts = [problem.couriers[c].start_depot for c in self.couriers]
        ends = [problem.couriers[c].end_depot for c in self.couriers]
        self.manager = pywrapcp.RoutingIndexManager(n_nodes, len(self.couriers), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing, manager = self.routing, self.manager

        loc = [d.location for d in problem.depots] + [problem.stops[s].location for s in self.stops]
        service = [0] * n_depots + [problem.stops[s].service for s in self.stops]
        setup = [0] * n_depots + [problem.stops[s].setup for s in self.stops]
        self.loc, self.setup = loc, setup

        # Setup and service per vehicle type (VROOM's *_per_type), for a courier of each type.
        typed: dict[str | None, tuple[list[int], list[int]]] = {None: (service, setup)}
        for c in self.couriers:
            courier = problem.couriers[c]
            if courier.vehicle_type not in typed:
                typed[courier.vehicle_type] = (
                    [0] * n_depots + [problem.stops[s].service_for(courier) for s in self.stops],
                    [0] * n_depots + [problem.stops[s].setup_for(courier) for s in self.stops],
                )

        def node_matrix(
            speed: int,
            profile: int,
            with_service: bool,
            use_distance: bool,
            vtype: str | None = None,
        ) -> list[list[int]]:
            """Node-to-node travel (at ``speed``) or distance, of one profile's matrices."""
            service, setup = typed[vtype]
            mat = (problem.all_distances if use_distance else problem.all_durations)[profile]
            rows = []
            for a in range(n_nodes):
                la = loc[a]
                row = [int(mat[la, loc[b]]) for b in range(n_nodes)]
                if not use_distance:
                    if speed != 100:
                        row = [at_speed(v, speed) for v in row]
                    if with_service and service[a]:
                        row = [v + service[a] for v in row]
                    if with_service and any(setup):
                        # The setup of b is spent on arriving from another place, so the
                        # time dimension's cumul at b is when its service starts.
                        row = [v + (setup[b] if loc[b] != la else 0) for b, v in enumerate(row)]
                rows.append(row)
            return rows

        time_cb: dict[tuple[int, int, str | None], int] = {}
        cost_cb: dict[tuple[int, int], int] = {}
        priced_cb: dict[tuple[int, int, int, int, int, str | None], int] = {}
        priced = problem.priced
        metres: dict[int, list[list[int]]] = {}
        for v, c in enumerate(self.couriers):
            speed = problem.couriers[c].speed_percent
            profile = problem.couriers[c].profile
            vtype = problem.couriers[c].vehicle_type
            if (speed, profile, vtype) not in time_cb:
                time_cb[speed, profile, vtype] = routing.RegisterTransitMatrix(
                    node_matrix(speed, profile, True, False, vtype)
                )
            if priced:
                # Money: the distance at the courier's per-metre cost, travel and task time at
                # theirs (working time is the time dimension's span cost below, fixed costs
                # per vehicle).
                courier = problem.couriers[c]
                per_metre = metre_cost(courier)
                travel, task = courier.cost_per_travel_hour, courier.cost_per_task_hour
                pkey = (
                    per_metre,
                    travel,
                    task,
                    speed if travel or task else 0,
                    profile,
                    courier.vehicle_type,
                )
                if pkey not in priced_cb:
                    if profile not in metres:
                        metres[profile] = node_matrix(100, profile, False, True)
                    rows = [[d * per_metre for d in row] for row in metres[profile]]
                    arcs = problem.arc_costs_for(courier)
                    if arcs is not None:
                        # The custom cost matrix's money per leg.
                        rows = [
                            [m + int(arcs[loc[a], loc[b]]) * COST_UNITS_PER_MONEY
                             for b, m in enumerate(row)]
                            for a, row in enumerate(rows)
                        ]  # fmt: skip
                    if travel:
                        times = node_matrix(speed, profile, False, False)
                        rows = [
                            [m + travel * t for m, t in zip(row, trow, strict=True)]
                            for row, trow in zip(rows, times, strict=True)
                        ]
                    if task:
                        # Service of the node left, setup of the node reached when applied.
                        t_service, t_setup = typed[courier.vehicle_type]
                        rows = [
                            [
                                m + task * (t_service[a] + (t_setup[b] if loc[b] != loc[a] else 0))
                                for b, m in enumerate(row)
                            ]
                            for a, row in enumerate(rows)
                        ]
                    priced_cb[pkey] = routing.RegisterTransitMatrix(rows)
                routing.SetArcCostEvaluatorOfVehicle(priced_cb[pkey], v)
                continue
            if (speed, profile) not in cost_cb:
                cost_cb[speed, profile] = routing.RegisterTransitMatrix(
                    node_matrix(speed, profile, False, not by_duration)
                )
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[speed, profile], v)
        if priced:
            for v, c in enumerate(self.couriers):
                courier = problem.couriers[c]
                fixed = courier.fixed_cost * COST_UNITS_PER_MONEY
                # A used route takes its breaks, whose service is task time (VROOM's).
                fixed += courier.cost_per_task_hour * sum(b.duration for b in courier.breaks)
                routing.SetFixedCostOfVehicle(fixed, v)
        else:
            routing.SetFixedCostOfAllVehicles(courier_cost)

        horizon = prep.horizon
        routing.AddDimensionWithVehicleTransits(
            [
                time_cb[
                    problem.couriers[c].speed_percent,
                    problem.couriers[c].profile,
                    problem.couriers[c].vehicle_type,
                ]
                for c in self.couriers
            ],
            horizon,
            horizon,
            False,
            "time",
        )
        self.time = routing.GetDimensionOrDie("time")
        for v, c in enumerate(self.couriers):
            lo, hi = problem.couriers[c].shift
            # The start floats within the shift: a courier may leave later instead of waiting.
            self.time.CumulVar(routing.Start(v)).SetRange(lo, hi)
            self.time.CumulVar(routing.End(v)).SetRange(lo, hi)
            if priced and problem.couriers[c].cost_per_hour:
                # Working time (end - start, waiting included) at the hourly cost: one cost
                # unit per second is 1/3600 of the money unit.
                self.time.SetSpanCostCoefficientForVehicle(problem.couriers[c].cost_per_hour, v)
        for s in self.stops:
            index = manager.NodeToIndex(self.node_of[s])
            windows = [(lo, min(hi, horizon)) for lo, hi in prep.windows[s] if lo <= horizon]
            var = self.time.CumulVar(index)
            if not windows:
                var.SetRange(0, 0)
                continue
            if setup[self.node_of[s]]:
                self._setup_window(s, index, windows)
                continue
            _restrict(var, windows)

        self._add_load(courier_cost)
        self._add_breaks(service)
        self._add_limits(node_matrix)
        solver = routing.solver()
        n_all = len(problem.couriers)
        for s in self.stops:
            index = manager.NodeToIndex(self.node_of[s])
            routing.AddDisjunction(
                [index], penalty_for(problem.stops[s].priority, drop_penalty, len(self.stops))
            )
            allowed = prep.compatible[s]
            if len(allowed) < n_all:
                vehicles = [v for v, c in enumerate(self.couriers) if c in set(allowed)]
                # -1 keeps the stop droppable. (SetAllowedVehiclesForIndex's Python binding
                # rejects every list in OR-Tools 9.15 and is ignored by initial routes.)
                routing.VehicleVar(index).SetValues([-1, *vehicles])
            j = prep.partner[s]
            if j >= 0 and prep.is_pickup(s) and j in self.node_of:
                d_index = manager.NodeToIndex(self.node_of[j])
                routing.AddPickupAndDelivery(index, d_index)
                solver.Add(routing.VehicleVar(index) == routing.VehicleVar(d_index))
                solver.Add(self.time.CumulVar(index) <= self.time.CumulVar(d_index))
        for v in range(len(self.couriers)):
            if priced:
                routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(v)))

    def _setup_window(self, s: int, index: int, windows: list[tuple[int, int]]) -> None:
        """The window bounds the task's start, before its setup: cumul - setup applied.

        The setup applies unless the previous node is at the same place (a stop there, or a
        start depot); with no such node it always applies and the window simply shifts."""
        routing, manager = self.routing, self.manager
        node = self.node_of[s]
        here = self.loc[node]
        sup = self.setup[node]
        var = self.time.CumulVar(index)
        starts = [routing.Start(v) for v in range(len(self.couriers))]
        same = [
            i
            for i in [*starts, *(manager.NodeToIndex(self.node_of[o]) for o in self.stops)]
            if i != index and self.loc[manager.IndexToNode(i)] == here
        ]
        shifted = [(lo + sup, hi + sup) for lo, hi in windows]
        if not same:
            _restrict(var, shifted)
            return
        solver = routing.solver()
        _restrict(var, sorted(set(windows) | set(shifted)))
        task_start = solver.IntVar(windows[0][0], windows[-1][1], f"task_start_{s}")
        _restrict(task_start, windows)
        after_same = solver.Sum([solver.IsEqualCstVar(routing.NextVar(i), index) for i in same])
        solver.Add(task_start == var - sup + sup * after_same)

    def _add_load(self, courier_cost: int) -> None:
        """One load dimension per capacity dimension of the problem."""
        prep = self.prep
        for d in range(prep.dims):
            name = "load" if d == 0 else f"load{d}"
            self._add_load_dimension(prep.deltas[d], prep.depot_loads[d], d, name)
        del courier_cost

    def _add_load_dimension(
        self, delta: Sequence[int], depot_load: Sequence[int], dim: int, name: str
    ) -> None:
        prep, routing = self.prep, self.routing
        caps = [prep.capacities[c][dim] for c in self.couriers]
        from_depot = any(depot_load[s] for s in self.stops)
        # Anything picked up (a stop that delivers and picks up has delta + depot load > 0).
        pickups = any(delta[s] + depot_load[s] > 0 for s in self.stops)
        if not from_depot and not pickups:
            return
        if from_depot and not pickups:
            # Only depot deliveries: cumulating them from zero is the same constraint.
            vec = [0] * self.n_depots + [depot_load[s] for s in self.stops]
            cb = routing.RegisterUnaryTransitVector(vec)
            routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, name)
            return
        vec = [0] * self.n_depots + [delta[s] for s in self.stops]
        cb = routing.RegisterUnaryTransitVector(vec)
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, not from_depot, name)
        if not from_depot:
            return
        # Mixed: the start load must equal what is loaded at the depot. The end load is start
        # load + what unpaired stops pick up - depot deliveries, so tie it to a dimension that
        # counts the unpaired pickups.
        load = routing.GetDimensionOrDie(name)
        up = [0] * self.n_depots + [
            delta[s] + depot_load[s] if prep.partner[s] < 0 else 0 for s in self.stops
        ]
        cb_up = routing.RegisterUnaryTransitVector(up)
        total = sum(up) + 1
        routing.AddDimension(cb_up, 0, total, True, f"unpaired_pickups_{name}")
        upd = routing.GetDimensionOrDie(f"unpaired_pickups_{name}")
        solver = routing.solver()
        for v in range(len(self.couriers)):
            end = routing.End(v)
            solver.Add(load.CumulVar(end) == upd.CumulVar(end))

    def _add_limits(self, node_matrix: Callable[[int, int, bool, bool], list[list[int]]]) -> None:
        """Vehicles' max_tasks, max_travel_time and max_distance: a dimension each (only when
        some courier has the limit), whose per-vehicle capacity is the limit."""
        routing = self.routing
        couriers = [self.prep.problem.couriers[c] for c in self.couriers]
        unbounded = 2**50
        if any(c.max_tasks is not None for c in couriers):
            ones = routing.RegisterUnaryTransitVector([0] * self.n_depots + [1] * len(self.stops))
            caps = [len(self.stops) if c.max_tasks is None else c.max_tasks for c in couriers]
            routing.AddDimensionWithVehicleCapacity(ones, 0, caps, True, "tasks")
        if any(c.max_distance is not None for c in couriers):
            per_profile: dict[int, int] = {}
            for c in couriers:
                if c.profile not in per_profile:
                    matrix = node_matrix(100, c.profile, False, True)
                    per_profile[c.profile] = routing.RegisterTransitMatrix(matrix)
            caps = [unbounded if c.max_distance is None else c.max_distance for c in couriers]
            routing.AddDimensionWithVehicleTransitAndCapacity(
                [per_profile[c.profile] for c in couriers], 0, caps, True, "distance"
            )
        if any(c.max_travel_time is not None for c in couriers):
            # Travel alone (no setup, service or waiting), at each courier's speed.
            per_speed: dict[tuple[int, int], int] = {}
            for c in couriers:
                if (c.speed_percent, c.profile) not in per_speed:
                    matrix = node_matrix(c.speed_percent, c.profile, False, False)
                    per_speed[c.speed_percent, c.profile] = routing.RegisterTransitMatrix(matrix)
            routing.AddDimensionWithVehicleTransitAndCapacity(
                [per_speed[c.speed_percent, c.profile] for c in couriers],
                0,
                [unbounded if c.max_travel_time is None else c.max_travel_time for c in couriers],
                True,
                "travel",
            )

    def _add_breaks(self, service: list[int]) -> None:
        """Each break an interval the routing layer schedules around visits; a break with
        several windows is one optional interval per window, exactly one of them performed.
        (A break's load limit is left to the repair by our rules.)"""
        prep, routing, manager = self.prep, self.routing, self.manager
        problem = prep.problem
        if not any(problem.couriers[c].breaks for c in self.couriers):
            return
        solver = routing.solver()
        visit = [service[manager.IndexToNode(i)] for i in range(routing.Size())]
        for v, c in enumerate(self.couriers):
            intervals = []
            for b, brk in enumerate(problem.couriers[c].breaks):
                if len(brk.starts) == 1:
                    lo, hi = brk.starts[0]
                    intervals.append(
                        solver.FixedDurationIntervalVar(lo, hi, brk.duration, False, f"b{c}_{b}")
                    )
                    continue
                options = [
                    solver.FixedDurationIntervalVar(lo, hi, brk.duration, True, f"b{c}_{b}_{w}")
                    for w, (lo, hi) in enumerate(brk.starts)
                ]
                solver.Add(solver.Sum([o.PerformedExpr() for o in options]) == 1)
                intervals += options
            self.time.SetBreakIntervalsOfVehicle(intervals, v, visit)

    def _params(
        self, seconds: float, first: str, meta: str, log: bool
    ) -> pywrapcp.DefaultRoutingSearchParameters:
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
        params.local_search_metaheuristic = getattr(
            routing_enums_pb2.LocalSearchMetaheuristic, meta
        )
        params.time_limit.FromMilliseconds(max(int(seconds * 1000), 10))
        params.log_search = log
        return params

    def solve(
        self,
        seconds: float,
        initial: Sequences | None = None,
        first: str = "LOCAL_CHEAPEST_INSERTION",
        meta: str = "GUIDED_LOCAL_SEARCH",
        log: bool = False,
        solutions: int | None = None,
    ) -> OrtoolsOutcome:
        """Search for ``seconds``, from ``initial`` routes when given (infeasible ones dropped);
        with ``solutions``, stop after that many solutions (deterministic; the time limit
        then only bounds the run)."""
        t0 = time.perf_counter()
        routing = self.routing
        params = self._params(seconds, first, meta, log)
        if solutions is not None:
            params.solution_limit = solutions
        solution = None
        if initial:
            routing.CloseModelWithParameters(params)
            routes = []
            vehicle_of = {c: v for v, c in enumerate(self.couriers)}
            per_vehicle: dict[int, list[int]] = {}
            for c, seq in initial.items():
                if c in vehicle_of:
                    per_vehicle[vehicle_of[c]] = [
                        self.manager.NodeToIndex(self.node_of[s]) for s in seq if s in self.node_of
                    ]
            routes = [per_vehicle.get(v, []) for v in range(len(self.couriers))]
            start = routing.ReadAssignmentFromRoutes(routes, True)
            if start is not None:
                left = seconds - (time.perf_counter() - t0)
                params.time_limit.FromMilliseconds(max(int(left * 1000), 10))
                solution = routing.SolveFromAssignmentWithParameters(start, params)
                if solution is None:
                    solution = start
        if solution is None:
            solution = routing.SolveWithParameters(params)
        if solution is None:
            return OrtoolsOutcome({}, list(self.stops), 0, time.perf_counter() - t0, False)
        return self._extract(solution, t0)

    def _extract(self, solution: pywrapcp.Assignment, t0: float) -> OrtoolsOutcome:
        routing, manager = self.routing, self.manager
        stop_of = {node: s for s, node in self.node_of.items()}
        sequences: Sequences = {}
        served: set[int] = set()
        for v, c in enumerate(self.couriers):
            index = solution.Value(routing.NextVar(routing.Start(v)))
            seq = []
            while not routing.IsEnd(index):
                s = stop_of[manager.IndexToNode(index)]
                seq.append(s)
                served.add(s)
                index = solution.Value(routing.NextVar(index))
            if seq:
                sequences[c] = seq
        dropped = [s for s in self.stops if s not in served]
        return OrtoolsOutcome(
            sequences, dropped, int(solution.ObjectiveValue()), time.perf_counter() - t0, True
        )
