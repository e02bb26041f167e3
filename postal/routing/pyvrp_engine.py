"""PyVRP as a component: solves a relaxation of the problem and returns stop sequences.

What PyVRP cannot express is relaxed, and the caller re-checks and repairs the result:
several windows per stop become their hull, a courier's break shortens the nominal shift
duration by the break length, service areas become a routing profile per area class where
forbidden locations are prohibitively far.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvrp
from pyvrp.IteratedLocalSearch import IteratedLocalSearchCallbacks, IteratedLocalSearchParams

from postal.routing.prep import Prepared, at_speed, picked
from postal.routing.stopping import Until

Sequences = dict[int, list[int]]
"""Courier index -> ordered stop indices."""

_FORBIDDEN = 10**9


class _OnBest(IteratedLocalSearchCallbacks):
    """Forwards every new best solution to a function."""

    def __init__(self, fn: Callable[[pyvrp.Solution], None]) -> None:
        self.fn = fn

    def on_best(self, best: pyvrp.Solution) -> None:
        self.fn(best)


@dataclass(frozen=True)
class PyvrpOutcome:
    """Sequences found, whether PyVRP itself deemed them feasible, and its cost."""

    sequences: Sequences
    feasible: bool
    cost: int
    seconds: float


def _vehicle_classes(prep: Prepared) -> list[list[int]]:
    """Couriers grouped by everything PyVRP's vehicle type carries."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for c, courier in enumerate(prep.problem.couriers):
        key = (
            courier.start_depot,
            courier.end_depot,
            courier.shift,
            prep.capacities[c],
            courier.speed_percent,
            courier.profile,
            courier.breaks,
            courier.max_tasks,
            courier.max_travel_time,
            courier.max_distance,
        )
        groups.setdefault(key, []).append(c)
    return list(groups.values())


class PyvrpModel:
    """A PyVRP ProblemData built once from a Prepared problem, reusable across solves."""

    def __init__(
        self,
        prep: Prepared,
        courier_cost: int,
        by_duration: bool,
        couriers: Sequence[int] | None = None,
    ) -> None:
        self.prep = prep
        problem = prep.problem
        allowed = set(range(len(problem.couriers)) if couriers is None else couriers)
        self.classes = [[c for c in g if c in allowed] for g in _vehicle_classes(prep)]
        self.classes = [g for g in self.classes if g]
        active = prep.active
        self.client_stops: list[int] = []
        self.shipment_stops: list[tuple[int, int]] = []
        for s in active:
            j = prep.partner[s]
            if j < 0:
                self.client_stops.append(s)
            elif prep.is_pickup(s):
                self.shipment_stops.append((s, j))

        # Compatibility classes -> profiles (matrices with forbidden locations far away).
        compat_keys: dict[tuple[int, ...], int] = {}
        restricted = any(len(prep.compatible[s]) < len(problem.couriers) for s in active)
        depot_ids = sorted(
            {
                d
                for g in self.classes
                for c in g
                for d in (problem.couriers[c].start_depot, problem.couriers[c].end_depot)
            }
        )
        self.depot_index = {d: k for k, d in enumerate(depot_ids)}
        n_loc = problem.durations.shape[0]
        locations = [pyvrp.Location(0.0, 0.0) for _ in range(n_loc)]
        firsts = [problem.couriers[g[0]] for g in self.classes]
        speeds = sorted({(c.speed_percent, c.profile) for c in firsts})
        profile_of: dict[tuple[int, int, tuple[int, ...]], int] = {}
        dist_mats: list[Any] = []
        dur_mats: list[Any] = []

        def profile(speed: int, ours: int, forbidden: tuple[int, ...]) -> int:
            """PyVRP's profile for a speed, one of our profiles, and locations barred."""
            key = (speed, ours, forbidden)
            if key not in profile_of:
                dur = problem.all_durations[ours]
                if speed != 100:
                    dur = at_speed(dur, speed)
                dist = problem.all_distances[ours] if not by_duration else dur
                if forbidden:
                    dist = dist.copy()
                    dur = dur.copy()
                    idx = np.array(forbidden)
                    dist[:, idx] = _FORBIDDEN
                    dur[:, idx] = _FORBIDDEN
                    # PyVRP wants a zero diagonal; staying at a location costs nothing.
                    dist[idx, idx] = 0
                    dur[idx, idx] = 0
                profile_of[key] = len(dist_mats)
                dist_mats.append(np.ascontiguousarray(dist, dtype=np.int64))
                dur_mats.append(np.ascontiguousarray(dur, dtype=np.int64))
            return profile_of[key]

        for speed, ours in speeds:
            profile(speed, ours, ())

        depots = [pyvrp.Depot(location=problem.depots[d].location) for d in depot_ids]
        vehicle_types: list[pyvrp.VehicleType] = []
        self.type_couriers: list[list[int]] = []
        for g in self.classes:
            c = problem.couriers[g[0]]
            forbidden: tuple[int, ...] = ()
            if restricted:
                key = tuple(sorted(s for s in active if g[0] not in prep.compatible[s]))
                compat_keys.setdefault(key, len(compat_keys))
                # A location some of whose stops this class may serve stays open (a desk of
                # two areas); the repair moves any stop PyVRP puts on the wrong courier.
                barred = set(key)
                allowed_at = {problem.stops[s].location for s in active if s not in barred}
                forbidden = tuple(sorted({problem.stops[s].location for s in barred} - allowed_at))
            # PyVRP's distance is our travel cost: it bounds the matching limit (max_tasks
            # and the other limit are left to the repair, as the model is then a relaxation).
            limit = c.max_travel_time if by_duration else c.max_distance
            shift_len = c.shift[1] - c.shift[0]
            shift_len -= sum(b.duration for b in c.breaks)
            vehicle_types.append(
                pyvrp.VehicleType(
                    num_available=len(g),
                    capacity=list(prep.capacities[g[0]]),
                    start_depot=self.depot_index[c.start_depot],
                    end_depot=self.depot_index[c.end_depot],
                    fixed_cost=courier_cost,
                    tw_early=c.shift[0],
                    tw_late=c.shift[1],
                    shift_duration=max(shift_len, 0),
                    max_distance=2**63 - 1 if limit is None else limit,
                    profile=profile(c.speed_percent, c.profile, forbidden),
                )
            )
            self.type_couriers.append(g)

        def hull(s: int) -> tuple[int, int]:
            w = prep.windows[s]
            return w[0][0], min(w[-1][1], 2**40)

        clients = []
        # Setup is counted whole (PyVRP has no setup), at the slowest vehicle type's times:
        # its routes stay feasible by our rules.
        for s in self.client_stops:
            st = problem.stops[s]
            lo, hi = hull(s)
            clients.append(
                pyvrp.Client(
                    location=st.location,
                    delivery=[load[s] for load in prep.depot_loads],
                    pickup=picked(prep, s),
                    service_duration=st.longest_task,
                    tw_early=lo,
                    tw_late=hi,
                )
            )
        shipments = []
        for ps, ds in self.shipment_stops:
            sp, sd = problem.stops[ps], problem.stops[ds]
            (plo, phi), (dlo, dhi) = hull(ps), hull(ds)
            shipments.append(
                pyvrp.Shipment(
                    pickup_location=sp.location,
                    delivery_location=sd.location,
                    pickup_tw_early=plo,
                    pickup_tw_late=phi,
                    pickup_service_duration=sp.longest_task,
                    delivery_tw_early=dlo,
                    delivery_tw_late=dhi,
                    delivery_service_duration=sd.longest_task,
                    amount=picked(prep, ps),
                )
            )
        self.data = pyvrp.ProblemData(
            locations=locations,
            clients=clients,
            depots=depots,
            vehicle_types=vehicle_types,
            distance_matrices=dist_mats,
            duration_matrices=dur_mats,
            shipments=shipments,
        )

    def to_sequences(self, solution: pyvrp.Solution) -> Sequences:
        """Map a PyVRP solution back to courier -> stop sequences."""
        out: Sequences = {}
        used = [0] * len(self.type_couriers)
        for route in solution.routes():
            t = route.vehicle_type()
            courier = self.type_couriers[t][used[t]]
            used[t] += 1
            seq: list[int] = []
            for act in route.schedule():
                kind = act.type
                if kind == pyvrp.ActivityType.CLIENT:
                    seq.append(self.client_stops[act.idx])
                elif kind == pyvrp.ActivityType.PICKUP:
                    seq.append(self.shipment_stops[act.idx][0])
                elif kind == pyvrp.ActivityType.DELIVERY:
                    seq.append(self.shipment_stops[act.idx][1])
            if seq:
                out[courier] = seq
        return out

    def from_sequences(self, sequences: Sequences) -> pyvrp.Solution | None:
        """Build a PyVRP warm start from courier -> stop sequences (None if not mappable)."""
        client_of = {s: k for k, s in enumerate(self.client_stops)}
        ship_of: dict[int, tuple[int, bool]] = {}
        for k, (p, d) in enumerate(self.shipment_stops):
            ship_of[p] = (k, True)
            ship_of[d] = (k, False)
        type_of = {c: t for t, g in enumerate(self.type_couriers) for c in g}
        routes = []
        try:
            for courier, seq in sequences.items():
                if not seq or courier not in type_of:
                    continue
                acts = []
                for s in seq:
                    if s in client_of:
                        acts.append(pyvrp.Activity(pyvrp.ActivityType.CLIENT, client_of[s]))
                    elif s in ship_of:
                        k, is_pickup = ship_of[s]
                        kind = (
                            pyvrp.ActivityType.PICKUP if is_pickup else pyvrp.ActivityType.DELIVERY
                        )
                        acts.append(pyvrp.Activity(kind, k))
                    else:
                        return None
                routes.append(pyvrp.Route(self.data, acts, type_of[courier]))
            return pyvrp.Solution(self.data, routes)
        except (RuntimeError, ValueError, IndexError):
            return None

    def type_of(self) -> dict[int, int]:
        """Courier -> PyVRP vehicle type."""
        return {c: t for t, g in enumerate(self.type_couriers) for c in g}

    def fleet_of(self, sequences: Sequences) -> list[int]:
        """Routes per vehicle type used by ``sequences``."""
        type_of = self.type_of()
        counts = [0] * len(self.type_couriers)
        for c, seq in sequences.items():
            if seq and c in type_of:
                counts[type_of[c]] += 1
        return counts

    def limit_fleet(self, base: pyvrp.ProblemData, counts: Sequence[int]) -> None:
        """Restrict ``base``'s fleet to ``counts`` vehicles per type (at least one: PyVRP needs
        a vehicle per type) and make that the model's data."""
        types = [base.vehicle_type(t) for t in range(base.num_vehicle_types)]
        self.data = base.replace(
            vehicle_types=[
                vt.replace(num_available=max(k, 1)) for vt, k in zip(types, counts, strict=True)
            ]
        )

    def run(
        self,
        stop: Until,
        seed: int,
        initial: pyvrp.Solution | None = None,
        on_best: Callable[[pyvrp.Solution], None] | None = None,
        history: int | None = None,
    ) -> pyvrp.Result:
        """One PyVRP iterated local search on the current data; ``history`` overrides the
        late-acceptance history length (PyVRP's default is 300)."""
        params = pyvrp.SolveParams()
        if on_best is not None or history is not None:
            ils = IteratedLocalSearchParams(
                callbacks=_OnBest(on_best) if on_best is not None else None  # type: ignore[arg-type]
            )
            if history is not None:
                ils.history_length = history
            params = pyvrp.SolveParams(ils=ils)
        with warnings.catch_warnings():
            # PyVRP warns when penalties saturate (e.g. not every stop fits); we repair that.
            warnings.simplefilter("ignore")
            return pyvrp.solve(
                self.data,
                stop=stop,
                seed=seed,
                collect_stats=False,
                initial_solution=initial,
                params=params,
            )

    def solve(
        self,
        seconds: float,
        seed: int,
        initial: Sequences | None = None,
        iterations: int | None = None,
    ) -> PyvrpOutcome:
        """Run PyVRP's iterated local search for ``seconds`` (set-up included), or for
        ``iterations`` iterations when given (``seconds`` then only bounds the run)."""
        t0 = time.perf_counter()
        init = self.from_sequences(initial) if initial else None
        stop = Until(time.monotonic() + max(seconds, 0.01), iterations)
        best = self.run(stop, seed, init).best
        return PyvrpOutcome(
            sequences=self.to_sequences(best),
            feasible=bool(best.is_feasible()),
            cost=int(best.distance_cost() + best.fixed_vehicle_cost()),
            seconds=time.perf_counter() - t0,
        )
