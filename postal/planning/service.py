"""Planning jobs: start, run in the background, persist; read routes; lock and re-plan."""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import Principal
from postal.catalogue import service as catalogue
from postal.catalogue.models import PostOffice
from postal.db import utcnow
from postal.errors import Conflict, Forbidden, NotFound, ValidationFailed
from postal.planning.models import (
    PlannedRoute,
    PlannedStop,
    PlanOffice,
    PlanRun,
    PlanStatus,
    UnassignedStop,
)
from postal.planning.problem import OfficeProblem, plannable_items
from postal.routing import model as rm

log = logging.getLogger("postal.planning")

# Distinct, print-safe colours for couriers' routes on maps.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
)
ACTIVE = (PlanStatus.queued, PlanStatus.running)
MAX_TIME_LIMIT_S = 600.0  # a part's budget; the API and the pages refuse more


def _dispatcher_offices(principal: Principal, codes: list[str]) -> None:
    if principal.role == Role.admin:
        return
    if principal.role != Role.dispatcher:
        raise Forbidden("role_not_allowed")
    if not set(codes) <= principal.post_office_codes:
        raise Forbidden("post_office_not_yours")


def start_plan(
    session: Session,
    principal: Principal,
    day: dt.date,
    post_office_codes: list[str],
    time_limit_s: float,
    replans: PlanRun | None = None,
    unavailable: frozenset[int] | set[int] = frozenset(),
    seed: int | None = None,
) -> PlanRun:
    """Write a queued plan for a date and post offices with everything its tasks need.

    Refused before anything is written: unknown or foreign post offices (422/403), a day
    off (422 ``day_closed``), nothing to carry (422 ``nothing_to_plan``) and another active
    plan for one of the offices (409 ``plan_running``, which the database's partial unique
    index on ``plan_office`` also enforces between processes). The caller commits, then
    enqueues the plan (``postal.worker.enqueue.defer_plan``).
    """
    if not (math.isfinite(time_limit_s) and 0 < time_limit_s <= MAX_TIME_LIMIT_S):
        raise ValidationFailed("invalid_value", field="time_limit_s")
    codes = sorted(set(post_office_codes))
    if not codes:
        raise ValidationFailed("post_office_codes_required", field="post_office_codes")
    for code in codes:
        if session.get(PostOffice, code) is None:
            raise ValidationFailed("unknown_post_office", field="post_office_codes")
    _dispatcher_offices(principal, codes)
    if not catalogue.work_calendar(session).is_working_day(day):
        raise ValidationFailed("day_closed", field="date", date=day.isoformat())
    busy = session.exec(
        select(PlanOffice.post_office_code).where(
            PlanOffice.date == day,
            col(PlanOffice.active).is_(True),
            col(PlanOffice.post_office_code).in_(codes),
        )
    ).first()
    if busy is not None:
        raise Conflict("plan_running", field="post_office_codes")
    locked = bool(replans and _locked_routes(session, replans))
    if not locked and not any(plannable_items(session, day, code, set()) for code in codes):
        raise ValidationFailed("nothing_to_plan", field="date", date=day.isoformat())
    plan = PlanRun(
        date=day,
        post_office_codes=",".join(codes),
        status=PlanStatus.queued,
        replans_id=replans.id if replans else None,
        created_by=principal.user_id,
        time_limit_s=time_limit_s,
        unavailable_courier_ids=",".join(str(c) for c in sorted(unavailable)),
    )
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
            assert plan.id is not None
            plan.seed = plan.id if seed is None else seed
            for code in codes:
                session.add(PlanOffice(plan_id=plan.id, date=day, post_office_code=code))
            session.flush()
    except IntegrityError as exc:  # another process started a plan for an office meanwhile
        raise Conflict("plan_running", field="post_office_codes") from exc
    return plan


def _local_dt(day: dt.date, seconds: int, tz: ZoneInfo) -> dt.datetime:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return (midnight + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)


def _locked_routes(session: Session, plan: PlanRun) -> list[PlannedRoute]:
    if plan.replans_id is None:
        return []
    return list(
        session.exec(
            select(PlannedRoute).where(
                PlannedRoute.plan_id == plan.replans_id, col(PlannedRoute.locked).is_(True)
            )
        ).all()
    )


def _copy_locked(session: Session, plan: PlanRun, routes: list[PlannedRoute]) -> set[str]:
    """Carry dispatched routes over unchanged; return their item numbers."""
    carried: set[str] = set()
    assert plan.id is not None
    for old in routes:
        new = PlannedRoute(
            **old.model_dump(exclude={"id", "plan_id"}),
            plan_id=plan.id,
        )
        session.add(new)
        session.flush()
        assert new.id is not None
        for stop in session.exec(select(PlannedStop).where(PlannedStop.route_id == old.id)).all():
            carried.add(stop.item_number)
            session.add(
                PlannedStop(
                    **stop.model_dump(exclude={"id", "route_id", "plan_id"}),
                    route_id=new.id,
                    plan_id=plan.id,
                )
            )
    return carried


def persist_office_plan(
    session: Session,
    plan: PlanRun,
    office_problem: OfficeProblem,
    result: rm.Plan,
    tz: ZoneInfo,
    colour_offset: int,
) -> int:
    """Write one post office's routes, stops and unassigned stops; return routes written."""
    assert plan.id is not None
    problem = office_problem.problem
    written = 0
    for route in result.routes:
        if not route.visits:
            continue
        slot = office_problem.couriers[route.courier]
        row = PlannedRoute(
            plan_id=plan.id,
            post_office_code=office_problem.office.code,
            courier_user_id=slot.user_id,
            courier_label=slot.label,
            color=PALETTE[(colour_offset + written) % len(PALETTE)],
            start_at=_local_dt(plan.date, route.start, tz),
            end_at=_local_dt(plan.date, route.end, tz),
            break_at=_local_dt(plan.date, route.break_start, tz)
            if route.break_start is not None
            else None,
            distance_m=route.distance,
            duration_s=route.end - route.start,
            stop_count=len(route.visits),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for seq, visit in enumerate(route.visits, start=1):
            stop = problem.stops[visit.stop]
            info = office_problem.stops[visit.stop]
            window = stop.windows[0] if stop.windows else None
            session.add(
                PlannedStop(
                    route_id=row.id,
                    plan_id=plan.id,
                    sequence=seq,
                    kind=str(stop.kind),
                    place=info.place,
                    item_number=info.item_number,
                    booking_reference=info.booking_reference,
                    desk_code=info.desk_code,
                    lat=info.lat,
                    lon=info.lon,
                    arrival_at=_local_dt(plan.date, visit.arrival, tz),
                    start_at=_local_dt(plan.date, visit.start, tz),
                    departure_at=_local_dt(plan.date, visit.departure, tz),
                    window_start=_local_dt(plan.date, window[0], tz) if window else None,
                    window_end=_local_dt(plan.date, window[1], tz) if window else None,
                    load_after=visit.load_after,
                )
            )
        plan.couriers_used += 1
        plan.distance_m += route.distance
        plan.duration_s += route.end - route.start
        written += 1
    for left in result.unassigned:
        stop = problem.stops[left.stop]
        info = office_problem.stops[left.stop]
        session.add(
            UnassignedStop(
                plan_id=plan.id,
                item_number=info.item_number,
                booking_reference=info.booking_reference,
                kind=str(stop.kind),
                place=info.place,
                lat=info.lat,
                lon=info.lon,
                reason=str(left.reason),
                post_office_code=office_problem.office.code,
            )
        )
    plan.stop_count += len(problem.stops)
    plan.unassigned_count += len(result.unassigned)
    return written


def get_plan(session: Session, plan_id: int) -> PlanRun:
    """A plan by id; 404 when unknown."""
    plan = session.get(PlanRun, plan_id)
    if plan is None:
        raise NotFound("unknown_plan")
    return plan


def authorise_plan(principal: Principal, plan: PlanRun) -> None:
    """Dispatchers see the plans of their post offices (only their offices' part of them:
    ``visible_offices``); admins all."""
    if principal.role == Role.admin:
        return
    if principal.role == Role.dispatcher and set(plan.offices()) & principal.post_office_codes:
        return
    raise NotFound("unknown_plan")


def visible_offices(principal: Principal, plan: PlanRun) -> set[str]:
    """The post offices of a plan whose routes, stops and left-outs the principal sees: all
    for an admin, their own for a dispatcher (a plan may cover several offices)."""
    if principal.role == Role.admin:
        return set(plan.offices())
    if principal.role == Role.dispatcher:
        return set(plan.offices()) & set(principal.post_office_codes)
    return set()


@dataclass(frozen=True)
class PlanSummary:
    """A plan's totals over the routes shown (carried-over locked routes included) and the
    stops left out, so that the summary always adds up to its table."""

    couriers: int
    routed_stops: int
    unassigned_stops: int
    distance_m: int
    duration_s: int

    @property
    def stops(self) -> int:
        """Every stop of the plan: routed or left out."""
        return self.routed_stops + self.unassigned_stops


def summarise(routes: list[PlannedRoute], left_out: list[UnassignedStop]) -> PlanSummary:
    """The totals of exactly these routes and left-out stops."""
    return PlanSummary(
        couriers=sum(1 for r in routes if r.stop_count),
        routed_stops=sum(r.stop_count for r in routes),
        unassigned_stops=len(left_out),
        distance_m=sum(r.distance_m for r in routes),
        duration_s=sum(r.duration_s for r in routes),
    )


def plan_summary(session: Session, plan: PlanRun, offices: set[str] | None = None) -> PlanSummary:
    """The totals of the plan's rows (of ``offices`` only when given)."""
    assert plan.id is not None
    return summarise(plan_routes(session, plan.id, offices), unassigned(session, plan.id, offices))


def refresh_totals(session: Session, plan: PlanRun) -> None:
    """Set the plan's stored totals from its rows (after parts, carried routes and edits)."""
    session.flush()
    totals = plan_summary(session, plan)
    plan.couriers_used = totals.couriers
    plan.distance_m = totals.distance_m
    plan.duration_s = totals.duration_s
    plan.stop_count = totals.stops
    plan.unassigned_count = totals.unassigned_stops
    session.add(plan)


def finish_plan(session: Session, plan: PlanRun, status: PlanStatus, message: str = "") -> None:
    """End a plan: its status, the time, and its post offices free for the next plan."""
    plan.status = status
    plan.finished_at = utcnow()
    if message:
        plan.message = message[:500]
    session.add(plan)
    offices = session.exec(
        select(PlanOffice).where(PlanOffice.plan_id == plan.id, col(PlanOffice.active))
    ).all()
    for row in offices:
        row.active = False
        session.add(row)


def cancel_plan(session: Session, plan: PlanRun, principal: Principal | None = None) -> PlanRun:
    """Cancel a queued or running plan; its running parts stop within seconds (they watch
    the status) and write nothing. 409 once it has finished.

    A plan covering several post offices is one job: only a principal who may act for every
    one of its offices (an admin, or a dispatcher of all of them) cancels it; a dispatcher of
    only some of them is refused with 403 ``plan_has_other_offices`` and the plan runs on.
    """
    foreign = set(plan.offices()) - set(principal.post_office_codes) if principal else set()
    if principal is not None and principal.role != Role.admin and foreign:
        raise Forbidden("plan_has_other_offices")
    locked = lock_plan(session, plan.id or 0)
    if locked.status not in ACTIVE:
        raise Conflict("plan_finished")
    finish_plan(session, locked, PlanStatus.cancelled)
    return locked


def lock_plan(session: Session, plan_id: int) -> PlanRun:
    """The plan row, locked for this transaction on PostgreSQL (parts finishing at the same
    moment, or a cancel, wait for each other); 404 when unknown."""
    query = select(PlanRun).where(PlanRun.id == plan_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    plan = session.exec(query).first()
    if plan is None:
        raise NotFound("unknown_plan")
    return plan


def plan_routes(
    session: Session, plan_id: int, offices: set[str] | None = None
) -> list[PlannedRoute]:
    """The routes of a plan, in order (of ``offices`` only when given)."""
    query = select(PlannedRoute).where(PlannedRoute.plan_id == plan_id)
    if offices is not None:
        query = query.where(col(PlannedRoute.post_office_code).in_(sorted(offices)))
    return list(session.exec(query.order_by(col(PlannedRoute.id))).all())


def route_stops(session: Session, route_id: int) -> list[PlannedStop]:
    """The stops of a route in visit order."""
    return list(
        session.exec(
            select(PlannedStop)
            .where(PlannedStop.route_id == route_id)
            .order_by(col(PlannedStop.sequence))
        ).all()
    )


def unassigned(
    session: Session, plan_id: int, offices: set[str] | None = None
) -> list[UnassignedStop]:
    """The stops a plan left out, with reasons (of ``offices`` only when given)."""
    query = select(UnassignedStop).where(UnassignedStop.plan_id == plan_id)
    if offices is not None:
        query = query.where(col(UnassignedStop.post_office_code).in_(sorted(offices)))
    return list(session.exec(query.order_by(col(UnassignedStop.id))).all())


def get_route(session: Session, principal: Principal, route_id: int) -> PlannedRoute:
    """A route for its courier, a dispatcher of its post office or an admin; 404 otherwise."""
    route = session.get(PlannedRoute, route_id)
    if route is None:
        raise NotFound("unknown_route")
    if principal.role == Role.admin:
        return route
    if principal.role == Role.dispatcher and route.post_office_code in principal.post_office_codes:
        return route
    if principal.role == Role.courier and route.courier_user_id == principal.user_id:
        return route
    raise NotFound("unknown_route")


def lock_route(session: Session, route: PlannedRoute) -> PlannedRoute:
    """Mark a route dispatched: re-planning keeps it as it is."""
    route.locked = True
    session.add(route)
    if route.id is not None:  # tell the route's citizens the courier is on the way
        from postal.notify.citizen import enqueue_courier_on_way

        enqueue_courier_on_way(session, route.id, utcnow())
    return route


def unlock_route(session: Session, route: PlannedRoute) -> PlannedRoute:
    """Let a re-plan or a hand edit change the route again; 409 ``route_not_locked`` when
    it is not locked."""
    if not route.locked:
        raise Conflict("route_not_locked")
    route.locked = False
    session.add(route)
    return route


def courier_route(session: Session, principal: Principal, day: dt.date) -> PlannedRoute:
    """A courier's route on ``day`` in the newest finished plan; 404 when none."""
    if principal.role != Role.courier:
        raise Forbidden("role_not_allowed")
    row = session.exec(
        select(PlannedRoute)
        .join(PlanRun, col(PlanRun.id) == col(PlannedRoute.plan_id))
        .where(
            PlanRun.date == day,
            PlanRun.status == PlanStatus.done,
            PlannedRoute.courier_user_id == principal.user_id,
        )
        .order_by(col(PlanRun.id).desc())
    ).first()
    if row is None:
        raise NotFound("no_route_today")
    return row


def route_geojson(
    route: PlannedRoute, stops: list[PlannedStop], office: PostOffice
) -> dict[str, Any]:
    """The route as a GeoJSON FeatureCollection: the line and a point per stop ([lon, lat])."""
    line = [[office.lon, office.lat], *[[s.lon, s.lat] for s in stops], [office.lon, office.lat]]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {
                "route_id": route.id,
                "courier": route.courier_label,
                "color": route.color,
                "distance_m": route.distance_m,
            },
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [office.lon, office.lat]},
            "properties": {"role": "post_office", "code": office.code, "name": office.name},
        },
    ]
    for s in stops:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    "sequence": s.sequence,
                    "kind": s.kind,
                    "place": str(s.place),
                    "item_number": s.item_number,
                    "arrival_at": s.arrival_at.isoformat(),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
