"""VROOM's JSON input and output formats, so VROOM users can switch without rewriting.

Every key of VROOM's input (docs/API.md of VROOM 1.14) is either honoured or refused with an
error naming its JSON path (``vehicles[3].breaks[1].max_load``) and what is supported
instead; nothing is read and then ignored. Keys VROOM does not define are refused too: VROOM
itself skips them, but a misspelt key (``time_window`` on a job) would then be a constraint
silently lost. The inventory (``INVENTORY`` below, shown by the tests):

honoured
    top level: ``jobs``, ``shipments``, ``vehicles``, ``matrices`` (``durations``,
    ``distances`` and ``costs`` of each of the vehicles' profiles, every one the same size;
    custom costs price the travel instead of ``per_hour`` and ``per_km``, which then keep
    their defaults), ``matrix`` (deprecated: durations);
    vehicles: ``id``, ``profile`` (any number per problem with ``matrices``: each vehicle
    travels by its own profile's matrices), ``description``, ``start``/``start_index``,
    ``end``/``end_index`` (either may be left out: the route then starts or ends at its first
    or last task), ``capacity`` (any number of dimensions, the same in every amount; none =
    no limit), ``costs`` (``fixed``, ``per_hour`` of travel, ``per_km`` (needs distances),
    ``per_task_hour`` of setup and service), ``skills``, ``type`` (picks the tasks'
    ``setup_per_type`` and ``service_per_type``), ``time_window``, ``breaks`` (any number per
    vehicle, every one taken, with ``id``, ``service``, ``description``, ``time_windows``
    (several) and ``max_load`` (every dimension); ending within the vehicle's
    ``time_window``, as a step of its route), ``speed_factor`` in (0, 5] to two decimals,
    ``max_tasks`` (a shipment counts two tasks), ``max_travel_time`` (travel alone, at the
    vehicle's speed), ``max_distance`` (needs distances: coordinates or a ``distances``
    matrix), ``steps`` (read by plan_mode: the routes the search starts from, or plan mode's
    routes);
    jobs and shipment steps: ``id``, ``description``, ``location``/``location_index``,
    ``setup`` (spent when arriving from another location), ``service``, ``setup_per_type``
    and ``service_per_type`` (by the vehicle's ``type``), ``time_windows`` (several),
    ``delivery`` and ``pickup`` (a job may do both), ``skills``, ``priority`` in [0, 100],
    the deprecated ``amount`` (read as VROOM reads it: the job's delivery, when it gives
    neither ``delivery`` nor ``pickup``);
    shipments: ``pickup``, ``delivery``, ``amount``, ``skills``, ``priority``.
refused (see ``REFUSED``)
    jobs' ``amount`` beside ``delivery`` or ``pickup`` (VROOM skips it there: a limit silently
    lost); several profiles without ``matrices`` (coordinates are translated by one
    matrix function, one profile).

The objective (``vroom_params``, used by POST /optimise and ``postal solve`` alike) is VROOM's:
the sum of the priorities of the tasks served first (a shipment's counts once per step), then
the number of tasks served, then the cost of the routes from each vehicle's ``costs`` (by
default its travel time in seconds; with every cost 0, fewest vehicles and then travel time).

Output: ``code``, ``summary``, ``unassigned`` and ``routes`` with ``steps`` as VROOM writes
them: per step type, id (break ids as given), description, location, setup, service,
waiting_time, load (every dimension), arrival, duration, distance, violations; per route and
in the summary cost (VROOM's, from the vehicles' ``costs``), setup, service (breaks'
included, as VROOM counts it), duration, waiting_time, priority, delivery, pickup (every
dimension), distance (when distances are known: coordinates or a
``distances`` matrix), violations (always empty: plans are feasible). Unassigned entries also
carry our ``reason``.
"""

from __future__ import annotations

import json
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
    Profile,
    Route,
    SolveParams,
    Stop,
    StopKind,
    TravelCost,
    Unassigned,
    UnassignedReason,
    Visit,
    user_cost,
)
from postal.routing.prep import INF
from postal.routing.schedule import arc_cost

MatrixFn = Callable[[NDArray[np.float64]], tuple[NDArray[np.int64], NDArray[np.int64]]]
"""Coordinates (lon, lat) per location -> (durations s, distances m)."""

MAX_INT = 2**31 - 1
"""VROOM's integers; a week is 604,800 seconds."""
_OPEN = -1
"""The open start or end of a route, until the matrix gives it an index."""

_TOP = ("jobs", "shipments", "vehicles", "matrices", "matrix")
_VEHICLE = (
    "id",
    "profile",
    "description",
    "start",
    "start_index",
    "end",
    "end_index",
    "capacity",
    "costs",
    "skills",
    "type",
    "time_window",
    "breaks",
    "speed_factor",
    "max_tasks",
    "max_travel_time",
    "max_distance",
    "steps",
)
_COSTS = {"fixed": 0, "per_hour": 3600, "per_km": 0, "per_task_hour": 0}
"""VROOM's default costs (cost = travel time in seconds)."""
_BREAK = ("id", "time_windows", "service", "description", "max_load")
_TASK = (
    "id",
    "description",
    "location",
    "location_index",
    "setup",
    "service",
    "time_windows",
    "setup_per_type",
    "service_per_type",
)
_JOB = (*_TASK, "delivery", "pickup", "amount", "skills", "priority")
_SHIPMENT = ("pickup", "delivery", "amount", "skills", "priority")
_MATRIX = ("durations", "distances", "costs")
CUSTOM_COSTS = (
    "a custom 'costs' matrix prices travel: per_hour and per_km must keep VROOM's defaults "
    "(3600 and 0) with it"
)
"""The 422 for per_hour or per_km beside a custom cost matrix (VROOM refuses them too)."""

REFUSED: dict[str, str] = {
    "vehicles.profile": "several profiles need matrices of their own under 'matrices' "
    "(from coordinates alone, one profile per problem)",
    "jobs.amount": "'amount' (deprecated) is a job's delivery when the job gives neither "
    "'delivery' nor 'pickup'; beside them VROOM skips it: give 'delivery' alone",
}
"""What is refused, and what is supported instead (the message of each 422)."""

INVENTORY: dict[str, tuple[str, ...]] = {
    "input": _TOP,
    "matrices.<profile>": _MATRIX,
    "vehicles[]": _VEHICLE,
    "vehicles[].costs": tuple(_COSTS),
    "vehicles[].breaks[]": _BREAK,
    "jobs[]": _JOB,
    "shipments[]": _SHIPMENT,
    "shipments[].pickup|delivery": _TASK,
}
"""The keys read, per object (refused values and keys: ``REFUSED``)."""


@dataclass(frozen=True)
class VroomIds:
    """How our indices map back to the ids of the VROOM input (and what it asked to echo)."""

    stop_ids: tuple[int, ...]
    stop_types: tuple[str, ...]
    """'job', 'pickup' or 'delivery' per stop."""
    vehicle_ids: tuple[int, ...]
    coordinates: tuple[tuple[float, float] | None, ...]
    """Per location, when the input gave coordinates."""
    break_ids: tuple[tuple[int, ...], ...] = ()
    """Per vehicle: the ids of its breaks as given (Courier.breaks' order)."""
    stop_descriptions: tuple[str | None, ...] = ()
    vehicle_descriptions: tuple[str | None, ...] = ()
    break_descriptions: tuple[tuple[str | None, ...], ...] = ()
    """Per vehicle: its breaks' descriptions."""
    open_start: tuple[bool, ...] = ()
    """Per vehicle: no start given (the route starts at its first task)."""
    open_end: tuple[bool, ...] = ()
    """Per vehicle: no end given (the route ends at its last task)."""
    has_distances: bool = True
    """Distances are known (coordinates or a 'distances' matrix): output reports them."""
    indexed: bool = False
    """Custom matrices: locations are echoed with their location_index."""


def vroom_params(
    time_limit_s: float,
    seed: int = 0,
    workers: int = 2,
    iterations: int | None = None,
    source: dict[str, Any] | None = None,
) -> SolveParams:
    """Solver parameters for a VROOM-format problem: after priorities and tasks served, the
    vehicles' ``costs`` (a priced problem, see model.route_money); travel time breaks ties.

    ``source``, the input as given: with custom matrices (VROOM needs no routing engine for
    it), the portfolio's VROOM solves it as given (SolveParams.vroom_input)."""
    own = source is not None and ("matrices" in source or "matrix" in source)
    return SolveParams(
        time_limit_s=time_limit_s,
        seed=seed,
        workers=workers,
        iterations=iterations,
        travel_cost=TravelCost.DURATION,
        vroom_first=True,
        vroom_input=json.dumps(source) if own else None,
    )


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


def _refuse(where: str, rule: str) -> MalformedInstance:
    """A VROOM key or value we do not honour: 422 naming its path and what to use instead."""
    return MalformedInstance(
        "vroom_unsupported", detail=f"{where}: {REFUSED[rule]}", field=where, path=where
    )


def check_keys(obj: Any, where: str, known: tuple[str, ...], refused: dict[str, str]) -> None:
    """Refuse keys we do not honour (by rule) and keys VROOM does not define."""
    if not isinstance(obj, dict):
        raise _err(where, "must be an object")
    for key in obj:
        if key in refused:
            raise _refuse(f"{where}.{key}", refused[key])
        if key not in known:
            raise MalformedInstance(
                "vroom_unknown_key",
                detail=f"{where}.{key}: not a key of VROOM's input here "
                f"(known: {', '.join(known)})",
                field=f"{where}.{key}",
                path=f"{where}.{key}",
            )


def read_int(value: Any, where: str, lo: int = 0, hi: int = MAX_INT) -> int:
    """An integer in [lo, hi], or a 422 naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(where, "must be an integer")
    if not lo <= value <= hi:
        raise _err(where, f"must be in [{lo}, {hi}]")
    return value


def _amount(value: Any, where: str, dims: int) -> tuple[int, ...]:
    """An amount (or capacity) in ``dims`` dimensions; missing or [] is zero in each."""
    if value is None or value == []:
        return (0,) * dims
    if not isinstance(value, list):
        raise _err(where, "amounts must be lists of integers")
    if len(value) != dims:
        raise _err(where, f"{len(value)} dimensions where the amounts have {dims}")
    return tuple(read_int(v, f"{where}[{k}]") for k, v in enumerate(value))


def legacy_amounts(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each job's deprecated ``amount`` read as VROOM reads it: the job's
    ``delivery`` when it gives neither ``delivery`` nor ``pickup`` (a shallow copy; ``data``
    itself is left as it is). Beside them VROOM skips it, so there it is refused (422)."""
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list) or not any(isinstance(j, dict) and "amount" in j for j in jobs):
        return data
    out = []
    for k, job in enumerate(jobs):
        if isinstance(job, dict) and "amount" in job:
            if "delivery" in job or "pickup" in job:
                raise _refuse(f"jobs[{k}].amount", "jobs.amount")
            job = {("delivery" if key == "amount" else key): v for key, v in job.items()}
        out.append(job)
    return {**data, "jobs": out}


def _dims(data: dict[str, Any]) -> int:
    """The number of capacity dimensions: every non-empty amount and capacity has the same
    length (VROOM's rule), or the first that differs is refused with its path."""
    found: list[tuple[str, Any]] = []
    for k, v in enumerate(data.get("vehicles") or []):
        found.append((f"vehicles[{k}].capacity", v.get("capacity")))
    for k, job in enumerate(data.get("jobs") or []):
        found += [(f"jobs[{k}].{key}", job.get(key)) for key in ("delivery", "pickup")]
    for k, sh in enumerate(data.get("shipments") or []):
        found.append((f"shipments[{k}].amount", sh.get("amount")))
    dims: int | None = None
    first = ""
    for where, value in found:
        if isinstance(value, list) and value:
            if dims is None:
                dims, first = len(value), where
            elif len(value) != dims:
                raise _err(
                    where,
                    f"{len(value)} amount dimensions where {first} has {dims}: every amount "
                    "and capacity has the same dimensions",
                )
    return dims or 1


def _window(value: Any, where: str) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise _err(where, "a time window is [start, end]")
    lo, hi = read_int(value[0], f"{where}[0]"), read_int(value[1], f"{where}[1]")
    if lo > hi:
        raise _err(where, "a time window ends before it starts")
    return lo, hi


def _windows(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _err(where, "time_windows must be [[start, end], ...]")
    return tuple(_window(w, f"{where}[{k}]") for k, w in enumerate(value))


def _skills(value: Any, where: str) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise _err(where, "skills are a list of integers")
    return frozenset(read_int(v, f"{where}[{k}]") for k, v in enumerate(value))


def _per_type(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    """VROOM's ``setup_per_type`` or ``service_per_type``: vehicle type -> seconds."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise _err(where, "an object of vehicle type -> seconds")
    return tuple((str(k), read_int(v, f"{where}.{k}")) for k, v in value.items())


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _err(where, "must be a string")
    return value


class _Locations:
    """Collects locations given as indices or coordinates."""

    def __init__(self, has_matrix: bool, size: int = 0) -> None:
        self.has_matrix = has_matrix
        self.size = size
        """Rows of the custom matrices (indices must be below it)."""
        self.coords: list[tuple[float, float]] = []
        self.index_of: dict[tuple[float, float], int] = {}
        self.given: dict[int, tuple[float, float]] = {}
        """Coordinates given alongside custom matrices (echoed in the output)."""

    def _coord(self, value: Any, where: str) -> tuple[float, float]:
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise _err(where, "must be [lon, lat]")
        return float(value[0]), float(value[1])

    def get(self, obj: dict[str, Any], key: str, where: str) -> int | None:
        name = f"{key}_index" if key != "location" else "location_index"
        idx = obj.get(name)
        coord = obj.get(key)
        if self.has_matrix:
            if idx is None:
                if coord is None:
                    return None
                raise _err(f"{where}.{name}", "required with custom matrices")
            i = read_int(idx, f"{where}.{name}")
            if i >= self.size:
                raise _err(f"{where}.{name}", f"outside the {self.size}x{self.size} matrix")
            if coord is not None:
                self.given[i] = self._coord(coord, f"{where}.{key}")
            return i
        # Without matrices, VROOM finds the index itself ('*_index' is irrelevant there).
        if coord is None:
            return None
        pt = self._coord(coord, f"{where}.{key}")
        if pt not in self.index_of:
            self.index_of[pt] = len(self.coords)
            self.coords.append(pt)
        return self.index_of[pt]


def _matrix(value: Any, where: str) -> NDArray[np.int64]:
    if not isinstance(value, list) or not value:
        raise _err(where, "a non-empty square matrix of integers")
    n = len(value)
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != n:
            raise _err(f"{where}[{i}]", f"every row has {n} integers (a square matrix)")
        for j, v in enumerate(row):
            read_int(v, f"{where}[{i}][{j}]")
    return np.asarray(value, dtype=np.int64)


def _limits(
    vehicle: dict[str, Any], where: str, has_distances: bool
) -> tuple[int | None, int | None, int | None]:
    """A vehicle's (max_tasks, max_travel_time, max_distance), None where not given."""
    out: list[int | None] = []
    for key in ("max_tasks", "max_travel_time", "max_distance"):
        value = vehicle.get(key)
        out.append(None if value is None else read_int(value, f"{where}.{key}"))
    if out[2] is not None and not has_distances:
        raise _err(
            f"{where}.max_distance",
            "distances are unknown: give coordinates or a 'distances' matrix",
        )
    return out[0], out[1], out[2]


def _breaks_in_order(
    breaks: list[CourierBreak], positions: list[int], tw: tuple[int, int], where: str
) -> None:
    """VROOM takes a vehicle's breaks in the order of their first windows: each must be able
    to start after the ones before it end, and leave room for the ones after it within the
    time window (VROOM's TWRoute checks, its "Inconsistent breaks" error), or a 422 names the
    break (``positions``: each break's index in the input)."""
    earliest: list[int] = []
    previous = tw[0]
    for k, brk in enumerate(breaks):
        window = next((w for w in brk.starts if previous <= w[1]), None)
        if window is None:
            raise _err(
                f"{where}.breaks[{positions[k]}].time_windows",
                "the break cannot start after the breaks before it end (breaks are taken in "
                "the order of their first windows, as VROOM takes them)",
            )
        earliest.append(max(previous, window[0]))
        previous = earliest[-1] + brk.duration
    following = tw[1]
    for k in range(len(breaks) - 1, -1, -1):
        brk = breaks[k]
        following -= brk.duration
        window = next((w for w in reversed(brk.starts) if w[0] <= following), None)
        if window is None or min(following, window[1]) < earliest[k]:
            raise _err(
                f"{where}.breaks[{positions[k]}].time_windows",
                "the break leaves no room for the breaks after it in the vehicle's "
                "time_window (breaks are taken in the order of their first windows, as VROOM "
                "takes them)",
            )
        following = min(following, window[1])


def _profiles(data: dict[str, Any], vehicles: list[Any]) -> list[str]:
    """The vehicles' profiles (VROOM's default 'car'), each once, the first vehicle's first.
    Several need matrices of their own ('matrices'); each named must be there."""
    names: list[str] = []
    matrices = data.get("matrices")
    for k, v in enumerate(vehicles):
        name = v.get("profile", "car") if isinstance(v, dict) else "car"
        if not isinstance(name, str):
            raise _err(f"vehicles[{k}].profile", "must be a string")
        if isinstance(matrices, dict) and matrices and name not in matrices:
            where = f"vehicles[{k}].profile" if "profile" in v else f"matrices.{name}"
            raise _err(where, f"no matrices for profile {name!r} (given: {', '.join(matrices)})")
        if name not in names:
            if names and not isinstance(matrices, dict):
                raise _refuse(f"vehicles[{k}].profile", "vehicles.profile")
            names.append(name)
    return names


@dataclass(frozen=True)
class _Matrices:
    """One profile's matrices as given."""

    durations: NDArray[np.int64]
    distances: NDArray[np.int64]
    costs: NDArray[np.int64] | None
    has_distances: bool


def _read_profile(prof: Any, name: str, size: int | None) -> _Matrices:
    """The matrices of profile ``name`` (``size``: the first profile's, when not the first)."""
    where = f"matrices.{name}"
    if "durations" not in prof:
        raise _err(where, "each profile needs 'durations'")
    durations = _matrix(prof["durations"], f"{where}.durations")
    if size is not None and durations.shape[0] != size:
        raise _err(f"{where}.durations", f"every profile's matrices are {size}x{size}")
    distances, has_distances = durations.copy(), False
    if "distances" in prof:
        distances, has_distances = _matrix(prof["distances"], f"{where}.distances"), True
        if distances.shape != durations.shape:
            raise _err(f"{where}.distances", "same size as 'durations'")
    costs = None
    if "costs" in prof:
        costs = _matrix(prof["costs"], f"{where}.costs")
        if costs.shape != durations.shape:
            raise _err(f"{where}.costs", "same size as 'durations'")
    return _Matrices(durations, distances, costs, has_distances)


def problem_from_vroom(
    data: dict[str, Any], matrix_fn: MatrixFn | None = None, profile: str | None = None
) -> tuple[Problem, VroomIds]:
    """Build a Problem from VROOM's input JSON (already parsed); refuse what is not honoured.

    Raises MalformedInstance (422) whose ``field`` is the JSON path of the offending key.
    """
    if not isinstance(data, dict):
        raise _err("input", "the top level must be an object")
    check_keys(data, "input", _TOP, {})
    data = legacy_amounts(data)
    vehicles = data.get("vehicles")
    if not isinstance(vehicles, list) or not vehicles:
        raise _err("vehicles", "at least one vehicle is required")
    for key in ("vehicles", "jobs", "shipments"):
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _err(key, "a list of objects")
    matrices = data.get("matrices")
    if matrices is not None and (not isinstance(matrices, dict) or not matrices):
        raise _err("matrices", "an object of profiles")
    names = [profile] if profile else _profiles(data, vehicles)

    durations: NDArray[np.int64] | None = None
    distances: NDArray[np.int64] | None = None
    arc_costs: NDArray[np.int64] | None = None
    has_distances = True
    # Further profiles' matrices (VROOM's vehicle 'profile'), the first one's above.
    more: list[_Matrices] = []
    if matrices is not None:
        for name, prof in matrices.items():
            check_keys(prof, f"matrices.{name}", _MATRIX, {})
        size: int | None = None
        for name in names:
            got = _read_profile(
                matrices[name] if name in matrices else next(iter(matrices.values())), name, size
            )
            if size is None:
                durations, distances, arc_costs = got.durations, got.distances, got.costs
                size = got.durations.shape[0]
            else:
                more.append(got)
            has_distances = has_distances and got.has_distances
    elif "matrix" in data:
        durations = _matrix(data["matrix"], "matrix")
        distances, has_distances = durations.copy(), False
    locs = _Locations(durations is not None, 0 if durations is None else durations.shape[0])
    dims = _dims(data)

    depots: list[Depot] = []
    depot_of: dict[int, int] = {}

    def depot(loc: int) -> int:
        if loc not in depot_of:
            depot_of[loc] = len(depots)
            depots.append(Depot(id=f"loc{loc}", location=loc))
        return depot_of[loc]

    couriers: list[Courier] = []
    vehicle_ids: list[int] = []
    break_ids: list[tuple[int, ...]] = []
    break_desc: list[tuple[str | None, ...]] = []
    vehicle_desc: list[str | None] = []
    open_start: list[bool] = []
    open_end: list[bool] = []
    seen_vehicles: set[int] = set()
    for k, v in enumerate(vehicles):
        where = f"vehicles[{k}]"
        check_keys(
            v,
            where,
            _VEHICLE,
            {},
        )
        vid = read_int(v.get("id"), f"{where}.id", 0, 2**63 - 1)
        if vid in seen_vehicles:
            raise _err(f"{where}.id", f"vehicle id {vid} is used twice")
        seen_vehicles.add(vid)
        vehicle_type = _text(v.get("type"), f"{where}.type")
        vehicle_desc.append(_text(v.get("description"), f"{where}.description"))
        profile_of = names.index(v.get("profile", "car")) if len(names) > 1 else 0
        own_costs = arc_costs if profile_of == 0 else more[profile_of - 1].costs
        costs = dict(_COSTS)
        if v.get("costs") is not None:
            check_keys(v["costs"], f"{where}.costs", tuple(_COSTS), {})
            for key, value in v["costs"].items():
                costs[key] = read_int(value, f"{where}.costs.{key}")
            if own_costs is not None:
                for key in ("per_hour", "per_km"):
                    if costs[key] != _COSTS[key]:
                        raise _err(f"{where}.costs.{key}", CUSTOM_COSTS)
            if costs["per_km"] and not has_distances:
                raise _err(
                    f"{where}.costs.per_km",
                    "distances are unknown: give coordinates or a 'distances' matrix",
                )
        start = locs.get(v, "start", where)
        end = locs.get(v, "end", where)
        if start is None and end is None:
            raise _err(where, "a vehicle needs a start or an end")
        open_start.append(start is None)
        open_end.append(end is None)
        tw = _window(v["time_window"], f"{where}.time_window") if "time_window" in v else (0, INF)
        breaks = v.get("breaks") or []
        if not isinstance(breaks, list):
            raise _err(f"{where}.breaks", "a list of break objects")
        # (VROOM's order key, input position, break, id, description) per break.
        read: list[tuple[tuple[int, int], int, CourierBreak, int, str | None]] = []
        ids_here: list[int] = []
        for b, item in enumerate(breaks):
            bw_where = f"{where}.breaks[{b}]"
            check_keys(item, bw_where, _BREAK, {})
            bid = read_int(item.get("id"), f"{bw_where}.id", 0, 2**63 - 1)
            if bid in ids_here:
                raise _err(f"{bw_where}.id", f"break id {bid} is used twice in this vehicle")
            ids_here.append(bid)
            text = _text(item.get("description"), f"{bw_where}.description")
            service = read_int(item.get("service", 0), f"{bw_where}.service")
            # A break is a step of the route, which ends within the vehicle's time window
            # (VROOM's rule): each window is cut to starts early enough to end by then.
            given = _windows(item.get("time_windows"), f"{bw_where}.time_windows") or (tw,)
            starts = tuple(
                sorted(
                    (lo, min(hi, tw[1] - service))
                    for lo, hi in given
                    if lo <= min(hi, tw[1] - service)
                )
            )
            if not starts:
                raise _err(
                    f"{bw_where}.time_windows",
                    "the break cannot end within the vehicle's time_window",
                )
            max_load = item.get("max_load")
            brk = CourierBreak(
                starts[0][0],
                starts[-1][1],
                service,
                windows=starts if len(starts) > 1 else (),
                max_load=None
                if max_load is None
                else _amount(max_load, f"{bw_where}.max_load", dims),
            )
            read.append((min(given), b, brk, bid, text))
        # VROOM sorts a vehicle's breaks by their first window (start, then end) and takes
        # them in that order (utils/input_parser.cpp): so does the courier.
        read.sort(key=lambda r: (r[0], r[1]))
        vehicle_breaks = [r[2] for r in read]
        _breaks_in_order(vehicle_breaks, [r[1] for r in read], tw, where)
        break_ids.append(tuple(r[3] for r in read))
        break_desc.append(tuple(r[4] for r in read))
        speed = v.get("speed_factor", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= 5:
            raise _err(f"{where}.speed_factor", "a number in (0, 5]")
        # No capacity: nothing limits the load (in every dimension).
        capacity = (
            _amount(v["capacity"], f"{where}.capacity", dims)
            if v.get("capacity") is not None
            else (MAX_INT,) * dims
        )
        max_tasks, max_travel_time, max_distance = _limits(v, where, has_distances)
        couriers.append(
            Courier(
                id=str(vid),
                start_depot=depot(_OPEN if start is None else start),
                end_depot=depot(_OPEN if end is None else end),
                shift=tw,
                capacity=capacity[0],
                capacities=capacity,
                break_=vehicle_breaks[0] if vehicle_breaks else None,
                more_breaks=tuple(vehicle_breaks[1:]),
                vehicle_type=vehicle_type,
                speed_percent=max(1, round(float(speed) * 100)),
                skills=_skills(v.get("skills"), f"{where}.skills"),
                max_tasks=max_tasks,
                max_travel_time=max_travel_time,
                max_distance=max_distance,
                profile=profile_of,
                fixed_cost=costs["fixed"],
                # A custom cost matrix prices the travel instead (Problem.arc_costs).
                cost_per_travel_hour=costs["per_hour"] if own_costs is None else 0,
                cost_per_km=costs["per_km"],
                cost_per_task_hour=costs["per_task_hour"],
            )
        )
        vehicle_ids.append(vid)

    stops: list[Stop] = []
    stop_ids: list[int] = []
    stop_types: list[str] = []
    stop_desc: list[str | None] = []
    used_ids: dict[str, set[int]] = {"job": set(), "pickup": set(), "delivery": set()}

    def task(obj: dict[str, Any], where: str, kind: str, stop_kind: StopKind, **extra: Any) -> None:
        tid = read_int(obj.get("id"), f"{where}.id", 0, 2**63 - 1)
        if tid in used_ids[kind]:
            raise _err(f"{where}.id", f"{kind} id {tid} is used twice")
        used_ids[kind].add(tid)
        loc = locs.get(obj, "location", where)
        if loc is None:
            raise _err(where, "a location is required")
        stops.append(
            Stop(
                id=f"{kind}:{tid}",
                kind=stop_kind,
                location=loc,
                windows=_windows(obj.get("time_windows"), f"{where}.time_windows"),
                service=read_int(obj.get("service", 0), f"{where}.service"),
                setup=read_int(obj.get("setup", 0), f"{where}.setup"),
                setup_per_type=_per_type(obj.get("setup_per_type"), f"{where}.setup_per_type"),
                service_per_type=_per_type(
                    obj.get("service_per_type"), f"{where}.service_per_type"
                ),
                **extra,
            )
        )
        stop_ids.append(tid)
        stop_types.append(kind)
        stop_desc.append(_text(obj.get("description"), f"{where}.description"))

    for k, job in enumerate(data.get("jobs") or []):
        where = f"jobs[{k}]"
        check_keys(job, where, _JOB, {})
        delivery = _amount(job.get("delivery"), f"{where}.delivery", dims)
        pickup = _amount(job.get("pickup"), f"{where}.pickup", dims)
        # A job may deliver and pick up (VROOM's rule): its delivery rides from the start, its
        # pickup to the end.
        kind = StopKind.PICKUP if any(pickup) and not any(delivery) else StopKind.DELIVERY
        task(
            job,
            where,
            "job",
            kind,
            demand=(pickup if kind is StopKind.PICKUP else delivery)[0],
            picked_up=pickup,
            delivered=delivery,
            priority=read_int(job.get("priority", 0), f"{where}.priority", 0, 100),
            skills=_skills(job.get("skills"), f"{where}.skills"),
        )
    for k, sh in enumerate(data.get("shipments") or []):
        where = f"shipments[{k}]"
        check_keys(sh, where, _SHIPMENT, {})
        amount = _amount(sh.get("amount"), f"{where}.amount", dims)
        priority = read_int(sh.get("priority", 0), f"{where}.priority", 0, 100)
        skills = _skills(sh.get("skills"), f"{where}.skills")
        for part, kind in (("pickup", StopKind.PICKUP), ("delivery", StopKind.DELIVERY)):
            step = sh.get(part)
            if not isinstance(step, dict):
                raise _err(f"{where}.{part}", "required (a shipment step object)")
            check_keys(step, f"{where}.{part}", _TASK, {})
            task(
                step,
                f"{where}.{part}",
                part,
                kind,
                demand=amount[0],
                picked_up=amount if kind is StopKind.PICKUP else None,
                delivered=amount if kind is StopKind.DELIVERY else None,
                pair=f"shipment{k}",
                priority=priority,
                skills=skills,
            )

    coords: list[tuple[float, float] | None]
    coordinates: NDArray[np.float64] | None
    if durations is None:
        if matrix_fn is None:
            raise _err("input", "coordinates need a matrix function (or give custom matrices)")
        xy = np.asarray(locs.coords, dtype=np.float64).reshape(-1, 2)
        durations, distances = matrix_fn(xy)
        coords = list(locs.coords)
        coordinates = xy
    else:
        coords = [locs.given.get(i) for i in range(durations.shape[0])]
        coordinates = None
    assert distances is not None
    n = durations.shape[0]
    used = [c.location for c in stops] + [d.location for d in depots if d.location != _OPEN]
    if any(not 0 <= i < n for i in used):
        raise _err("input", f"a location index is outside the {n}x{n} matrix")
    if _OPEN in depot_of:
        # An open route starts or ends where its first or last task is: a place at no
        # distance from every other place stands for it.
        durations = np.pad(durations, ((0, 1), (0, 1)))
        distances = np.pad(distances, ((0, 1), (0, 1)))
        if arc_costs is not None:
            arc_costs = np.pad(arc_costs, ((0, 1), (0, 1)))
        more = [
            _Matrices(
                np.pad(p.durations, ((0, 1), (0, 1))),
                np.pad(p.distances, ((0, 1), (0, 1))),
                None if p.costs is None else np.pad(p.costs, ((0, 1), (0, 1))),
                p.has_distances,
            )
            for p in more
        ]
        coords.append(None)
        if coordinates is not None:
            coordinates = np.vstack([coordinates, coordinates.mean(axis=0, keepdims=True)])
        d = depot_of[_OPEN]
        depots[d] = Depot(id="open", location=n)
    problem = Problem(
        durations=np.ascontiguousarray(durations, dtype=np.int64),
        distances=np.ascontiguousarray(distances, dtype=np.int64),
        depots=tuple(depots),
        couriers=tuple(couriers),
        stops=tuple(stops),
        coordinates=coordinates,
        arc_costs=None if arc_costs is None else np.ascontiguousarray(arc_costs, dtype=np.int64),
        profiles=tuple(Profile(p.durations, p.distances, p.costs) for p in more),
    )
    ids = VroomIds(
        stop_ids=tuple(stop_ids),
        stop_types=tuple(stop_types),
        vehicle_ids=tuple(vehicle_ids),
        coordinates=tuple(coords),
        break_ids=tuple(break_ids),
        stop_descriptions=tuple(stop_desc),
        vehicle_descriptions=tuple(vehicle_desc),
        break_descriptions=tuple(break_desc),
        open_start=tuple(open_start),
        open_end=tuple(open_end),
        has_distances=has_distances,
        indexed=matrices is not None or "matrix" in data,
    )
    return problem, ids


def _loc_fields(ids: VroomIds, loc: int) -> dict[str, Any]:
    coord = ids.coordinates[loc] if loc < len(ids.coordinates) else None
    if coord is None:
        return {"location_index": loc}
    return {"location": [coord[0], coord[1]], "location_index": loc}


def _described(ids: VroomIds, descriptions: tuple[str | None, ...], k: int) -> dict[str, str]:
    text = descriptions[k] if k < len(descriptions) else None
    return {} if text is None else {"description": text}


def _travel(problem: Problem, courier: Courier, a: int, b: int) -> int:
    base = int(problem.durations_for(courier)[a, b])
    return -((-base * 100) // courier.speed_percent)


def _route_to_vroom(problem: Problem, ids: VroomIds, route: Route) -> dict[str, Any]:
    """One route in VROOM's format: steps with arrival, setup, service, waiting and totals."""
    c = route.courier
    courier = problem.couriers[c]
    start_loc = problem.depots[courier.start_depot].location
    end_loc = problem.depots[courier.end_depot].location
    first_loc = problem.stops[route.visits[0].stop].location
    last_loc = problem.stops[route.visits[-1].stop].location
    open_start = c < len(ids.open_start) and ids.open_start[c]
    open_end = c < len(ids.open_end) and ids.open_end[c]
    with_distance = ids.has_distances

    def step(kind: str, loc: int | None, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind}
        if "id" in fields:
            out["id"] = fields.pop("id")
        out.update(fields.pop("described", {}))
        if loc is not None:
            out.update(_loc_fields(ids, loc))
        distance = fields.pop("distance", 0)
        out.update(fields)
        if with_distance:
            out["distance"] = distance
        out["violations"] = []
        return out

    steps: list[dict[str, Any]] = []
    travelled = distance = 0
    dims = problem.dims
    amounts = [problem.stops[v.stop].amounts(dims) for v in route.visits]
    # Every dimension's load: unpaired deliveries on board from the start.
    load = [
        sum(down[d] for v, (_, down) in zip(route.visits, amounts, strict=True)
            if problem.stops[v.stop].pair is None)
        for d in range(dims)
    ]  # fmt: skip
    delivery, pickup = [0] * dims, [0] * dims
    steps.append(
        step(
            "start",
            first_loc if open_start else start_loc,
            setup=0,
            service=0,
            waiting_time=0,
            load=list(load),
            arrival=route.start,
            duration=0,
            distance=0,
        )
    )
    prev_loc = start_loc
    setup = service = waiting = priority = 0
    breaks = courier.breaks
    # The breaks taken, in time order: (start, index in Courier.breaks).
    pending = sorted((b, k) for k, b in enumerate(route.break_starts))
    break_ids = ids.break_ids[c] if c < len(ids.break_ids) else ()
    break_desc = ids.break_descriptions[c] if c < len(ids.break_descriptions) else ()

    def break_step(k: int, begin: int, arrival: int, ready: int) -> dict[str, Any]:
        return step(
            "break",
            None,
            id=break_ids[k] if k < len(break_ids) else ids.vehicle_ids[c],
            described=_described(ids, break_desc, k),
            setup=0,
            service=breaks[k].duration,
            waiting_time=begin - arrival,
            load=list(load),
            arrival=arrival,
            duration=ready,
            distance=distance,
        )

    for v, (up, down) in zip(route.visits, amounts, strict=True):
        st = problem.stops[v.stop]
        arrival = v.arrival
        while pending and pending[0][0] < v.start:
            # VROOM shows a break taken while waiting at a stop as: arrive, wait, break, then
            # the stop "arrives" when the break ends.
            begin, k = pending.pop(0)
            b_arrival = min(begin, arrival)
            # Waiting at the stop: the leg is travelled; before it: the leg is still ahead.
            leg = _travel(problem, courier, prev_loc, st.location)
            done = travelled + (leg if b_arrival == arrival else 0)
            steps.append(break_step(k, begin, b_arrival, done))
            arrival = max(arrival, begin + breaks[k].duration)
        travelled += _travel(problem, courier, prev_loc, st.location)
        distance += v.distance_from_previous
        paired_pickup = st.pair is not None and st.kind is StopKind.PICKUP
        paired_delivery = st.pair is not None and st.kind is StopKind.DELIVERY
        for d in range(dims):
            load[d] += (0 if paired_delivery else up[d]) - (0 if paired_pickup else down[d])
            pickup[d] += up[d]
            delivery[d] += down[d]
        applied = st.setup_for(courier) if st.location != prev_loc else 0
        setup += applied
        service += st.service_for(courier)
        waiting += v.start - arrival
        priority += st.priority
        steps.append(
            step(
                ids.stop_types[v.stop],
                st.location,
                id=ids.stop_ids[v.stop],
                described=_described(ids, ids.stop_descriptions, v.stop),
                setup=applied,
                service=st.service_for(courier),
                waiting_time=v.start - arrival,
                load=list(load),
                arrival=arrival,
                duration=travelled,
                distance=distance,
            )
        )
        prev_loc = st.location
    travelled += _travel(problem, courier, prev_loc, end_loc)
    distance = route.distance
    end_arrival = route.end
    for begin, k in pending:
        # A break taken back at the depot: arrive, wait for the break, then the route ends
        # when it is over, so that the steps stay in time order.
        b_arrival = min(begin, end_arrival)
        steps.append(break_step(k, begin, b_arrival, travelled))
        end_arrival = max(end_arrival, begin + breaks[k].duration)
    steps.append(
        step(
            "end",
            last_loc if open_end else end_loc,
            setup=0,
            service=0,
            waiting_time=0,
            load=list(load),
            arrival=end_arrival,
            duration=travelled,
            distance=distance,
        )
    )
    # VROOM counts a break's service in the route's service.
    service += sum(breaks[k].duration for k in range(len(route.break_starts)))
    out: dict[str, Any] = {
        "vehicle": ids.vehicle_ids[c],
        **_described(ids, ids.vehicle_descriptions, c),
        # VROOM's cost: fixed, travel time per_hour, distance per_km, task time per_task_hour.
        "cost": user_cost(courier, travelled, distance, setup + service, arc_cost(problem, route)),
        "delivery": delivery,
        "pickup": pickup,
        "setup": setup,
        "service": service,
        "duration": travelled,
        "waiting_time": waiting,
        "priority": priority,
    }
    if with_distance:
        out["distance"] = distance
    out["steps"] = steps
    out["violations"] = []
    return out


def plan_to_vroom(problem: Problem, ids: VroomIds, plan: Plan) -> dict[str, Any]:
    """Write a Plan in VROOM's output format, totals computed as VROOM computes them."""
    routes_out = [_route_to_vroom(problem, ids, r) for r in plan.routes if r.visits]
    keys = ["cost", "setup", "service", "duration", "waiting_time", "priority"]
    if ids.has_distances:
        keys.append("distance")
    summary: dict[str, Any] = {
        "cost": 0,
        "routes": len(routes_out),
        "unassigned": len(plan.unassigned),
    }
    summary.update({k: sum(r[k] for r in routes_out) for k in keys})
    dims = problem.dims
    summary["delivery"] = [sum(r["delivery"][d] for r in routes_out) for d in range(dims)]
    summary["pickup"] = [sum(r["pickup"][d] for r in routes_out) for d in range(dims)]
    summary["violations"] = []
    summary["computing_times"] = {"loading": 0, "solving": int(plan.seconds * 1000), "routing": 0}
    unassigned = [
        {
            "id": ids.stop_ids[u.stop],
            "type": ids.stop_types[u.stop],
            **_described(ids, ids.stop_descriptions, u.stop),
            **_loc_fields(ids, problem.stops[u.stop].location),
            "reason": str(u.reason),
        }
        for u in plan.unassigned
    ]
    return {"code": 0, "summary": summary, "unassigned": unassigned, "routes": routes_out}


def plan_from_vroom(problem: Problem, ids: VroomIds, output: dict[str, Any]) -> Plan:
    """Read VROOM's output back into a Plan (for checking VROOM's or our own answers).

    A step's task starts at arrival + waiting_time (before its setup), as VROOM defines it."""
    key_of = {(t, i): s for s, (t, i) in enumerate(zip(ids.stop_types, ids.stop_ids, strict=True))}
    courier_of = {vid: c for c, vid in enumerate(ids.vehicle_ids)}
    routes = []
    for r in output.get("routes", []):
        c = courier_of[int(r["vehicle"])]
        courier = problem.couriers[c]
        visits = []
        prev = problem.depots[courier.start_depot].location
        start = end = 0
        break_of = {
            bid: k for k, bid in enumerate(ids.break_ids[c] if c < len(ids.break_ids) else ())
        }
        begins: dict[int, int] = {}
        start_load = 0
        for step in r["steps"]:
            kind = step["type"]
            if kind == "start":
                start = int(step["arrival"])
                start_load = int((step.get("load") or [0])[0])
            elif kind == "end":
                end = int(step["arrival"])
            elif kind == "break":
                k = break_of.get(int(step["id"]), len(begins))
                begins[k] = int(step["arrival"]) + int(step.get("waiting_time", 0))
            else:
                s = key_of[(kind, int(step["id"]))]
                st = problem.stops[s]
                arrival = int(step["arrival"])
                begin = arrival + int(step.get("waiting_time", 0))
                task = int(step.get("setup", 0)) + st.service_for(courier)
                visits.append(
                    Visit(
                        s,
                        arrival,
                        begin,
                        begin + task,
                        int((step.get("load") or [0])[0]),
                        int(problem.distances_for(courier)[prev, st.location]),
                    )
                )
                prev = st.location
        end_loc = problem.depots[courier.end_depot].location
        dist = sum(v.distance_from_previous for v in visits)
        dist += int(problem.distances_for(courier)[prev, end_loc])
        taken = tuple(begins[k] for k in sorted(begins))
        routes.append(
            Route(
                c,
                tuple(visits),
                start,
                end,
                dist,
                taken[0] if taken else None,
                start_load,
                more_break_starts=taken[1:],
            )
        )
    unassigned = []
    for u in output.get("unassigned", []):
        s = key_of[(u.get("type", "job"), int(u["id"]))]
        reason = u.get("reason", UnassignedReason.NO_COURIER.value)
        unassigned.append(Unassigned(s, UnassignedReason(reason)))
    return Plan(routes=tuple(routes), unassigned=tuple(unassigned), engine="vroom-format")
