"""VROOM's vehicle ``steps``: plan mode (``vroom -c``) and initial routes for the search.

Plan mode (``choose_eta``): every vehicle with ``steps`` drives exactly that route, its start
and end added where the vehicle has them; tasks in no vehicle's steps are unassigned. Every
constraint becomes soft and is reported as VROOM reports it, per step, per route and in the
summary: ``lead_time`` and ``delay`` with their ``duration``, ``load``, ``max_tasks``,
``skills``, ``precedence``, ``missing_break``, ``max_travel_time``, ``max_distance`` and
``max_load``. The steps' ``service_at``, ``service_after`` and ``service_before`` stay hard,
as in VROOM: a route that cannot meet them is refused (422 naming the step), where VROOM
answers "Infeasible route for vehicle".

The ETAs are VROOM's choice (src/algorithms/validation/choose_ETA.cpp, a small MIP there,
CP-SAT here), in this order: the least lead time plus delay (a vehicle's start early on its
``time_window``, a task or break off its windows, the end late), then the shortest route
makespan, then the earliest starts of tasks and breaks, then travel done as early as the
breaks allow. Travel starts as soon as a task ends and any waiting happens on arrival, so a
step's arrival is the previous step's start plus its setup and service plus the travel done
since. Setup applies when the location differs from the previous task's (or the start's).
The starts are bounded as VROOM bounds them (its t_i_LB and t_i_UB): nothing starts before
the planning horizon (the earliest window, less a margin where leaving earlier can pay off,
lowered by the ``service_*`` of earlier steps), and next to a break held by its ``service_*``
the whole leg's travel counts on one side of it; the answers then match VROOM's (pyvroom's
``Input.check``) step for step (tests/routing/test_plan_mode.py).

Breaks, capacities, amounts and costs are read here from the JSON itself: several breaks per
vehicle with several windows each and a ``max_load``, several amount dimensions, jobs with both
``delivery`` and ``pickup``, every ``costs`` key; the rest (matrices, locations, windows,
setup, service, skills, priorities, speed and limits) comes from ``problem_from_vroom``.
A vehicle without ``capacity`` carries any load, as in ``problem_from_vroom``. Travel times
are the optimiser's (``prep.travel_time``: rounded up at the vehicle's speed).

Solving mode (``initial_routes``): the job, pickup and delivery steps of each vehicle give the
order of a route the search starts from (VROOM's initial solution); breaks and ``service_*``
are left out of it, and a route breaking any rule is refused (422 naming its steps).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from postal.routing.errors import MalformedInstance
from postal.routing.model import Problem, Window
from postal.routing.prep import INF, prepare, travel_time
from postal.routing.schedule import earliest_schedule, is_feasible
from postal.routing.vroom_format import (
    CUSTOM_COSTS,
    MatrixFn,
    VroomIds,
    check_keys,
    legacy_amounts,
    problem_from_vroom,
)
from postal.routing.vroom_format import read_int as _int

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

MAX_INT = 2**31 - 1
"""VROOM's integers."""
STEP_TYPES = ("start", "job", "pickup", "delivery", "break", "end")
TASK_TYPES = ("job", "pickup", "delivery")
STEP_KEYS = ("type", "id", "service_at", "service_after", "service_before")
"""A vehicle step's keys (VROOM's ``vehicle_step``)."""
_BREAK_KEYS = ("id", "time_windows", "service", "description", "max_load")
_COST_KEYS = {"fixed": 0, "per_hour": 3600, "per_km": 0, "per_task_hour": 0}
_RAW_VEHICLE = ("steps", "breaks", "capacity", "costs")
"""Vehicle keys read here, left out of the copy given to ``problem_from_vroom``."""
CAUSES = (
    "lead_time",
    "delay",
    "load",
    "max_tasks",
    "skills",
    "precedence",
    "missing_break",
    "max_travel_time",
    "max_distance",
    "max_load",
)
"""VROOM's violation causes, in the order they are written."""
SOLVE_SECONDS = 10.0
"""A safety net per CP-SAT solve; a route's model is small and solves in milliseconds."""


def _err(where: str, msg: str) -> MalformedInstance:
    return MalformedInstance(detail=f"{where}: {msg}", field=where)


def _keys(obj: Any, where: str, known: Sequence[str]) -> dict[str, Any]:
    """``obj`` once every key of it is known (vroom_format.check_keys)."""
    check_keys(obj, where, tuple(known), {})
    result: dict[str, Any] = obj
    return result


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _err(where, "must be a list")
    return value


def _windows(value: Any, where: str) -> tuple[Window, ...]:
    out = []
    for k, w in enumerate(_list(value, where)):
        if not isinstance(w, list) or len(w) != 2:
            raise _err(f"{where}[{k}]", "a time window is [start, end]")
        lo, hi = _int(w[0], f"{where}[{k}][0]"), _int(w[1], f"{where}[{k}][1]")
        if lo > hi:
            raise _err(f"{where}[{k}]", "a time window ends before it starts")
        out.append((lo, hi))
    return tuple(sorted(out))


# --- what problem_from_vroom does not read -------------------------------------------------


@dataclass(frozen=True)
class Break:
    """One break of a vehicle, as given."""

    id: int
    windows: tuple[Window, ...]
    """Empty: any time (no violation)."""
    service: int
    description: str | None
    max_load: tuple[int, ...] | None


@dataclass(frozen=True)
class Costs:
    """A vehicle's ``costs`` (VROOM's defaults where left out)."""

    fixed: int = 0
    per_hour: int = 3600
    per_km: int = 0
    per_task_hour: int = 0

    def route(self, travel: int, distance: int, task: int, arc: int | None = None) -> int:
        """VROOM's cost of a used route: fixed, plus travel and distance rounded together
        (CostWrapper::user_cost_from_user_metrics), plus task time truncated (task_cost).
        ``arc``: the custom cost matrix summed along the route, which replaces the travel."""
        if arc is not None:
            return self.fixed + arc + self.per_task_hour * task // 3600
        variable = travel * self.per_hour / 3600 + distance * self.per_km / 1000
        return self.fixed + int(variable + 0.5) + self.per_task_hour * task // 3600


@dataclass(frozen=True)
class Raw:
    """Breaks, capacities, amounts and costs read from the JSON."""

    dims: int
    """Amount dimensions (at least one)."""
    capacity: tuple[tuple[int, ...] | None, ...]
    """Per vehicle; None = no capacity given (any load)."""
    breaks: tuple[tuple[Break, ...], ...]
    costs: tuple[Costs, ...]
    delivery: tuple[tuple[int, ...], ...]
    """Per stop (problem order)."""
    pickup: tuple[tuple[int, ...], ...]


class _Amounts:
    """Amount arrays, all of one length (VROOM's rule); missing ones are zeros."""

    def __init__(self) -> None:
        self.dims: int | None = None

    def read(self, value: Any, where: str) -> tuple[int, ...] | None:
        if value is None:
            return None
        items = _list(value, where)
        amounts = tuple(_int(v, f"{where}[{k}]") for k, v in enumerate(items))
        if self.dims is None:
            self.dims = len(amounts)
        elif len(amounts) != self.dims:
            raise _err(where, f"{len(amounts)} amounts where others have {self.dims}")
        return amounts

    def zero(self) -> tuple[int, ...]:
        return (0,) * max(self.dims or 1, 1)


def _read_raw(data: dict[str, Any], ids: VroomIds) -> Raw:
    amounts = _Amounts()
    vehicles = data["vehicles"]
    capacity = []
    breaks: list[tuple[Break, ...]] = []
    costs = []
    raw_breaks: list[list[tuple[Any, str]]] = []
    for k, v in enumerate(vehicles):
        where = f"vehicles[{k}]"
        capacity.append(amounts.read(v.get("capacity"), f"{where}.capacity"))
        c = _keys(v.get("costs") or {}, f"{where}.costs", tuple(_COST_KEYS))
        costs.append(
            Costs(
                **{
                    key: _int(c.get(key, d), f"{where}.costs.{key}")
                    for key, d in _COST_KEYS.items()
                }
            )
        )
        raw_breaks.append(
            [
                (b, f"{where}.breaks[{j}]")
                for j, b in enumerate(_list(v.get("breaks"), f"{where}.breaks"))
            ]
        )
    max_loads = [
        [amounts.read(_keys(b, w, _BREAK_KEYS).get("max_load"), f"{w}.max_load") for b, w in rb]
        for rb in raw_breaks
    ]
    by_key: dict[tuple[str, int], tuple[tuple[int, ...] | None, tuple[int, ...] | None]] = {}
    for k, job in enumerate(data.get("jobs") or []):
        d = amounts.read(job.get("delivery"), f"jobs[{k}].delivery")
        p = amounts.read(job.get("pickup"), f"jobs[{k}].pickup")
        by_key[("job", job["id"])] = (d, p)
    for k, sh in enumerate(data.get("shipments") or []):
        a = amounts.read(sh.get("amount"), f"shipments[{k}].amount")
        by_key[("pickup", sh["pickup"]["id"])] = (None, a)
        by_key[("delivery", sh["delivery"]["id"])] = (a, None)
    zero = amounts.zero()
    for k, rb in enumerate(raw_breaks):
        seen: set[int] = set()
        out = []
        for (b, w), max_load in zip(rb, max_loads[k], strict=True):
            bid = _int(b.get("id"), f"{w}.id", 0, 2**63 - 1)
            if bid in seen:
                raise _err(f"{w}.id", f"break id {bid} is used twice for this vehicle")
            seen.add(bid)
            description = b.get("description")
            if description is not None and not isinstance(description, str):
                raise _err(f"{w}.description", "must be a string")
            out.append(
                Break(
                    bid,
                    _windows(b.get("time_windows"), f"{w}.time_windows"),
                    _int(b.get("service", 0), f"{w}.service"),
                    description,
                    max_load,
                )
            )
        breaks.append(tuple(out))
    keys = list(zip(ids.stop_types, ids.stop_ids, strict=True))
    return Raw(
        dims=len(zero),
        capacity=tuple(capacity),
        breaks=tuple(breaks),
        costs=tuple(costs),
        delivery=tuple(by_key[k][0] or zero for k in keys),
        pickup=tuple(by_key[k][1] or zero for k in keys),
    )


def parse(data: dict[str, Any], matrix_fn: MatrixFn | None = None) -> tuple[Problem, VroomIds, Raw]:
    """``problem_from_vroom`` on the input without what is read here, and what is read here.

    The problem it gives has no breaks, capacities, amounts or costs: plan mode reads those
    from ``Raw`` (the rest of the optimiser does not use this problem)."""
    if not isinstance(data, dict):
        raise _err("input", "the top level must be an object")
    data = legacy_amounts(data)
    vehicles = data.get("vehicles")
    if not isinstance(vehicles, list) or not all(isinstance(v, dict) for v in vehicles):
        raise _err("vehicles", "a list of objects")
    copy = dict(data)
    copy["vehicles"] = [{k: x for k, x in v.items() if k not in _RAW_VEHICLE} for v in vehicles]
    for key, drop in (("jobs", ("delivery", "pickup")), ("shipments", ("amount",))):
        items = data.get(key)
        if isinstance(items, list):
            copy[key] = [
                {k: x for k, x in i.items() if k not in drop} if isinstance(i, dict) else i
                for i in items
            ]
    problem, ids = problem_from_vroom(copy, matrix_fn)
    raw = _read_raw(data, ids)
    for k, costs in enumerate(raw.costs):
        custom = problem.arc_costs_for(problem.couriers[k]) is not None
        if custom and (costs.per_hour != 3600 or costs.per_km):
            key = "per_hour" if costs.per_hour != 3600 else "per_km"
            raise _err(f"vehicles[{k}].costs.{key}", CUSTOM_COSTS)
    return problem, ids, raw


# --- steps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a vehicle's given route."""

    kind: str
    """'start', 'job', 'pickup', 'delivery', 'break' or 'end'."""
    ref: int = -1
    """The stop (tasks) or the break's rank in the vehicle's breaks; -1 for start and end."""
    at: int | None = None
    after: int | None = None
    before: int | None = None
    where: str = ""
    """The step's JSON path ('' for a start or end added here)."""


def parse_steps(data: dict[str, Any], ids: VroomIds, raw: Raw) -> list[list[Step]]:
    """Each vehicle's steps, start and end added (empty for a vehicle without steps).

    Raises MalformedInstance naming ``vehicles[i].steps[j].<key>`` for a step VROOM refuses:
    an unknown type or id, a task given twice, another vehicle's break, a start not first or
    an end not last."""
    stop_of = {key: s for s, key in enumerate(zip(ids.stop_types, ids.stop_ids, strict=True))}
    planned: dict[int, str] = {}
    out: list[list[Step]] = []
    for k, v in enumerate(data["vehicles"]):
        given = _list(v.get("steps"), f"vehicles[{k}].steps")
        steps: list[Step] = []
        breaks_seen: dict[int, str] = {}
        for j, item in enumerate(given):
            where = f"vehicles[{k}].steps[{j}]"
            _keys(item, where, STEP_KEYS)
            kind = item.get("type")
            if kind not in STEP_TYPES:
                raise _err(f"{where}.type", f"one of {', '.join(STEP_TYPES)}")
            at, after, before = (
                None if item.get(key) is None else _int(item[key], f"{where}.{key}")
                for key in ("service_at", "service_after", "service_before")
            )
            ref = -1
            if kind == "start" and j != 0:
                raise _err(f"{where}.type", "a start step comes first")
            if kind == "end" and j != len(given) - 1:
                raise _err(f"{where}.type", "an end step comes last")
            if kind in TASK_TYPES or kind == "break":
                if "id" not in item:
                    raise _err(f"{where}.id", f"required for a {kind} step")
                tid = _int(item["id"], f"{where}.id", 0, 2**63 - 1)
                if kind == "break":
                    ranks = [b for b, brk in enumerate(raw.breaks[k]) if brk.id == tid]
                    if not ranks:
                        raise _err(
                            f"{where}.id", f"vehicle {ids.vehicle_ids[k]} has no break {tid}"
                        )
                    ref = ranks[0]
                    if ref in breaks_seen:
                        raise _err(
                            f"{where}.id", f"break {tid} is given twice ({breaks_seen[ref]})"
                        )
                    breaks_seen[ref] = where
                else:
                    if (kind, tid) not in stop_of:
                        raise _err(f"{where}.id", f"no {kind} has id {tid}")
                    ref = stop_of[(kind, tid)]
                    if ref in planned:
                        raise _err(f"{where}.id", f"{kind} {tid} is planned twice ({planned[ref]})")
                    planned[ref] = where
            steps.append(Step(kind, ref, at, after, before, where))
        if steps:
            if steps[0].kind != "start":
                steps.insert(0, Step("start"))
            if steps[-1].kind != "end":
                steps.append(Step("end"))
        out.append(steps)
    return out


# --- choosing ETAs --------------------------------------------------------------------------


@dataclass
class _Leg:
    """Travel from a start or task to the next task or end, split around the breaks between."""

    first: int
    """Position of the start or task the leg leaves from."""
    breaks: list[int] = field(default_factory=list)
    """Positions of the breaks before the next task or end."""
    travel: int = 0
    distance: int = 0
    cost: int = 0
    """The custom cost matrix's value of the leg (0 without one)."""


@dataclass
class _Route:
    """One vehicle's steps with what the timing needs."""

    courier: int
    steps: list[Step]
    locations: list[int | None]
    actions: list[int]
    """Setup applied plus service (tasks), the break's service, 0 for start and end."""
    setups: list[int]
    windows: list[tuple[Window, ...]]
    """Per step; empty = no window (no lead time or delay)."""
    legs: list[_Leg]
    shift: Window


def _route(problem: Problem, ids: VroomIds, raw: Raw, c: int, steps: list[Step]) -> _Route:
    courier = problem.couriers[c]
    start = None if ids.open_start[c] else problem.depots[courier.start_depot].location
    end = None if ids.open_end[c] else problem.depots[courier.end_depot].location
    locations: list[int | None] = []
    actions: list[int] = []
    setups: list[int] = []
    windows: list[tuple[Window, ...]] = []
    legs: list[_Leg] = []
    previous = start
    for p, step in enumerate(steps):
        setup, action = 0, 0
        loc: int | None = None
        tws: tuple[Window, ...] = ()
        if step.kind == "start":
            loc = start
        elif step.kind == "end":
            loc = end
        elif step.kind == "break":
            brk = raw.breaks[c][step.ref]
            action, tws = brk.service, brk.windows
        else:
            stop = problem.stops[step.ref]
            loc = stop.location
            # Setup only on arriving from another place (VROOM's rule: also for the first).
            setup = stop.setup_for(courier) if previous is None or previous != loc else 0
            action, tws = setup + stop.service_for(courier), tuple(sorted(stop.windows))
            previous = loc
        if step.kind != "break":
            if legs:
                leg = legs[-1]
                a, b = locations[leg.first], loc
                if a is not None and b is not None:
                    leg.travel = travel_time(problem, courier, a, b)
                    distances = problem.distances_for(courier)
                    leg.distance = int(distances[a, b]) if ids.has_distances else 0
                    arcs = problem.arc_costs_for(courier)
                    if arcs is not None:
                        leg.cost = int(arcs[a, b])
            if step.kind != "end":
                legs.append(_Leg(p))
        else:
            legs[-1].breaks.append(p)
        locations.append(loc)
        actions.append(action)
        setups.append(setup)
        windows.append(tws)
    shift = courier.shift
    return _Route(c, steps, locations, actions, setups, windows, legs, shift)


def _violation(windows: tuple[Window, ...], t: int) -> int:
    """Lead time or delay of a start at ``t`` against the nearest window (VROOM's
    get_violation); 0 without windows."""
    if not windows:
        return 0
    for k, (lo, hi) in enumerate(windows):
        if t <= hi:
            if t >= lo:
                return 0
            return lo - t if k == 0 else min(t - windows[k - 1][1], lo - t)
    return t - windows[-1][1]


def _horizon_starts(route: _Route) -> list[int]:
    """Per step, the earliest start VROOM allows before ``service_*``: its planning horizon's
    start, the earliest window start less a margin where leaving earlier can pay off, and
    lowered by the ``service_*`` of the steps before (choose_ETA.cpp, t_i_LB)."""
    steps = route.steps
    n = len(steps)
    relative: list[int] = []
    clock = 0
    for p, step in enumerate(steps):
        if step.kind in (*TASK_TYPES, "end"):
            clock += _leg_into(route, p).travel
        relative.append(clock)
        clock += route.actions[p]
    shift_set = route.shift != (0, INF)
    starts = [w[0][0] for w in route.windows if w]
    if shift_set:
        starts.append(route.shift[0])
    if not starts:
        horizon = 0
    else:
        horizon = min(starts)
        # Where a sample schedule starts (the earliest the service_* allow) and the
        # violations it has: an upper bound on the best.
        candidate = INF
        latest = [min(x for x in (INF, s.at, s.before) if x is not None) for s in steps]
        for p in range(n):
            if latest[p] < INF:
                candidate = min(candidate, latest[p] - relative[p])
        candidate = min(candidate, route.shift[0] if shift_set else horizon)
        sample = 0
        lead = [0] * n
        has = [False] * n
        date = candidate
        for p, step in enumerate(steps):
            if p:
                date += relative[p] - relative[p - 1]
            date = max(x for x in (date, step.at, step.after) if x is not None)
            if step.kind == "start":
                if shift_set:
                    has[p] = True
                    sample += max(route.shift[0] - date, 0)
                    lead[p] = route.shift[0] - horizon
            elif step.kind == "end":
                if shift_set:
                    has[p] = True
                    sample += max(date - route.shift[1], 0)
            else:
                sample += _violation(route.windows[p], date)
                if route.windows[p]:
                    has[p] = True
                    lead[p] = route.windows[p][0][0] - horizon
        margin = 0
        for p in range(n):
            if relative[p] > horizon:
                margin = 0
                break
            margin = relative[p]
            least = sum(
                lead[q] + (relative[p] - relative[q] if has[q] else 0) for q in range(p + 1)
            )
            if least > sample:
                break
        horizon -= margin
    out = []
    for step in steps:
        out.append(horizon)
        for value in (step.at, step.after, step.before):
            if value is not None:
                horizon = min(horizon, value)
    return out


def _hard_bounds(route: _Route, vehicle_id: int) -> tuple[list[int], list[int]]:
    """Earliest and latest start per step from ``service_*`` and travel; 422 naming the step
    whose hard bounds cannot be met (VROOM: "Infeasible route for vehicle")."""
    lo: list[int] = []
    hi: list[int] = []
    for step, base in zip(route.steps, _horizon_starts(route), strict=True):
        low = base if step.at is None else step.at
        low = low if step.after is None else step.after
        high = min(x for x in (INF, step.at, step.before) if x is not None)
        lo.append(low)
        hi.append(high)
    # Earliest starts as VROOM bounds them: every step after the previous one's action, a task
    # or the end also after its whole leg's travel counted from the last break before it (a
    # break held back by its service_* holds back the next task too, as in VROOM).
    earliest = list(lo)
    previous, action, travel = 0, 0, route.legs[0].travel
    for p, step in enumerate(route.steps):
        if step.kind == "start":
            previous = earliest[p]
            continue
        gap = action + (0 if step.kind == "break" else travel)
        earliest[p] = max(earliest[p], previous + gap)
        previous, action = earliest[p], route.actions[p]
        if step.kind in TASK_TYPES:
            travel = next(leg.travel for leg in route.legs if leg.first == p)
    # Latest starts as VROOM bounds them, backwards: a task before its leg's travel and the
    # next step's latest start, the start before the first leg (less any slack a break held
    # by its service_* leaves for travel after it).
    after, slack = hi[-1], 0
    for p in range(len(route.steps) - 2, -1, -1):
        kind = route.steps[p].kind
        if kind == "break":
            candidate = after - route.actions[p]
            if hi[p] < candidate:
                slack += candidate - hi[p]
            else:
                hi[p] = candidate
        else:
            travel = next(leg.travel for leg in route.legs if leg.first == p)
            # VROOM keeps the slack for tasks only: the start leaves the whole leg's travel.
            ahead = travel if kind == "start" else max(travel - slack, 0)
            hi[p] = min(hi[p], after - ahead - route.actions[p])
            slack = 0
        after = hi[p]
    for p in range(len(route.steps)):
        if earliest[p] > hi[p]:
            # Blame the first given bound from here on that holds this step back.
            culprit = next(
                (s for s in route.steps[p:] if s.at is not None or s.before is not None),
                route.steps[p],
            )
            key = "service_before" if culprit.before is not None else "service_at"
            raise MalformedInstance(
                detail=f"{culprit.where}.{key}: infeasible route for vehicle {vehicle_id}: "
                f"step {p} cannot start before {earliest[p]} and must by {hi[p]}",
                field=f"{culprit.where}.{key}",
            )
    return earliest, hi


@dataclass(frozen=True)
class Times:
    """Chosen starts per step, travel done after each step, window chosen per step."""

    starts: list[int]
    travel_after: list[int]
    window: list[int]
    """Index of the window each step is measured against (-1: none)."""


def _solve_times(route: _Route, earliest: list[int], latest: list[int], workers: int = 1) -> Times:
    """VROOM's choose_ETA, its objectives in turn: violations, makespan, starts, travel.
    One CP-SAT worker is deterministic; several (CP-SAT's portfolio, with its LP-based
    workers) are much faster on long routes that break rules, at the price of choosing
    among equally good ETAs by chance."""
    # Imported here: the web process loads this module for POST /optimise's checks.
    from ortools.sat.python import cp_model

    n = len(route.steps)
    finite = [x for w in route.windows for pair in w for x in pair]
    finite += [x for x in route.shift if x < INF] + earliest
    finite += [x for x in latest if x < INF]
    work = sum(route.actions) + sum(leg.travel for leg in route.legs)
    horizon = max(finite) + work + 1
    m = cp_model.CpModel()
    t = [m.new_int_var(earliest[p], min(latest[p], horizon), f"t{p}") for p in range(n)]
    travel = [m.new_int_var(0, 0, f"d{p}") for p in range(n)]
    for leg in route.legs:
        group = [leg.first, *leg.breaks]
        for p in group:
            travel[p] = m.new_int_var(0, leg.travel, f"d{p}")
        m.add(sum(travel[p] for p in group) == leg.travel)
    for p in range(n - 1):
        m.add(t[p + 1] - t[p] - travel[p] >= route.actions[p])
    violation = []
    choice: list[list[cp_model.IntVar]] = []
    for p, step in enumerate(route.steps):
        chosen: list[cp_model.IntVar] = []
        if step.kind == "start" and route.shift[0] > 0:
            y = m.new_int_var(0, horizon, f"y{p}")
            m.add(y + t[p] >= route.shift[0])
            violation.append(y)
        elif step.kind == "end" and route.shift[1] < INF:
            y = m.new_int_var(0, horizon, f"y{p}")
            m.add(t[p] - y <= route.shift[1])
            violation.append(y)
        elif route.windows[p] and step.kind not in ("start", "end"):
            tws = route.windows[p]
            y = m.new_int_var(0, horizon, f"y{p}")
            chosen = [m.new_bool_var(f"x{p}_{k}") for k in range(len(tws))]
            m.add_exactly_one(chosen)
            m.add(y + t[p] - sum(a * x for (a, _), x in zip(tws, chosen, strict=True)) >= 0)
            m.add(t[p] - y - sum(b * x for (_, b), x in zip(tws, chosen, strict=True)) <= 0)
            violation.append(y)
        choice.append(chosen)
    # Travel before the breaks of a leg as early as possible (VROOM's last objective).
    spread = [
        (k + 1) * travel[b] for leg in route.legs for k, b in enumerate(leg.breaks) if leg.travel
    ]
    objectives = [
        sum(violation),
        t[n - 1] - t[0],
        sum(t[1 : n - 1]),
        sum(spread),
    ]
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = SOLVE_SECONDS
    for objective in objectives:
        if isinstance(objective, int):
            continue  # nothing to choose (no windows, no tasks, no breaks)
        m.minimize(objective)
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            # Hard bounds were checked: this is a bug, not the input.
            raise RuntimeError(f"plan mode: no ETA for vehicle route {route.courier}")
        value = int(solver.value(objective))
        m.add(objective == value)
    return Times(
        starts=[int(solver.value(x)) for x in t],
        travel_after=[int(solver.value(x)) for x in travel],
        window=[
            next((k for k, x in enumerate(xs) if solver.value(x)), -1) if xs else -1
            for xs in choice
        ],
    )


# --- writing VROOM's output ----------------------------------------------------------------


def _location(ids: VroomIds, loc: int | None) -> dict[str, Any]:
    if loc is None:
        return {}
    coord = ids.coordinates[loc] if loc < len(ids.coordinates) else None
    if coord is None:
        return {"location_index": loc}
    # As plan_to_vroom writes locations (the index too).
    return {"location": [coord[0], coord[1]], "location_index": loc}


def _described(text: str | None) -> dict[str, str]:
    return {} if text is None else {"description": text}


def _violations(causes: set[str], lead: int = 0, delay: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cause in CAUSES:
        if cause in causes:
            item: dict[str, Any] = {"cause": cause}
            if cause == "lead_time":
                item["duration"] = lead
            elif cause == "delay":
                item["duration"] = delay
            out.append(item)
    return out


def _over(load: Sequence[int], limit: Sequence[int] | None) -> bool:
    return limit is not None and any(a > b for a, b in zip(load, limit, strict=True))


@dataclass
class _Written:
    """A route in VROOM's output and its totals for the summary."""

    out: dict[str, Any]
    causes: set[str]
    lead: int
    delay: int


def _write_route(
    problem: Problem, ids: VroomIds, raw: Raw, route: _Route, times: Times
) -> _Written:
    """The route as VROOM's choose_ETA writes it, step by step."""
    c = route.courier
    courier = problem.couriers[c]
    capacity = raw.capacity[c]
    dims = raw.dims
    steps_out: list[dict[str, Any]] = []
    causes: set[str] = set()
    lead_total = delay_total = 0
    load = [0] * dims
    tasks = [s for s in route.steps if s.kind in TASK_TYPES]
    for task in tasks:
        if problem.stops[task.ref].pair is None:
            load = [a + b for a, b in zip(load, raw.delivery[task.ref], strict=True)]
    first_loc = next((x for x in route.locations if x is not None), None)
    last_loc = next((x for x in reversed(route.locations) if x is not None), None)
    partner: dict[int, int] = {}
    by_pair: dict[str, list[int]] = {}
    for s, stop in enumerate(problem.stops):
        if stop.pair is not None:
            by_pair.setdefault(stop.pair, []).append(s)
    for pair in by_pair.values():
        partner[pair[0]], partner[pair[1]] = pair[1], pair[0]
    expected: set[int] = set()
    delivered_first: set[int] = set()
    pickup_step: dict[int, int] = {}
    breaks_left = {b.id for b in raw.breaks[c]}
    setup_sum = service_sum = waiting_sum = priority = 0
    deliveries = [0] * dims
    pickups = [0] * dims
    duration = distance = break_distance = 0
    previous_end = times.starts[0]
    leg_of = {p: leg for leg in route.legs for p in (leg.first, *leg.breaks)}
    count = 0

    def step_out(kind: str, loc: int | None, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": kind}
        if "id" in fields:
            out["id"] = fields.pop("id")
        out.update(fields.pop("described", {}))
        out.update(_location(ids, loc))
        out.update(fields)
        return out

    for p, step in enumerate(route.steps):
        here: set[str] = set()
        lead = delay = 0
        start = times.starts[p]
        if p == 0:
            arrival = start
            if arrival < route.shift[0]:
                here.add("lead_time")
                lead = route.shift[0] - arrival
            if _over(load, capacity):
                here.add("load")
            entry = step_out(
                "start", first_loc, setup=0, service=0, waiting_time=0, load=list(load),
                arrival=arrival, duration=0,
            )  # fmt: skip
            if ids.has_distances:
                entry["distance"] = 0
        else:
            arrival = times.starts[p - 1] + route.actions[p - 1] + times.travel_after[p - 1]
            travelled = arrival - previous_end
            duration += travelled
            if step.kind == "end":
                distance = sum(leg.distance for leg in route.legs)
                if arrival > route.shift[1]:
                    here.add("delay")
                    delay = arrival - route.shift[1]
                if _over(load, capacity):
                    here.add("load")
                entry = step_out(
                    "end", last_loc, setup=0, service=0, waiting_time=0, load=list(load),
                    arrival=arrival, duration=duration,
                )  # fmt: skip
                here_distance = distance
            elif step.kind == "break":
                brk = raw.breaks[c][step.ref]
                breaks_left.discard(brk.id)
                service_sum += brk.service
                # Distance pro rata temporis of the leg travelled so far (VROOM's rule).
                own = leg_of[p]
                if own.travel:
                    break_distance += int(travelled * own.distance / own.travel + 0.5)
                here_distance = break_distance
                waiting = start - arrival
                waiting_sum += waiting
                previous_end = arrival + waiting + brk.service
                lead, delay = _off_window(brk.windows, times.window[p], start, here)
                if _over(load, capacity):
                    here.add("load")
                if _over(load, brk.max_load):
                    here.add("max_load")
                entry = step_out(
                    "break", None, id=brk.id, described=_described(brk.description), setup=0,
                    service=brk.service, waiting_time=waiting, load=list(load),
                    arrival=arrival, duration=duration,
                )  # fmt: skip
            else:
                s = step.ref
                stop = problem.stops[s]
                setup = route.setups[p]
                setup_sum += setup
                service_sum += stop.service_for(courier)
                priority += stop.priority
                load = [
                    a + b - d for a, b, d in zip(load, raw.pickup[s], raw.delivery[s], strict=True)
                ]
                pickups = [a + b for a, b in zip(pickups, raw.pickup[s], strict=True)]
                deliveries = [a + b for a, b in zip(deliveries, raw.delivery[s], strict=True)]
                waiting = start - arrival
                waiting_sum += waiting
                previous_end = arrival + waiting + setup + stop.service_for(courier)
                prev_leg = _leg_into(route, p)
                distance += prev_leg.distance
                break_distance = distance
                here_distance = distance
                lead, delay = _off_window(route.windows[p], times.window[p], start, here)
                if _over(load, capacity):
                    here.add("load")
                if not stop.skills <= courier.skills:
                    here.add("skills")
                count += 1
                if courier.max_tasks is not None and count > courier.max_tasks:
                    here.add("max_tasks")
                j = partner.get(s, -1)
                if step.kind == "pickup":
                    if j in delivered_first:
                        here.add("precedence")
                    else:
                        expected.add(j)
                        pickup_step[j] = len(steps_out)
                elif step.kind == "delivery":
                    if s in expected:
                        expected.discard(s)
                    else:
                        here.add("precedence")
                        delivered_first.add(s)
                entry = step_out(
                    step.kind, stop.location, id=ids.stop_ids[s],
                    described=_described(ids.stop_descriptions[s]), setup=setup,
                    service=stop.service_for(courier), waiting_time=waiting, load=list(load),
                    arrival=arrival, duration=duration,
                )  # fmt: skip
            if courier.max_travel_time is not None and duration > courier.max_travel_time:
                here.add("max_travel_time")
            if courier.max_distance is not None and here_distance > courier.max_distance:
                here.add("max_distance")
            if ids.has_distances:
                entry["distance"] = here_distance
        entry["violations"] = _violations(here, lead, delay)
        steps_out.append(entry)
        causes |= here
        lead_total += lead
        delay_total += delay
    for d in expected:
        # A pickup whose delivery is not on this route.
        entry = steps_out[pickup_step[d]]
        kinds = {v["cause"] for v in entry["violations"]} | {"precedence"}
        lead = next((v["duration"] for v in entry["violations"] if v["cause"] == "lead_time"), 0)
        delay = next((v["duration"] for v in entry["violations"] if v["cause"] == "delay"), 0)
        entry["violations"] = _violations(kinds, lead, delay)
        causes.add("precedence")
    if breaks_left:
        causes.add("missing_break")
    costs = raw.costs[c]
    total_distance = sum(leg.distance for leg in route.legs)
    out: dict[str, Any] = {
        "vehicle": ids.vehicle_ids[c],
        **_described(ids.vehicle_descriptions[c] if ids.vehicle_descriptions else None),
        "cost": costs.route(
            duration,
            total_distance,
            setup_sum + service_sum,
            None
            if problem.arc_costs_for(problem.couriers[c]) is None
            else sum(leg.cost for leg in route.legs),
        ),
        "delivery": deliveries,
        "pickup": pickups,
        "setup": setup_sum,
        "service": service_sum,
        "duration": duration,
        "waiting_time": waiting_sum,
        "priority": priority,
    }
    if ids.has_distances:
        out["distance"] = total_distance
    out["steps"] = steps_out
    out["violations"] = _violations(causes, lead_total, delay_total)
    return _Written(out, causes, lead_total, delay_total)


def _leg_into(route: _Route, p: int) -> _Leg:
    """The leg that ends at task or end position ``p``."""
    return next(leg for leg in reversed(route.legs) if leg.first < p)


def _off_window(
    windows: tuple[Window, ...], chosen: int, start: int, causes: set[str]
) -> tuple[int, int]:
    """(lead time, delay) of ``start`` against the chosen window (none without windows)."""
    if not windows or chosen < 0:
        return 0, 0
    lo, hi = windows[chosen]
    if start < lo:
        causes.add("lead_time")
        return lo - start, 0
    if start > hi:
        causes.add("delay")
        return 0, start - hi
    return 0, 0


def choose_eta(
    data: dict[str, Any], matrix_fn: MatrixFn | None = None, workers: int = 1
) -> dict[str, Any]:
    """VROOM's plan mode: the routes given in ``vehicles[].steps`` with chosen ETAs and every
    violation reported, in VROOM's output format (module docstring); ``workers`` CP-SAT
    workers per route (``_solve_times``).

    Raises MalformedInstance (422) naming the JSON path of a malformed or infeasible step."""
    t0 = time.perf_counter()
    problem, ids, raw = parse(data, matrix_fn)
    plans = parse_steps(data, ids, raw)
    loaded = time.perf_counter()
    written: list[_Written] = []
    for c, steps in enumerate(plans):
        if not any(s.kind in TASK_TYPES or s.kind == "break" for s in steps):
            continue  # nothing to drive (VROOM needs a task or break in a route)
        route = _route(problem, ids, raw, c, steps)
        earliest, latest = _hard_bounds(route, ids.vehicle_ids[c])
        times = _solve_times(route, earliest, latest, workers)
        written.append(_write_route(problem, ids, raw, route, times))
    planned = {s.ref for steps in plans for s in steps if s.kind in TASK_TYPES}
    unassigned = [
        {
            "id": ids.stop_ids[s],
            "type": ids.stop_types[s],
            **_described(ids.stop_descriptions[s]),
            **_location(ids, problem.stops[s].location),
        }
        for s in range(len(problem.stops))
        if s not in planned
    ]
    routes = [w.out for w in written]
    keys = ["cost", "setup", "service", "duration", "waiting_time", "priority"]
    if ids.has_distances:
        keys.append("distance")
    summary: dict[str, Any] = {
        "cost": 0,
        "routes": len(routes),
        "unassigned": len(unassigned),
    }
    summary.update({k: sum(r[k] for r in routes) for k in keys})
    zero = [0] * raw.dims
    for key in ("delivery", "pickup"):
        summary[key] = [sum(x) for x in zip(zero, *(r[key] for r in routes), strict=True)]
    causes = set().union(*(w.causes for w in written)) if written else set()
    summary["violations"] = _violations(
        causes, sum(w.lead for w in written), sum(w.delay for w in written)
    )
    done = time.perf_counter()
    summary["computing_times"] = {
        "loading": int((loaded - t0) * 1000),
        "solving": int((done - loaded) * 1000),
        "routing": 0,
    }
    return {"code": 0, "summary": summary, "unassigned": unassigned, "routes": routes}


# --- solving mode: steps as initial routes --------------------------------------------------


def has_steps(data: Any) -> bool:
    """True when some vehicle of a VROOM input gives ``steps``."""
    vehicles = data.get("vehicles") if isinstance(data, dict) else None
    return isinstance(vehicles, list) and any(
        isinstance(v, dict) and v.get("steps") for v in vehicles
    )


def initial_routes(data: dict[str, Any], problem: Problem, ids: VroomIds) -> dict[int, list[int]]:
    """Per courier, the stops of its ``steps`` in their order (job, pickup and delivery steps
    only; breaks and ``service_*`` are left out, as VROOM does in solving mode).

    ``problem`` and ``ids`` are ``problem_from_vroom``'s for ``data``. Raises
    MalformedInstance (422) naming ``vehicles[i].steps`` when a vehicle's route breaks a rule
    (VROOM: skills, capacity, precedence, max_tasks, travel limits, time windows)."""
    if not has_steps(data):
        return {}
    raw_breaks = _breaks_only(data)
    plans = parse_steps(data, ids, raw_breaks)
    prep = prepare(problem)
    out: dict[int, list[int]] = {}
    for c, steps in enumerate(plans):
        seq = [s.ref for s in steps if s.kind in TASK_TYPES]
        if not seq:
            continue
        why = _why_invalid(prep, c, seq)
        if why:
            where = f"vehicles[{c}].steps"
            raise MalformedInstance(
                detail=f"{where}: the route of vehicle {ids.vehicle_ids[c]} is invalid: {why}",
                field=where,
            )
        out[c] = seq
    return out


def _breaks_only(data: dict[str, Any]) -> Raw:
    """The break ids per vehicle, all ``parse_steps`` needs in solving mode."""
    breaks = []
    for v in data["vehicles"]:
        items = v.get("breaks") or []
        breaks.append(
            tuple(
                Break(b["id"], (), 0, None, None)
                for b in items
                if isinstance(b, dict) and isinstance(b.get("id"), int)
            )
        )
    n = len(breaks)
    return Raw(1, (None,) * n, tuple(breaks), (Costs(),) * n, (), ())


def _why_invalid(prep: Any, courier: int, seq: list[int]) -> str:
    """Which rule a route breaks ('' for none), in VROOM's order of checks."""
    problem = prep.problem
    c = problem.couriers[courier]
    for s in seq:
        stop = problem.stops[s]
        if not stop.skills <= c.skills:
            return f"task {stop.id} needs skills the vehicle lacks"
        if s in prep.reasons:
            return f"task {stop.id} cannot be served ({prep.reasons[s]})"
    if c.max_tasks is not None and len(seq) > c.max_tasks:
        return f"{len(seq)} tasks, more than max_tasks {c.max_tasks}"
    position = {s: k for k, s in enumerate(seq)}
    for s, k in position.items():
        j = prep.partner[s]
        if j >= 0 and (j not in position or (prep.is_pickup(s) and position[j] < k)):
            return f"shipment of {problem.stops[s].id}: its pickup must come before its delivery"
    if is_feasible(prep, courier, seq):
        return ""
    if earliest_schedule(prep, courier, seq, check_load=False, compact=False) is not None:
        return "the load goes over the capacity"
    return "no schedule meets the time windows, shift, breaks and travel limits"


def initial_sequences(routes: dict[int, list[int]], couriers: int) -> tuple[tuple[int, ...], ...]:
    """``initial_routes``' answer as ``SolveParams.initial``: one sequence per courier."""
    if not routes:
        return ()
    return tuple(tuple(routes.get(c, ())) for c in range(couriers))


__all__ = [
    "CAUSES",
    "STEP_TYPES",
    "Break",
    "Costs",
    "Raw",
    "Step",
    "choose_eta",
    "has_steps",
    "initial_routes",
    "initial_sequences",
    "parse",
    "parse_steps",
]
