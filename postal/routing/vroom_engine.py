"""VROOM (pyvroom) as a component: shipments, several windows, breaks; returns stop sequences.

Job and shipment-step ids are our stop indices, vehicle ids our courier indices. VROOM's own
rounding of speed factors may differ from ours, so the caller re-checks every sequence.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import vroom
from numpy.typing import NDArray

from postal.routing.prep import Prepared, picked

Sequences = dict[int, list[int]]
_UINT32 = 2**32 - 1


@dataclass(frozen=True)
class VroomOutcome:
    """Sequences found, stops VROOM left unassigned, and time used."""

    sequences: Sequences
    dropped: list[int]
    seconds: float


def _tw(lo: int, hi: int) -> vroom.TimeWindow:
    return vroom.TimeWindow(max(lo, 0), min(hi, _UINT32 - 1))


def skills(prep: Prepared) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """VROOM skills that express service areas: (skills per courier, skills per stop).

    Each distinct set of compatible couriers narrower than the whole fleet is one skill; a
    courier has it when it is in the set and a stop needs it, so VROOM offers a stop to exactly
    the couriers our rules allow.
    """
    everyone = tuple(range(len(prep.problem.couriers)))
    ids: dict[tuple[int, ...], int] = {}
    per_stop: dict[int, set[int]] = {}
    for s in prep.active:
        allowed = prep.compatible[s]
        if allowed != everyone:
            per_stop[s] = {ids.setdefault(allowed, len(ids))}
    per_courier: dict[int, set[int]] = {c: set() for c in everyone}
    for allowed, skill in ids.items():
        for c in allowed:
            per_courier[c].add(skill)
    return per_courier, per_stop


def _profile_name(k: int) -> str:
    """VROOM's name for our profile ``k`` (VROOM's default, 'car', for the problem's own)."""
    return "car" if k == 0 else f"profile{k}"


def _uint32(matrix: NDArray[np.int64]) -> NDArray[np.uint32]:
    """A matrix as VROOM takes it (values capped below its 'unreachable')."""
    return np.minimum(matrix, _UINT32 - 1).astype(np.uint32)


def _or(first: NDArray[np.int64] | None, second: NDArray[np.int64]) -> NDArray[np.int64]:
    return second if first is None else first


def build_input(
    prep: Prepared, courier_cost: int, by_duration: bool, with_breaks: bool = True
) -> vroom.Input:
    """Translate the prepared problem into a pyvroom Input."""
    problem = prep.problem
    courier_skills, stop_skills = skills(prep)
    inp = vroom.Input()
    # VROOM's own costs where the couriers have VROOM's kinds of costs (travel time, distance)
    # or the problem a custom cost matrix; otherwise (fewest couriers, or working time) a cost
    # matrix of travel with a large fixed cost.
    arcs = [problem.arc_costs, *(p.arc_costs for p in problem.profiles)]
    custom = any(a is not None for a in arcs)
    metric = not custom and any(c.cost_per_travel_hour or c.cost_per_km for c in problem.couriers)
    with_distances = metric or any(c.max_distance is not None for c in problem.couriers)
    for k, durations in enumerate(problem.all_durations):
        name = _profile_name(k)
        inp.set_durations_matrix(profile=name, matrix_input=_uint32(durations))
        if with_distances:
            inp.set_distances_matrix(profile=name, matrix_input=_uint32(problem.all_distances[k]))
        if not metric:
            costs = durations if by_duration else problem.all_distances[k]
            inp.set_costs_matrix(profile=name, matrix_input=_uint32(_or(arcs[k], costs)))
    fixed = min(courier_cost, 2**31 - 1)
    for c, courier in enumerate(problem.couriers):
        if metric:
            vehicle_costs = vroom.VehicleCosts(
                fixed=min(courier.fixed_cost, 2**31 - 1),
                per_hour=courier.cost_per_travel_hour,
                per_km=courier.cost_per_km,
            )
        else:
            own = min(courier.fixed_cost, 2**31 - 1)
            vehicle_costs = vroom.VehicleCosts(fixed=own if custom else fixed)
        breaks = [
            vroom.Break(
                id=c * 1000 + k,  # ids only need to be unique per vehicle (steps are read by task)
                time_windows=[_tw(lo, hi) for lo, hi in b.starts],
                service=b.duration,
                max_load=None if b.max_load is None else list(b.max_load),
            )
            for k, b in enumerate(courier.breaks if with_breaks else ())
        ]
        inp.add_vehicle(
            vroom.Vehicle(
                id=c,
                start=problem.depots[courier.start_depot].location,
                end=problem.depots[courier.end_depot].location,
                capacity=list(prep.capacities[c]),
                time_window=_tw(*courier.shift),
                breaks=breaks,
                costs=vehicle_costs,
                skills=courier_skills[c],
                speed_factor=courier.speed_percent / 100.0,
                max_tasks=courier.max_tasks,
                max_travel_time=courier.max_travel_time,
                max_distance=courier.max_distance,
                type=courier.vehicle_type or "",
                profile=_profile_name(courier.profile),
            )
        )
    for s in prep.active:
        st = problem.stops[s]
        windows = [_tw(lo, hi) for lo, hi in prep.windows[s]]
        j = prep.partner[s]
        if j < 0:
            inp.add_job(
                vroom.Job(
                    id=s,
                    location=st.location,
                    default_setup=st.setup,
                    default_service=st.service,
                    setup_per_type=dict(st.setup_per_type) or None,
                    service_per_type=dict(st.service_per_type) or None,
                    delivery=vroom.Amount([load[s] for load in prep.depot_loads]),
                    pickup=vroom.Amount(picked(prep, s)),
                    priority=min(max(st.priority, 0), 100),
                    time_windows=windows,
                    skills=stop_skills.get(s, set()),
                )
            )
        elif prep.is_pickup(s):
            dst = problem.stops[j]
            inp.add_shipment(
                pickup=vroom.ShipmentStep(
                    id=s,
                    location=st.location,
                    default_setup=st.setup,
                    default_service=st.service,
                    setup_per_type=dict(st.setup_per_type) or None,
                    service_per_type=dict(st.service_per_type) or None,
                    time_windows=windows,
                ),
                delivery=vroom.ShipmentStep(
                    id=j,
                    location=dst.location,
                    default_setup=dst.setup,
                    default_service=dst.service,
                    setup_per_type=dict(dst.setup_per_type) or None,
                    service_per_type=dict(dst.service_per_type) or None,
                    time_windows=[_tw(lo, hi) for lo, hi in prep.windows[j]],
                ),
                amount=vroom.Amount(picked(prep, s)),
                skills=stop_skills.get(s, set()) | stop_skills.get(j, set()),
                priority=min(max(st.priority, 0), 100),
            )
    return inp


def solve_vroom(
    prep: Prepared,
    seconds: float,
    courier_cost: int,
    by_duration: bool,
    threads: int = 2,
    exploration: int = 5,
    with_breaks: bool = True,
) -> VroomOutcome:
    """Run VROOM on the prepared problem and return courier -> stop sequences."""
    t0 = time.perf_counter()
    if not prep.active:
        return VroomOutcome({}, [], 0.0)
    inp = build_input(prep, courier_cost, by_duration, with_breaks)
    # Our ids: a task's id is its stop index, a vehicle's its courier index.
    return _solved(inp, seconds, threads, exploration, lambda kind, i: int(i), int, t0)


def solve_vroom_input(
    prep: Prepared, text: str, seconds: float, threads: int = 2, exploration: int = 5
) -> VroomOutcome:
    """Run VROOM on the user's own VROOM input (``text``), its task and vehicle ids mapped
    back to our stops ('job:7', 'pickup:3'...) and couriers (vehicle ids)."""
    t0 = time.perf_counter()
    problem = prep.problem
    stop_of = {st.id: s for s, st in enumerate(problem.stops)}
    courier_of = {c.id: k for k, c in enumerate(problem.couriers)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.json"
        path.write_text(text, encoding="utf-8")
        inp = vroom.Input.from_json(path)
    return _solved(
        inp,
        seconds,
        threads,
        exploration,
        lambda kind, i: stop_of[f"{kind}:{i}"],
        lambda vid: courier_of[str(vid)],
        t0,
    )


def _solved(
    inp: vroom.Input,
    seconds: float,
    threads: int,
    exploration: int,
    stop: Callable[[str, Any], int],
    courier: Callable[[Any], int],
    t0: float,
) -> VroomOutcome:
    """Solve ``inp`` and read its routes back: ``stop(type, id)`` and ``courier(vehicle)``
    map VROOM's ids to our indices."""
    sol = inp.solve(
        exploration_level=exploration,
        nb_threads=threads,
        timeout=dt.timedelta(seconds=max(seconds, 0.05)),
    )
    data: dict[str, Any] = sol.to_dict()
    sequences: Sequences = {}
    for route in data.get("routes", []):
        seq = [
            stop(step["type"], step["id"])
            for step in route["steps"]
            if step["type"] in ("job", "pickup", "delivery")
        ]
        if seq:
            sequences[courier(route["vehicle"])] = seq
    dropped = [stop(u.get("type", "job"), u["id"]) for u in data.get("unassigned", [])]
    return VroomOutcome(sequences, dropped, time.perf_counter() - t0)
