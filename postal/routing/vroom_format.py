"""VROOM's JSON input and output formats, so VROOM users can switch without rewriting.

Input: vehicles (start/end or start_index/end_index, capacity, time_window, breaks,
speed_factor), jobs and shipments (location or location_index, service, delivery/pickup or
amount, time_windows, priority), and either coordinates or custom ``matrices`` (per profile
``durations`` and ``distances``; the legacy top-level ``matrix`` is read as durations).
Output: ``code``, ``summary``, ``unassigned`` and ``routes`` with ``steps`` (type, id,
location, arrival, service, waiting_time, load, duration, distance), as VROOM writes them;
unassigned entries also carry our ``reason``.

Limits, reported as errors rather than silently ignored: one capacity dimension, one break
per vehicle with one window, no skills, routes must start or end somewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from postal.routing.errors import MalformedInstance
from postal.routing.model import (
    Courier,
    CourierBreak,
    Depot,
    Plan,
    Problem,
    Route,
    Stop,
    StopKind,
    Unassigned,
    UnassignedReason,
    Visit,
)
from postal.routing.prep import INF

MatrixFn = Callable[[NDArray[np.float64]], tuple[NDArray[np.int64], NDArray[np.int64]]]
"""Coordinates (lon, lat) per location -> (durations s, distances m)."""


@dataclass(frozen=True)
class VroomIds:
    """How our indices map back to the ids of the VROOM input."""

    stop_ids: tuple[int, ...]
    stop_types: tuple[str, ...]
    """'job', 'pickup' or 'delivery' per stop."""
    vehicle_ids: tuple[int, ...]
    coordinates: tuple[tuple[float, float] | None, ...]
    """Per location, when the input gave coordinates."""


def haversine_matrices(circuity: float, speed_kmh: float) -> MatrixFn:
    """A matrix function: great-circle metres times ``circuity``, at ``speed_kmh``."""

    def fn(lonlat: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        lon = np.radians(lonlat[:, 0])[:, None]
        lat = np.radians(lonlat[:, 1])[:, None]
        dlat = lat - lat.T
        dlon = lon - lon.T
        a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
        metres = 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * circuity
        seconds = metres / (speed_kmh / 3.6)
        return np.rint(seconds).astype(np.int64), np.rint(metres).astype(np.int64)

    return fn


def _err(where: str, msg: str) -> MalformedInstance:
    return MalformedInstance(detail=f"{where}: {msg}", field=where)


def _amount(value: Any, where: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise _err(where, "amounts must be lists of integers")
    if len(value) > 1:
        raise _err(where, "only one capacity dimension is supported")
    return int(value[0]) if value else 0


def _windows(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    try:
        out = tuple((int(a), int(b)) for a, b in value)
    except (TypeError, ValueError) as exc:
        raise _err(where, "time_windows must be [[start, end], ...]") from exc
    if any(a > b for a, b in out):
        raise _err(where, "a time window ends before it starts")
    return out


class _Locations:
    """Collects locations given as indices or coordinates."""

    def __init__(self, has_matrix: bool) -> None:
        self.has_matrix = has_matrix
        self.coords: list[tuple[float, float]] = []
        self.index_of: dict[tuple[float, float], int] = {}

    def get(self, obj: dict[str, Any], key: str, where: str) -> int | None:
        idx = obj.get(f"{key}_index" if key != "location" else "location_index")
        if self.has_matrix:
            if idx is None:
                if obj.get(key) is None:
                    return None
                raise _err(where, f"'{key}_index' is required with custom matrices")
            return int(idx)
        coord = obj.get(key)
        if coord is None:
            return None
        if not (isinstance(coord, list) and len(coord) == 2):
            raise _err(where, f"'{key}' must be [lon, lat]")
        pt = (float(coord[0]), float(coord[1]))
        if pt not in self.index_of:
            self.index_of[pt] = len(self.coords)
            self.coords.append(pt)
        return self.index_of[pt]


def problem_from_vroom(
    data: dict[str, Any], matrix_fn: MatrixFn | None = None, profile: str = "car"
) -> tuple[Problem, VroomIds]:
    """Build a Problem from VROOM's input JSON (already parsed)."""
    if not isinstance(data, dict):
        raise _err("input", "the top level must be an object")
    durations: NDArray[np.int64] | None = None
    distances: NDArray[np.int64] | None = None
    matrices = data.get("matrices")
    if isinstance(matrices, dict) and matrices:
        prof = matrices.get(profile) or next(iter(matrices.values()))
        if "durations" not in prof:
            raise _err("matrices", "each profile needs 'durations'")
        durations = np.asarray(prof["durations"], dtype=np.int64)
        distances = np.asarray(prof.get("distances", prof["durations"]), dtype=np.int64)
    elif "matrix" in data:
        durations = np.asarray(data["matrix"], dtype=np.int64)
        distances = durations.copy()
    locs = _Locations(durations is not None)

    vehicles = data.get("vehicles")
    if not isinstance(vehicles, list) or not vehicles:
        raise _err("vehicles", "at least one vehicle is required")
    depots: list[Depot] = []
    depot_of: dict[int, int] = {}

    def depot(loc: int) -> int:
        if loc not in depot_of:
            depot_of[loc] = len(depots)
            depots.append(Depot(id=f"loc{loc}", location=loc))
        return depot_of[loc]

    couriers: list[Courier] = []
    vehicle_ids: list[int] = []
    for k, v in enumerate(vehicles):
        where = f"vehicles[{k}]"
        if v.get("skills"):
            raise _err(where, "skills are not supported")
        start = locs.get(v, "start", where)
        end = locs.get(v, "end", where)
        if start is None and end is None:
            raise _err(where, "a vehicle needs a start or an end")
        start = end if start is None else start
        end = start if end is None else end
        assert start is not None and end is not None
        tw = v.get("time_window") or [0, INF]
        breaks = v.get("breaks") or []
        if len(breaks) > 1:
            raise _err(where, "one break per vehicle is supported")
        brk = None
        if breaks:
            bw = _windows(breaks[0].get("time_windows"), f"{where}.breaks[0]") or ((tw[0], tw[1]),)
            if len(bw) > 1:
                raise _err(f"{where}.breaks[0]", "one break window is supported")
            brk = CourierBreak(bw[0][0], bw[0][1], int(breaks[0].get("service", 0)))
        speed = float(v.get("speed_factor", 1.0))
        couriers.append(
            Courier(
                id=str(v.get("id", k)),
                start_depot=depot(start),
                end_depot=depot(end),
                shift=(int(tw[0]), int(tw[1])),
                capacity=_amount(v.get("capacity"), where) if v.get("capacity") else 2**31,
                break_=brk,
                speed_percent=max(1, round(speed * 100)),
            )
        )
        vehicle_ids.append(int(v.get("id", k)))

    stops: list[Stop] = []
    stop_ids: list[int] = []
    stop_types: list[str] = []
    for k, job in enumerate(data.get("jobs") or []):
        where = f"jobs[{k}]"
        if job.get("skills"):
            raise _err(where, "skills are not supported")
        loc = locs.get(job, "location", where)
        if loc is None:
            raise _err(where, "a job needs a location")
        delivery = _amount(job.get("delivery"), where)
        pickup = _amount(job.get("pickup"), where)
        if delivery and pickup:
            raise _err(where, "a job with both delivery and pickup amounts is not supported")
        stops.append(
            Stop(
                id=str(job["id"]),
                kind=StopKind.PICKUP if pickup else StopKind.DELIVERY,
                location=loc,
                windows=_windows(job.get("time_windows"), where),
                service=int(job.get("service", 0)),
                demand=pickup or delivery,
                priority=int(job.get("priority", 0)),
            )
        )
        stop_ids.append(int(job["id"]))
        stop_types.append("job")
    for k, sh in enumerate(data.get("shipments") or []):
        where = f"shipments[{k}]"
        if sh.get("skills"):
            raise _err(where, "skills are not supported")
        amount = _amount(sh.get("amount"), where)
        pair = f"shipment{k}"
        for part, kind in (("pickup", StopKind.PICKUP), ("delivery", StopKind.DELIVERY)):
            step = sh.get(part)
            if not isinstance(step, dict):
                raise _err(where, f"missing '{part}'")
            loc = locs.get(step, "location", f"{where}.{part}")
            if loc is None:
                raise _err(f"{where}.{part}", "a location is required")
            stops.append(
                Stop(
                    id=f"{part}:{step['id']}",
                    kind=kind,
                    location=loc,
                    windows=_windows(step.get("time_windows"), f"{where}.{part}"),
                    service=int(step.get("service", 0)),
                    demand=amount,
                    pair=pair,
                    priority=int(sh.get("priority", 0)),
                )
            )
            stop_ids.append(int(step["id"]))
            stop_types.append(part)

    coords: list[tuple[float, float] | None]
    if durations is None:
        if matrix_fn is None:
            raise _err("input", "coordinates need a matrix function (or give custom matrices)")
        xy = np.asarray(locs.coords, dtype=np.float64).reshape(-1, 2)
        durations, distances = matrix_fn(xy)
        coords = list(locs.coords)
        coordinates: NDArray[np.float64] | None = xy
    else:
        coords = [None] * durations.shape[0]
        coordinates = None
    assert distances is not None
    n = durations.shape[0]
    used = [c.location for c in stops] + [d.location for d in depots]
    if any(not 0 <= i < n for i in used):
        raise _err("input", f"a location index is outside the {n}x{n} matrix")
    problem = Problem(
        durations=np.ascontiguousarray(durations, dtype=np.int64),
        distances=np.ascontiguousarray(distances, dtype=np.int64),
        depots=tuple(depots),
        couriers=tuple(couriers),
        stops=tuple(stops),
        coordinates=coordinates,
    )
    return problem, VroomIds(tuple(stop_ids), tuple(stop_types), tuple(vehicle_ids), tuple(coords))


def _loc_fields(ids: VroomIds, loc: int) -> dict[str, Any]:
    coord = ids.coordinates[loc] if loc < len(ids.coordinates) else None
    if coord is None:
        return {"location_index": loc}
    return {"location": [coord[0], coord[1]], "location_index": loc}


def plan_to_vroom(problem: Problem, ids: VroomIds, plan: Plan) -> dict[str, Any]:
    """Write a Plan in VROOM's output format."""
    routes_out = []
    tot = {"cost": 0, "service": 0, "duration": 0, "waiting_time": 0, "distance": 0, "priority": 0}
    tot_delivery = tot_pickup = 0
    for route in plan.routes:
        if not route.visits:
            continue
        courier = problem.couriers[route.courier]
        speed = courier.speed_percent
        start_loc = problem.depots[courier.start_depot].location
        end_loc = problem.depots[courier.end_depot].location
        steps: list[dict[str, Any]] = []
        travelled = 0
        distance = 0
        load = route.start_load
        steps.append(
            {
                "type": "start",
                **_loc_fields(ids, start_loc),
                "setup": 0,
                "service": 0,
                "waiting_time": 0,
                "load": [load],
                "arrival": route.start,
                "duration": 0,
                "distance": 0,
            }
        )
        prev_loc = start_loc
        service = waiting = delivery = pickup = priority = 0
        brk = courier.break_
        break_step: dict[str, Any] | None = None
        if brk is not None and route.break_start is not None:
            break_step = {
                "type": "break",
                "id": ids.vehicle_ids[route.courier],
                "setup": 0,
                "service": brk.duration,
                "waiting_time": 0,
                "arrival": route.break_start,
            }
        for v in route.visits:
            st = problem.stops[v.stop]
            arrival = v.arrival
            if (
                break_step is not None
                and brk is not None
                and route.break_start is not None
                and (route.break_start < v.start)
            ):
                # VROOM shows a break taken while waiting at a stop as: arrive, wait, break,
                # then the stop "arrives" when the break ends.
                b_arrival = min(route.break_start, v.arrival)
                break_step.update(
                    {
                        "arrival": b_arrival,
                        "waiting_time": route.break_start - b_arrival,
                        "load": [load],
                        "duration": travelled,
                        "distance": distance,
                    }
                )
                steps.append(break_step)
                break_step = None
                arrival = max(arrival, route.break_start + brk.duration)
            travelled += -((-int(problem.durations[prev_loc, st.location]) * 100) // speed)
            distance += v.distance_from_previous
            load = v.load_after
            service += st.service
            waiting += v.start - arrival
            priority += st.priority
            if st.kind is StopKind.PICKUP:
                pickup += st.demand
            else:
                delivery += st.demand
            steps.append(
                {
                    "type": ids.stop_types[v.stop],
                    "id": ids.stop_ids[v.stop],
                    **_loc_fields(ids, st.location),
                    "setup": 0,
                    "service": st.service,
                    "waiting_time": v.start - arrival,
                    "load": [load],
                    "arrival": arrival,
                    "duration": travelled,
                    "distance": distance,
                }
            )
            prev_loc = st.location
        travelled += -((-int(problem.durations[prev_loc, end_loc]) * 100) // speed)
        distance = route.distance
        end_arrival = route.end
        if break_step is not None:
            # A break taken back at the depot: arrive, wait for the break, then the route ends
            # when it is over, so that the steps stay in time order.
            assert brk is not None and route.break_start is not None
            b_arrival = min(route.break_start, route.end)
            break_step.update(
                {
                    "arrival": b_arrival,
                    "waiting_time": route.break_start - b_arrival,
                    "load": [load],
                    "duration": travelled,
                    "distance": distance,
                }
            )
            steps.append(break_step)
            end_arrival = max(route.end, route.break_start + brk.duration)
        steps.append(
            {
                "type": "end",
                **_loc_fields(ids, end_loc),
                "setup": 0,
                "service": 0,
                "waiting_time": 0,
                "load": [load],
                "arrival": end_arrival,
                "duration": travelled,
                "distance": distance,
            }
        )
        routes_out.append(
            {
                "vehicle": ids.vehicle_ids[route.courier],
                "cost": distance,
                "delivery": [delivery],
                "pickup": [pickup],
                "setup": 0,
                "service": service,
                "duration": travelled,
                "waiting_time": waiting,
                "priority": priority,
                "distance": distance,
                "steps": steps,
                "violations": [],
            }
        )
        for key, val in (
            ("cost", distance),
            ("service", service),
            ("duration", travelled),
            ("waiting_time", waiting),
            ("distance", distance),
            ("priority", priority),
        ):
            tot[key] += val
        tot_delivery += delivery
        tot_pickup += pickup
    unassigned = [
        {
            "id": ids.stop_ids[u.stop],
            "type": ids.stop_types[u.stop],
            **_loc_fields(ids, problem.stops[u.stop].location),
            "reason": str(u.reason),
        }
        for u in plan.unassigned
    ]
    summary = {
        **tot,
        "routes": len(routes_out),
        "unassigned": len(unassigned),
        "delivery": [tot_delivery],
        "pickup": [tot_pickup],
        "setup": 0,
        "violations": [],
        "computing_times": {"loading": 0, "solving": int(plan.seconds * 1000)},
    }
    return {"code": 0, "summary": summary, "unassigned": unassigned, "routes": routes_out}


def plan_from_vroom(problem: Problem, ids: VroomIds, output: dict[str, Any]) -> Plan:
    """Read VROOM's output back into a Plan (for checking VROOM's or our own answers)."""
    key_of = {(t, i): s for s, (t, i) in enumerate(zip(ids.stop_types, ids.stop_ids, strict=True))}
    courier_of = {vid: c for c, vid in enumerate(ids.vehicle_ids)}
    routes = []
    for r in output.get("routes", []):
        c = courier_of[int(r["vehicle"])]
        courier = problem.couriers[c]
        visits = []
        prev = problem.depots[courier.start_depot].location
        start = end = 0
        break_start = None
        start_load = 0
        for step in r["steps"]:
            kind = step["type"]
            if kind == "start":
                start = int(step["arrival"])
                start_load = int((step.get("load") or [0])[0])
            elif kind == "end":
                end = int(step["arrival"])
            elif kind == "break":
                break_start = int(step["arrival"]) + int(step.get("waiting_time", 0))
            else:
                s = key_of[(kind, int(step["id"]))]
                st = problem.stops[s]
                arrival = int(step["arrival"])
                begin = arrival + int(step.get("waiting_time", 0))
                visits.append(
                    Visit(
                        s,
                        arrival,
                        begin,
                        begin + st.service,
                        int((step.get("load") or [0])[0]),
                        int(problem.distances[prev, st.location]),
                    )
                )
                prev = st.location
        end_loc = problem.depots[courier.end_depot].location
        dist = sum(v.distance_from_previous for v in visits) + int(problem.distances[prev, end_loc])
        routes.append(Route(c, tuple(visits), start, end, dist, break_start, start_load))
    unassigned = []
    for u in output.get("unassigned", []):
        s = key_of[(u.get("type", "job"), int(u["id"]))]
        reason = u.get("reason", UnassignedReason.NO_COURIER.value)
        unassigned.append(Unassigned(s, UnassignedReason(reason)))
    return Plan(routes=tuple(routes), unassigned=tuple(unassigned), engine="vroom-format")
