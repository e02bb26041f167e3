"""Hand edits of a finished plan's routes: reorder a route's stops, move an item (its pickup
and its delivery, which ride one route) to another route of the office, give a route to
another courier of the roster.

Every edit is first a preview: the new routes are timed from scratch by plan mode
(``postal.routing.eta``, VROOM's ``-c``: the best times for the order the dispatcher gave,
waiting for windows and desks, the lunch break, each courier's own shift), and the
consequences shown before anything is written: stops early or late and by how many minutes,
a desk reached closed, a box over capacity, a courier back after the shift, and the
kilometres and minutes added. Where an item is moved to another route, the place it goes is
chosen by a quick forward pass over every pair of positions (``schedule``); the preview
then times the result by plan mode. Saving times the edit again and hands
the new routes to the project's independent feasibility checker
(``postal.routing.checker.check_plan``): an edit it finds infeasible is refused (409
``edit_infeasible``, with each reason) unless the dispatcher confirms it explicitly. Locked
(dispatched) routes are never edited: unlock first (409 ``route_locked``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from postal.calendar import desk_windows
from postal.catalogue import service as catalogue
from postal.catalogue.models import PostOffice
from postal.config import Settings
from postal.errors import Conflict, ValidationFailed
from postal.geo.travel import travel_provider
from postal.planning import service
from postal.planning.models import PlannedRoute, PlannedStop, PlanRun, PlanStatus, StopPlace
from postal.planning.problem import break_in_shift, courier_break
from postal.planning.roster import courier_entry, default_shift
from postal.routing import model as rm
from postal.routing.checker import Violation, ViolationKind, check_plan
from postal.routing.eta import timed_route
from postal.routing.prep import prepare, travel_time


@dataclass(frozen=True)
class Reason:
    """Why an edit is infeasible: a message code and its parameters."""

    code: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class StopPreview:
    """One stop of an edited route with its new times (local) and its problems: minutes
    served after (``late_min``) or before (``early_min``) its window, a desk reached closed."""

    stop_id: int
    sequence: int
    item_number: str
    kind: str
    place: str
    label: str
    arrival_at: dt.datetime
    start_at: dt.datetime
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    late_min: int
    desk_closed: bool
    moved: bool
    early_min: int = 0


@dataclass(frozen=True)
class RoutePreview:
    """An edited route before and after."""

    route_id: int
    courier_user_id: int | None
    courier_label: str
    stops: tuple[StopPreview, ...]
    distance_before_m: int
    distance_after_m: int
    duration_before_s: int
    duration_after_s: int
    start_at: dt.datetime
    end_at: dt.datetime
    shift_end_at: dt.datetime
    max_load: int
    capacity: int

    @property
    def capacity_exceeded(self) -> bool:
        """More items in the box than it holds at some point of the route."""
        return self.max_load > self.capacity

    @property
    def late_stops(self) -> int:
        """Stops served outside their window (or at a closed desk)."""
        return sum(1 for s in self.stops if s.late_min > 0 or s.early_min > 0 or s.desk_closed)


@dataclass(frozen=True)
class EditPreview:
    """The consequences of an edit; ``feasible`` is the independent checker's verdict."""

    routes: tuple[RoutePreview, ...]
    reasons: tuple[Reason, ...]

    @property
    def feasible(self) -> bool:
        """True when the checker found nothing wrong."""
        return not self.reasons

    @property
    def added_distance_m(self) -> int:
        """Kilometres the edit adds (negative: saves), in metres."""
        return sum(r.distance_after_m - r.distance_before_m for r in self.routes)

    @property
    def added_duration_s(self) -> int:
        """Working time the edit adds (negative: saves), in seconds."""
        return sum(r.duration_after_s - r.duration_before_s for r in self.routes)


@dataclass(frozen=True)
class Edit:
    """One hand edit of a route: a new order of its stops (stop ids), or an item moved to
    another route, or the route given to another courier."""

    order: tuple[int, ...] | None = None
    move_item: str | None = None
    to_route_id: int | None = None
    courier_user_id: int | None = None


@dataclass
class _Courier:
    user_id: int | None
    label: str
    shift: tuple[int, int]


@dataclass
class _Built:
    problem: rm.Problem
    index: dict[int, int]  # stop id -> problem stop
    stops: list[PlannedStop]


def _seconds(value: dt.datetime | None, day: dt.date, tz: ZoneInfo) -> int | None:
    if value is None:
        return None
    local = value.astimezone(tz)
    return int((local - dt.datetime.combine(day, dt.time(0), tzinfo=tz)).total_seconds())


def _at(day: dt.date, seconds: int, tz: ZoneInfo) -> dt.datetime:
    return (
        dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(seconds=seconds)
    ).astimezone(dt.UTC)


def _build(
    session: Session,
    settings: Settings,
    plan: PlanRun,
    office: PostOffice,
    stops: list[PlannedStop],
    couriers: list[_Courier],
    tz: ZoneInfo,
) -> _Built:
    """The optimiser's problem for these stops and couriers, as the plan saw them."""
    points: list[tuple[float, float]] = [(office.lat, office.lon)]
    desks: list[rm.Desk] = []
    desk_index: dict[str, int] = {}
    cal = catalogue.work_calendar(session)
    problem_stops: list[rm.Stop] = []
    index: dict[int, int] = {}
    for s in stops:
        points.append((s.lat, s.lon))
        desk: int | None = None
        if s.place == StopPlace.desk:
            if s.desk_code not in desk_index:
                hours = catalogue.desk_hours(session, s.desk_code)
                windows = tuple(
                    (
                        w.start.hour * 3600 + w.start.minute * 60,
                        w.end.hour * 3600 + w.end.minute * 60,
                    )
                    for w in desk_windows(hours, cal, plan.date)
                )
                desk_index[s.desk_code] = len(desks)
                desks.append(
                    rm.Desk(
                        id=s.desk_code, location=len(points) - 1, opening=((plan.date, windows),)
                    )
                )
            desk = desk_index[s.desk_code]
        lo = _seconds(s.window_start, plan.date, tz)
        hi = _seconds(s.window_end, plan.date, tz)
        assert s.id is not None
        index[s.id] = len(problem_stops)
        problem_stops.append(
            rm.Stop(
                id=f"{s.item_number}:{s.kind}",
                kind=rm.StopKind.PICKUP if s.kind == "pickup" else rm.StopKind.DELIVERY,
                location=len(points) - 1,
                windows=((lo, hi),) if lo is not None and hi is not None else (),
                service=settings.service_desk_s
                if s.place == StopPlace.desk
                else settings.service_citizen_s,
                demand=1,
                pair=s.item_number,
                desk=desk,
            )
        )
    distances, durations = travel_provider(settings).matrices(points)
    brk = courier_break(settings)
    problem = rm.Problem(
        durations=rm.Problem.matrix(durations),
        distances=rm.Problem.matrix(distances),
        depots=(rm.Depot(id=office.code, location=0),),
        couriers=tuple(
            rm.Courier(
                id=f"{office.code}-{k}",
                start_depot=0,
                end_depot=0,
                shift=c.shift,
                capacity=settings.courier_capacity,
                break_=break_in_shift(brk, c.shift),
                fixed_cost=settings.courier_fixed_cost_vnd,
                cost_per_hour=settings.courier_cost_per_hour_vnd,
            )
            for k, c in enumerate(couriers)
        ),
        stops=tuple(problem_stops),
        desks=tuple(desks),
        date=plan.date,
    )
    return _Built(problem, index, stops)


def _windows(problem: rm.Problem, s: int) -> list[tuple[int, int]]:
    stop = problem.stops[s]
    windows = list(stop.windows)
    if stop.desk is not None:
        opening = problem.desks[stop.desk].windows_on(problem.date) or ()
        desk = [(lo, hi - stop.service) for lo, hi in opening if hi - stop.service >= lo]
        windows = (
            desk
            if not windows
            else [
                (max(a, c), min(b, d))
                for a, b in windows
                for c, d in desk
                if max(a, c) <= min(b, d)
            ]
        )
    return windows


def _start_in(windows: list[tuple[int, int]], ready: int) -> int:
    """The first moment at or after ``ready`` inside a window; ``ready`` itself (late) when
    every window has passed."""
    for lo, hi in sorted(windows):
        if ready <= hi:
            return max(ready, lo)
    return ready


def schedule(problem: rm.Problem, courier: int, seq: Sequence[int]) -> rm.Route:
    """Time ``seq`` for ``courier`` as early as possible, never refusing: a stop reached
    after its window is served late, the break is taken where lunch time comes (or missed).
    The checker then says what is wrong with it."""
    c = problem.couriers[courier]
    brk = c.break_
    home = problem.depots[c.start_depot].location
    t, loc = c.shift[0], home
    taken: int | None = None
    taken_gap: int | None = None
    load = 0
    times: list[tuple[int, int, int, int, int]] = []
    for k, s in enumerate(seq):
        stop = problem.stops[s]
        tr = travel_time(problem, c, loc, stop.location)
        if brk is not None and taken is None and t + tr >= brk.earliest_start:
            b = max(t, brk.earliest_start)
            if b <= brk.latest_start:
                ready = max(t + tr, b) + brk.duration
                arrival = t + tr if t + tr <= b else ready
                taken, taken_gap = b, k
            else:
                ready = arrival = t + tr
        else:
            ready = arrival = t + tr
        start = _start_in(_windows(problem, s), ready)
        load += stop.demand if stop.kind is rm.StopKind.PICKUP else -stop.demand
        times.append((s, arrival, start, start + stop.service, load))
        t, loc = start + stop.service, stop.location
    end = t + travel_time(problem, c, loc, home)
    if brk is not None and taken is None and max(end, brk.earliest_start) <= brk.latest_start:
        taken, taken_gap = max(end, brk.earliest_start), len(seq)
    leave = c.shift[0]
    if times and taken_gap != 0:  # leave as late as the first stop allows: no waiting there
        first_travel = travel_time(problem, c, home, problem.stops[times[0][0]].location)
        leave = max(leave, times[0][2] - first_travel)
        s0, _, st0, dep0, load0 = times[0]
        times[0] = (s0, min(st0, leave + first_travel), st0, dep0, load0)
    visits = []
    prev, total = home, 0
    for s, arrival, start, departure, after in times:
        d = int(problem.distances_for(c)[prev, problem.stops[s].location])
        total += d
        visits.append(rm.Visit(s, arrival, start, departure, after, d))
        prev = problem.stops[s].location
    total += int(problem.distances_for(c)[prev, home])
    return rm.Route(courier, tuple(visits), leave, end, total, taken, 0)


def _reasons(
    violations: list[Violation],
    built: _Built,
    labels: list[str],
    seq_of: dict[int, int],
    early: set[int],
) -> list[Reason]:
    """The checker's violations as messages, one per kind, courier and item; a stop served
    outside its window is early or late as plan mode timed it."""
    out: dict[tuple[str, str], Reason] = {}
    for v in violations:
        stop = built.stops[v.stop] if 0 <= v.stop < len(built.stops) else None
        courier = labels[v.route] if 0 <= v.route < len(labels) else ""
        params: dict[str, object] = {"courier": courier}
        if stop is not None:
            params.update(item=stop.item_number, sequence=seq_of.get(v.stop, 0))
        code = {
            ViolationKind.TIME_WINDOW: "edit_late_stop",
            ViolationKind.DESK_HOURS: "edit_desk_closed",
            ViolationKind.CAPACITY: "edit_capacity",
            ViolationKind.SHIFT_END: "edit_shift_end",
            ViolationKind.SHIFT_START: "edit_shift_end",
            ViolationKind.BREAK: "edit_break",
            ViolationKind.PRECEDENCE: "edit_precedence",
            ViolationKind.PAIR_SPLIT: "edit_precedence",
        }.get(v.kind, "edit_rule_broken")
        if v.kind is ViolationKind.TIME_WINDOW and v.stop in early:
            code = "edit_early_stop"
        params["rule"] = str(v.kind)
        key = (code, f"{courier}|{params.get('item', '')}")
        out.setdefault(key, Reason(code, params))
    return list(out.values())


def _labels(stop: PlannedStop) -> str:
    return stop.desk_code if stop.place == StopPlace.desk else stop.booking_reference


def _lateness(problem: rm.Problem, s: int, start: int) -> tuple[int, bool]:
    stop = problem.stops[s]
    late = 0
    if stop.windows and not any(lo <= start <= hi for lo, hi in stop.windows):
        passed = [hi for lo, hi in stop.windows if hi < start]
        late = (start - max(passed) + 59) // 60 if passed else 0
    closed = False
    if stop.desk is not None:
        closed = not any(lo <= start <= hi for lo, hi in _windows(problem, s))
    return late, closed


@dataclass(frozen=True)
class _Scene:
    """What an edit works on: the routes it touches (the edited one first), their stops
    before and after it (by route id), their couriers, and the stops it moves."""

    plan: PlanRun
    office: PostOffice
    routes: list[PlannedRoute]
    before: dict[int, list[PlannedStop]]
    after: dict[int, list[PlannedStop]]
    couriers: dict[int, _Courier]
    moved: set[int]


@dataclass
class _Evaluation:
    preview: EditPreview
    routes: list[rm.Route]
    built: _Built


def _minutes(seconds: int) -> int:
    return (seconds + 59) // 60


def _evaluate(session: Session, settings: Settings, scene: _Scene) -> _Evaluation:
    plan, office, routes, couriers = scene.plan, scene.office, scene.routes, scene.couriers
    before, after, moved = scene.before, scene.after, scene.moved
    tz = ZoneInfo(settings.timezone)
    stops = [s for r in routes for s in before[r.id or 0]]
    order = [couriers[r.id or 0] for r in routes]
    built = _build(session, settings, plan, office, stops, order, tz)
    problem = built.problem
    prep = prepare(problem)
    new_routes, previews = [], []
    labels = [c.label for c in order]
    seq_of: dict[int, int] = {}
    early: set[int] = set()
    for k, r in enumerate(routes):
        rid = r.id or 0
        seq = [built.index[s.id or 0] for s in after[rid]]
        # Both orders are timed by plan mode, so before and after compare like with like.
        old = timed_route(prep, k, [built.index[s.id or 0] for s in before[rid]]).route
        timed = timed_route(prep, k, seq)
        new = timed.route
        new_routes.append(new)
        shown = []
        for pos, (stop, visit, found) in enumerate(
            zip(after[rid], new.visits, timed.stops, strict=True), start=1
        ):
            seq_of[visit.stop] = pos
            closed = _lateness(problem, visit.stop, visit.start)[1]
            if found.lead:
                early.add(visit.stop)
            shown.append(
                StopPreview(
                    stop_id=stop.id or 0,
                    sequence=pos,
                    item_number=stop.item_number,
                    kind=stop.kind,
                    place=str(stop.place),
                    label=_labels(stop),
                    arrival_at=_at(plan.date, visit.arrival, tz),
                    start_at=_at(plan.date, visit.start, tz),
                    window_start=stop.window_start,
                    window_end=stop.window_end,
                    # A desk reached closed says so; the minutes are for a citizen's window.
                    late_min=0 if closed else _minutes(found.delay),
                    desk_closed=closed,
                    moved=(stop.id or 0) in moved,
                    early_min=0 if closed else _minutes(found.lead),
                )
            )
        courier = problem.couriers[k]
        previews.append(
            RoutePreview(
                route_id=rid,
                courier_user_id=couriers[rid].user_id,
                courier_label=couriers[rid].label,
                stops=tuple(shown),
                distance_before_m=old.distance if old.visits else 0,
                distance_after_m=new.distance if new.visits else 0,
                duration_before_s=old.end - old.start if old.visits else 0,
                duration_after_s=new.end - new.start if new.visits else 0,
                start_at=_at(plan.date, new.start, tz),
                end_at=_at(plan.date, new.end, tz),
                shift_end_at=_at(plan.date, courier.shift[1], tz),
                max_load=max((v.load_after for v in new.visits), default=0),
                capacity=courier.capacity,
            )
        )
    # The verdict is the independent checker's, on the edited routes as they would be saved.
    violations = check_plan(problem, rm.Plan(routes=tuple(new_routes)))
    reasons = _reasons(violations, built, labels, seq_of, early)
    return _Evaluation(EditPreview(tuple(previews), tuple(reasons)), new_routes, built)


def _courier_of(
    session: Session, settings: Settings, plan: PlanRun, route: PlannedRoute
) -> _Courier:
    shift = default_shift(settings)
    if route.courier_user_id is not None:
        try:
            entry = courier_entry(
                session, settings, route.post_office_code, plan.date, route.courier_user_id
            )
            shift = (entry.start, entry.end)
        except ValidationFailed:  # the account left the office since: the default shift
            pass
    return _Courier(route.courier_user_id, route.courier_label, shift)


def _editable(route: PlannedRoute, plan: PlanRun) -> None:
    if plan.status != PlanStatus.done:
        raise Conflict("plan_not_done")
    if route.locked:
        raise Conflict("route_locked")


def _prepare(session: Session, settings: Settings, route: PlannedRoute, edit: Edit) -> _Scene:
    plan = service.get_plan(session, route.plan_id)
    _editable(route, plan)
    office = session.get(PostOffice, route.post_office_code)
    assert office is not None and route.id is not None
    routes = [route]
    before = {route.id: service.route_stops(session, route.id)}
    after = {route.id: list(before[route.id])}
    couriers = {route.id: _courier_of(session, settings, plan, route)}
    moved: set[int] = set()
    chosen = [x is not None for x in (edit.order, edit.move_item, edit.courier_user_id)]
    if sum(chosen) != 1:
        raise ValidationFailed("edit_needs_one_change", field="order")
    if edit.order is not None:
        ids = [s.id for s in before[route.id]]
        if sorted(edit.order) != sorted(i for i in ids if i is not None):
            raise ValidationFailed("order_not_the_route_stops", field="order")
        by_id = {s.id: s for s in before[route.id]}
        after[route.id] = [by_id[i] for i in edit.order]
        moved = {i for i, j in zip(edit.order, ids, strict=True) if i != j}
    elif edit.move_item is not None:
        target = session.get(PlannedRoute, edit.to_route_id) if edit.to_route_id else None
        if (
            target is None
            or target.id == route.id
            or target.plan_id != route.plan_id
            or target.post_office_code != route.post_office_code
        ):
            raise ValidationFailed("route_not_in_plan_office", field="to_route_id")
        _editable(target, plan)
        assert target.id is not None
        item = [s for s in before[route.id] if s.item_number == edit.move_item]
        if not item:
            raise ValidationFailed("item_not_on_route", field="move_item")
        routes.append(target)
        before[target.id] = service.route_stops(session, target.id)
        after[route.id] = [s for s in before[route.id] if s.item_number != edit.move_item]
        after[target.id] = list(before[target.id])
        couriers[target.id] = _courier_of(session, settings, plan, target)
        moved = {s.id for s in item if s.id is not None}
        scene = _Scene(plan, office, routes, before, after, couriers, moved)
        after[target.id] = _best_insertion(session, settings, scene, target.id, item)
    else:
        assert edit.courier_user_id is not None
        entry = courier_entry(
            session, settings, route.post_office_code, plan.date, edit.courier_user_id
        )
        if not entry.available:
            raise Conflict("courier_unavailable", field="courier_user_id")
        taken = session.exec(
            select(PlannedRoute.id).where(
                PlannedRoute.plan_id == route.plan_id,
                PlannedRoute.courier_user_id == edit.courier_user_id,
                PlannedRoute.id != route.id,
            )
        ).first()
        if taken is not None:
            raise Conflict("courier_has_route", field="courier_user_id")
        couriers[route.id] = _Courier(entry.user_id, entry.full_name, (entry.start, entry.end))
    return _Scene(plan, office, routes, before, after, couriers, moved)


def _best_insertion(
    session: Session, settings: Settings, scene: _Scene, target_id: int, item: list[PlannedStop]
) -> list[PlannedStop]:
    """The target's stops with the item's pickup and delivery where they cost least: fewest
    late stops first, then fewest metres (pickup always before its delivery)."""
    tz = ZoneInfo(settings.timezone)
    pickup = next(s for s in item if s.kind == "pickup")
    delivery = next(s for s in item if s.kind != "pickup")
    base = scene.after[target_id]
    stops = [*base, pickup, delivery]
    courier = scene.couriers[target_id]
    built = _build(session, settings, scene.plan, scene.office, stops, [courier], tz)
    problem = built.problem
    best: tuple[tuple[int, int], list[PlannedStop]] | None = None
    n = len(base)
    for i in range(n + 1):
        for j in range(i, n + 1):
            seq = [*base[:i], pickup, *base[i:j], delivery, *base[j:]]
            route = schedule(problem, 0, [built.index[s.id or 0] for s in seq])
            bad = sum(
                1
                for v in route.visits
                if any(_lateness(problem, v.stop, v.start)) or v.load_after > courier_cap(problem)
            )
            bad += route.end > problem.couriers[0].shift[1]
            score = (bad, route.distance)
            if best is None or score < best[0]:
                best = (score, seq)
    assert best is not None
    return best[1]


def courier_cap(problem: rm.Problem) -> int:
    """The capacity of the problem's first courier."""
    return problem.couriers[0].capacity


def preview_edit(
    session: Session, settings: Settings, route: PlannedRoute, edit: Edit
) -> EditPreview:
    """The consequences of ``edit`` on ``route`` (and the route it moves an item to);
    nothing is written."""
    return _evaluate(session, settings, _prepare(session, settings, route, edit)).preview


def apply_edit(
    session: Session, settings: Settings, route: PlannedRoute, edit: Edit, confirm: bool
) -> EditPreview:
    """Save ``edit`` after the independent checker has seen it: an infeasible edit is 409
    ``edit_infeasible`` (one error per reason) unless ``confirm``. Routes left without
    stops are removed; the plan's totals follow. The caller commits."""
    scene = _prepare(session, settings, route, edit)
    plan, routes, after, couriers = scene.plan, scene.routes, scene.after, scene.couriers
    evaluation = _evaluate(session, settings, scene)
    preview = evaluation.preview
    if not preview.feasible and not confirm:
        raise Conflict(
            "edit_infeasible",
            field="confirm",
            errors=[
                {"field": "confirm", "code": r.code, "params": dict(r.params)}
                for r in preview.reasons
            ],
        )
    tz = ZoneInfo(settings.timezone)
    emptied = []
    for row, timed in zip(routes, evaluation.routes, strict=True):
        rid = row.id or 0
        courier = couriers[rid]
        row.courier_user_id, row.courier_label = courier.user_id, courier.label
        if not after[rid]:
            emptied.append(row)
            continue
        for seq, (stop, visit) in enumerate(zip(after[rid], timed.visits, strict=True), start=1):
            stop.route_id = rid
            stop.sequence = seq
            stop.arrival_at = _at(plan.date, visit.arrival, tz)
            stop.start_at = _at(plan.date, visit.start, tz)
            stop.departure_at = _at(plan.date, visit.departure, tz)
            stop.load_after = visit.load_after
            session.add(stop)
        row.start_at = _at(plan.date, timed.start, tz)
        row.end_at = _at(plan.date, timed.end, tz)
        row.break_at = (
            _at(plan.date, timed.break_start, tz) if timed.break_start is not None else None
        )
        row.distance_m = timed.distance
        row.duration_s = timed.end - timed.start
        row.stop_count = len(after[rid])
        session.add(row)
    session.flush()  # the stops are on their new routes before an emptied route goes
    for row in emptied:
        session.delete(row)
    service.refresh_totals(session, plan)
    return preview
