"""The dispatcher's page: plan a date and post offices, follow progress, routes, lock, re-plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.ui_common import (
    error_text,
    map_page,
    page_principal,
    road_graph,
    to_login,
    translator,
)
from maps.render import overview_map, route_map
from maps.types import MapRoute, MapStop, Overview, Point, UnassignedPoint
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import PostOffice
from postal.errors import PostalError, ValidationFailed
from postal.i18n import message
from postal.planning import service as planning
from postal.planning.models import PlannedRoute, PlannedStop, PlanRun, PlanStatus, StopPlace
from postal.worker.enqueue import defer_plan

router = APIRouter(include_in_schema=False)
_POLL_SECONDS = 2


def _dispatcher(request: Request, session: Session) -> Principal | None:
    return page_principal(request, session, Role.dispatcher, Role.admin)


def _offices(session: Session, principal: Principal) -> list[PostOffice]:
    query = select(PostOffice).order_by(col(PostOffice.code))
    if principal.role != Role.admin:
        query = query.where(col(PostOffice.code).in_(principal.post_office_codes))
    return list(session.exec(query).all())


def _plans(session: Session, principal: Principal, day: dt.date) -> list[PlanRun]:
    rows = session.exec(
        select(PlanRun).where(PlanRun.date == day).order_by(col(PlanRun.id).desc())
    ).all()
    out = []
    for plan in rows:
        try:
            planning.authorise_plan(principal, plan)
        except PostalError:
            continue
        out.append(plan)
    return out


def _default_day(session: Session, now: dt.datetime) -> dt.date:
    return catalogue.work_calendar(session).next_working_day(to_local(now).date())


@router.get("/dispatcher", response_class=HTMLResponse)
def dispatcher_home(request: Request, session: SessionDep, lang: LangDep, now: NowDep) -> Response:
    """Choose a date and post offices; the date's plans."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    raw = request.query_params.get("date")
    try:
        day = dt.date.fromisoformat(raw) if raw else _default_day(session, now)
    except ValueError:
        day = _default_day(session, now)
    ctx = {
        "principal": principal,
        "day": day,
        "offices": _offices(session, principal),
        "plans": _plans(session, principal, day),
        "error": None,
    }
    session.commit()
    return _render(request, "dispatcher.html", lang, ctx)


@router.post("/dispatcher/plans", response_class=HTMLResponse)
async def dispatcher_start(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Start planning the chosen date and post offices in the background."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    codes = [str(c) for c in form.getlist("post_office_codes")]
    day = _default_day(session, now)
    try:
        day = _form_value(form.get("date"), dt.date.fromisoformat, "date", day)
        limit = _form_value(
            form.get("time_limit_s"), float, "time_limit_s", settings.plan_time_limit_s
        )
        plan = planning.start_plan(session, principal, day, codes, limit)
        session.commit()
    except PostalError as exc:
        session.rollback()
        ctx = {
            "principal": principal,
            "day": day,
            "offices": _offices(session, principal),
            "plans": _plans(session, principal, day),
            "error": error_text(exc, lang),
        }
        session.commit()
        return _render(request, "dispatcher.html", lang, ctx, status=exc.status)
    assert plan.id is not None
    await run_in_threadpool(defer_plan, settings, plan.id)
    return RedirectResponse(f"/dispatcher/plans/{plan.id}", status_code=303)


T = TypeVar("T")


def _form_value(raw: object, parse: Callable[[str], T], field: str, default: T) -> T:
    """A form field parsed, its default when empty; 422 naming the field when malformed."""
    if raw in (None, ""):
        return default
    try:
        return parse(str(raw))
    except ValueError as exc:
        code = "invalid_date" if field == "date" else "invalid_value"
        raise ValidationFailed(code, field=field) from exc


def _plan_for(session: Session, principal: Principal, plan_id: int) -> PlanRun:
    plan = planning.get_plan(session, plan_id)
    planning.authorise_plan(principal, plan)
    return plan


@router.get("/dispatcher/plans/{plan_id}", response_class=HTMLResponse)
def dispatcher_plan(
    request: Request, plan_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """A plan: progress while it runs (the page refreshes itself), then routes and the map."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        plan = _plan_for(session, principal, plan_id)
    except PostalError:
        return RedirectResponse("/dispatcher", status_code=303)
    routes = planning.plan_routes(session, plan_id)
    ctx: dict[str, Any] = {
        "principal": principal,
        "plan": plan,
        "routes": routes,
        "local": lambda v: to_local(v, settings.timezone),
        "unassigned": planning.unassigned(session, plan_id),
        "running": plan.status in (PlanStatus.queued, PlanStatus.running),
        "error": None,
        "notice": message(f"ui.dispatcher.done.{request.query_params['done']}", lang)
        if request.query_params.get("done") in ("locked", "cancelled")
        else None,
    }
    session.commit()
    response = _render(request, "dispatcher_plan.html", lang, ctx)
    if ctx["running"]:
        # The progress indicator without JavaScript: the browser reloads the page.
        response.headers["Refresh"] = str(_POLL_SECONDS)
    return response


@router.post("/dispatcher/plans/{plan_id}/cancel", response_class=HTMLResponse)
def dispatcher_cancel(request: Request, plan_id: DbId, session: SessionDep) -> Response:
    """Cancel a running plan."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        planning.cancel_plan(session, _plan_for(session, principal, plan_id))
        session.commit()
    except PostalError:
        session.rollback()
    return RedirectResponse(f"/dispatcher/plans/{plan_id}?done=cancelled", status_code=303)


@router.post("/dispatcher/plans/{plan_id}/replan", response_class=HTMLResponse)
def dispatcher_replan(
    request: Request, plan_id: DbId, session: SessionDep, settings: SettingsDep
) -> Response:
    """Plan again what is not locked (urgent bookings, a courier dropping out)."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        old = _plan_for(session, principal, plan_id)
        plan = planning.start_plan(
            session, principal, old.date, old.offices(), settings.plan_time_limit_s, replans=old
        )
        session.commit()
    except PostalError:
        session.rollback()
        return RedirectResponse(f"/dispatcher/plans/{plan_id}", status_code=303)
    assert plan.id is not None
    defer_plan(settings, plan.id)
    return RedirectResponse(f"/dispatcher/plans/{plan.id}", status_code=303)


@router.post("/dispatcher/routes/{route_id}/lock", response_class=HTMLResponse)
def dispatcher_lock(request: Request, route_id: DbId, session: SessionDep) -> Response:
    """Lock a dispatched route: re-planning keeps it."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    route = planning.get_route(session, principal, route_id)
    planning.lock_route(session, route)
    session.commit()
    return RedirectResponse(f"/dispatcher/plans/{route.plan_id}?done=locked", status_code=303)


def _map_route(session: Session, route: PlannedRoute, stops: list[PlannedStop]) -> MapRoute:
    office = session.get(PostOffice, route.post_office_code)
    assert office is not None
    return MapRoute(
        courier_label=route.courier_label,
        color=route.color,
        depot=Point(office.lat, office.lon),
        depot_label=office.name,
        route_id=route.id,
        stops=tuple(
            MapStop(
                sequence=s.sequence,
                point=Point(s.lat, s.lon),
                kind="pickup" if s.kind == "pickup" else "delivery",
                place="desk" if s.place == StopPlace.desk else "citizen",
                eta=to_local(s.arrival_at).replace(tzinfo=None),
                label=s.desk_code if s.place == StopPlace.desk else s.booking_reference,
                item_numbers=(s.item_number,),
            )
            for s in stops
        ),
    )


@router.get("/dispatcher/plans/{plan_id}/map", response_class=HTMLResponse)
def dispatcher_plan_map(
    request: Request, plan_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """The overview map of a plan: a layer per courier, unassigned flagged, commune outlines."""
    principal = _dispatcher(request, session)
    if principal is None:
        return HTMLResponse("", status_code=401)
    try:
        _plan_for(session, principal, plan_id)
    except PostalError:
        return HTMLResponse("", status_code=404)
    routes = planning.plan_routes(session, plan_id)
    mapped = tuple(_map_route(session, r, planning.route_stops(session, r.id or 0)) for r in routes)
    left = tuple(
        UnassignedPoint(Point(u.lat, u.lon), u.item_number, u.reason)
        for u in planning.unassigned(session, plan_id)
    )
    session.commit()
    boundaries: tuple[dict[str, Any], ...] = ()
    try:
        from postal.geo.boundaries import CommuneBoundaries

        outlines = CommuneBoundaries.load(settings.data_dir, "hanoi")
        boundaries = tuple(outlines.geojson(c) for c in outlines.codes())
    except PostalError:
        boundaries = ()
    overview = Overview(routes=mapped, unassigned=left, boundaries=boundaries)
    return map_page(overview_map(overview, t=translator(lang)))


@router.get("/dispatcher/routes/{route_id}", response_class=HTMLResponse)
def dispatcher_route(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """One courier's route: ordered stops with times."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    route = planning.get_route(session, principal, route_id)
    stops = planning.route_stops(session, route_id)
    ctx = {
        "route": route,
        "stops": stops,
        "local": lambda v: to_local(v, settings.timezone),
    }
    session.commit()
    return _render(request, "dispatcher_route.html", lang, ctx)


@router.get("/dispatcher/routes/{route_id}/map", response_class=HTMLResponse)
def dispatcher_route_map(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """One route's map."""
    principal = _dispatcher(request, session)
    if principal is None:
        return HTMLResponse("", status_code=401)
    route = planning.get_route(session, principal, route_id)
    mapped = _map_route(session, route, planning.route_stops(session, route_id))
    session.commit()
    return map_page(route_map(mapped, graph=road_graph(settings), t=translator(lang)))
