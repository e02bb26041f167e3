"""The dispatcher's pages: plan a date and post offices, follow progress live, read and edit
routes (reorder, move an item, give a route to another courier: preview first), lock and
unlock, re-plan, print a courier's route sheet, and keep each office's courier roster.

A dispatcher sees and acts only on their own offices' routes, stops and left-out stops,
even in a plan that covers other offices too; admins see everything. Every page action is
an HTML form route (no JSON API client needs them); the progress of a running plan is a
small JSON reply the page's script polls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.ui_common import (
    commune_outlines,
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
from postal.config import Settings
from postal.errors import PostalError, ValidationFailed
from postal.i18n import message
from postal.planning import edits, roster
from postal.planning import service as planning
from postal.planning.models import (
    PlannedRoute,
    PlannedStop,
    PlanPart,
    PlanRun,
    PlanStatus,
    StopPlace,
)
from postal.planning.sheet import render_sheet
from postal.worker.enqueue import defer_plan

router = APIRouter(include_in_schema=False)
_NOTICES = ("locked", "unlocked", "cancelled", "saved", "roster")


def _dispatcher(request: Request, session: Session) -> Principal | None:
    return page_principal(request, session, Role.dispatcher, Role.admin)


def _own_route(
    request: Request, session: Session, route_id: int
) -> tuple[Principal, PlannedRoute] | Response:
    """The signed-in dispatcher and the route asked for; else where they are sent instead: to
    sign in, or to the dispatcher's home for a route that is not theirs (or none)."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        return principal, planning.get_route(session, principal, route_id)
    except PostalError:
        return RedirectResponse("/dispatcher", status_code=303)


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


def _query_day(request: Request, session: Session, now: dt.datetime) -> dt.date:
    raw = request.query_params.get("date")
    try:
        return dt.date.fromisoformat(raw) if raw else _default_day(session, now)
    except ValueError:
        return _default_day(session, now)


def _notice(request: Request, lang: str) -> str | None:
    done = request.query_params.get("done")
    return message(f"ui.dispatcher.done.{done}", lang) if done in _NOTICES else None


def _home_context(
    session: Session, settings: Settings, principal: Principal, day: dt.date
) -> dict[str, Any]:
    return {
        "principal": principal,
        "day": day,
        "offices": _offices(session, principal),
        "plans": _plans(session, principal, day),
        "time_limit": int(settings.plan_time_limit_s),
        "error": None,
    }


@router.get("/dispatcher", response_class=HTMLResponse)
def dispatcher_home(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Choose a date and post offices; the date's plans."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    ctx = _home_context(session, settings, principal, _query_day(request, session, now))
    session.commit()
    return _render(request, "dispatcher.html", lang, ctx)


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


def _start(
    session: Session, settings: Settings, principal: Principal, form: FormData, now: dt.datetime
) -> tuple[int | None, dict[str, Any], PostalError | None]:
    """Write the queued plan (in a worker thread: the event loop never waits on the database)."""
    codes = [str(c) for c in form.getlist("post_office_codes")]
    day = _default_day(session, now)
    try:
        day = _form_value(form.get("date"), dt.date.fromisoformat, "date", day)
        limit = _form_value(
            form.get("time_limit_s"), float, "time_limit_s", settings.plan_time_limit_s
        )
        plan = planning.start_plan(session, principal, day, codes, limit)
        session.commit()
        return plan.id, {}, None
    except PostalError as exc:
        session.rollback()
        ctx = _home_context(session, settings, principal, day)
        session.commit()
        return None, ctx, exc


@router.post("/dispatcher/plans", response_class=HTMLResponse)
async def dispatcher_start(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Start planning the chosen date and post offices in the background; answers at once
    with the plan's page (the worker plans; this process only writes and enqueues)."""
    principal = await run_in_threadpool(_dispatcher, request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    plan_id, ctx, exc = await run_in_threadpool(_start, session, settings, principal, form, now)
    if exc is not None:
        ctx["error"] = error_text(exc, lang)
        return _render(request, "dispatcher.html", lang, ctx, status=exc.status)
    assert plan_id is not None
    await run_in_threadpool(defer_plan, settings, plan_id)
    return RedirectResponse(f"/dispatcher/plans/{plan_id}", status_code=303)


def _plan_for(session: Session, principal: Principal, plan_id: int) -> PlanRun:
    plan = planning.get_plan(session, plan_id)
    planning.authorise_plan(principal, plan)
    return plan


def progress_of(session: Session, principal: Principal, plan: PlanRun, lang: str) -> dict[str, Any]:
    """A running plan's progress as the page shows it: parts done and stops planned (of the
    reader's offices)."""
    assert plan.id is not None
    offices = planning.visible_offices(principal, plan)
    stops = sum(
        p.stop_count
        for p in session.exec(
            select(PlanPart).where(
                PlanPart.plan_id == plan.id,
                col(PlanPart.post_office_code).in_(sorted(offices)),
            )
        ).all()
    )
    carried = sum(r.stop_count for r in planning.plan_routes(session, plan.id, offices) if r.locked)
    return {
        "status": str(plan.status),
        "status_text": message(f"ui.dispatcher.status.{plan.status}", lang),
        "progress": plan.progress,
        "parts_done": plan.parts_done,
        "parts_total": plan.parts_total,
        "stops_planned": stops + carried,
        "text": message(
            "dispatcher.progress",
            lang,
            done=plan.parts_done,
            total=plan.parts_total,
            stops=stops + carried,
        ),
        "finished": plan.status not in planning.ACTIVE,
    }


@router.get("/dispatcher/plans/{plan_id}", response_class=HTMLResponse)
def dispatcher_plan(
    request: Request, plan_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """A plan: live progress while it runs (the page's script polls), then its routes,
    summary (adding up to the table, carried-over locked routes included) and the map."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        plan = _plan_for(session, principal, plan_id)
    except PostalError:
        return RedirectResponse("/dispatcher", status_code=303)
    offices = planning.visible_offices(principal, plan)
    routes = planning.plan_routes(session, plan_id, offices)
    left = planning.unassigned(session, plan_id, offices)
    error = request.query_params.get("error")
    ctx: dict[str, Any] = {
        "principal": principal,
        "plan": plan,
        "offices": sorted(offices),
        "routes": routes,
        "summary": planning.summarise(routes, left),
        "local": lambda v: to_local(v, settings.timezone),
        "unassigned": left,
        "running": plan.status in planning.ACTIVE,
        "progress": progress_of(session, principal, plan, lang),
        "error": message(error, lang) if error == "plan_has_other_offices" else None,
        "notice": _notice(request, lang),
    }
    session.commit()
    return _render(request, "dispatcher_plan.html", lang, ctx)


@router.get("/dispatcher/plans/{plan_id}/progress")
def dispatcher_progress(
    request: Request, plan_id: DbId, session: SessionDep, lang: LangDep
) -> Response:
    """The plan's progress for the page's script (JSON; the page cookie signs in)."""
    principal = _dispatcher(request, session)
    if principal is None:
        return JSONResponse({"code": "unauthenticated"}, status_code=401)
    try:
        plan = _plan_for(session, principal, plan_id)
    except PostalError:
        return JSONResponse({"code": "unknown_plan"}, status_code=404)
    body = progress_of(session, principal, plan, lang)
    session.commit()
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/dispatcher/plans/{plan_id}/cancel", response_class=HTMLResponse)
def dispatcher_cancel(request: Request, plan_id: DbId, session: SessionDep) -> Response:
    """Cancel a running plan (every office of it must be the dispatcher's)."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        planning.cancel_plan(session, _plan_for(session, principal, plan_id), principal)
        session.commit()
    except PostalError as exc:
        session.rollback()
        if exc.code == "plan_has_other_offices":
            return RedirectResponse(
                f"/dispatcher/plans/{plan_id}?error={exc.code}", status_code=303
            )
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


def _back(request: Request, route: PlannedRoute, done: str) -> RedirectResponse:
    target = request.query_params.get("back")
    if target == "route":
        return RedirectResponse(f"/dispatcher/routes/{route.id}?done={done}", status_code=303)
    return RedirectResponse(f"/dispatcher/plans/{route.plan_id}?done={done}", status_code=303)


@router.post("/dispatcher/routes/{route_id}/lock", response_class=HTMLResponse)
def dispatcher_lock(request: Request, route_id: DbId, session: SessionDep) -> Response:
    """Lock a dispatched route: re-planning and hand edits keep it."""
    found = _own_route(request, session, route_id)
    if isinstance(found, Response):
        return found
    _, route = found
    planning.lock_route(session, route)
    session.commit()
    return _back(request, route, "locked")


@router.post("/dispatcher/routes/{route_id}/unlock", response_class=HTMLResponse)
def dispatcher_unlock(request: Request, route_id: DbId, session: SessionDep) -> Response:
    """Unlock a route: it may be edited and re-planned again."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    try:
        route = planning.get_route(session, principal, route_id)
        planning.unlock_route(session, route)
        session.commit()
    except PostalError:
        session.rollback()
        return RedirectResponse("/dispatcher", status_code=303)
    return _back(request, route, "unlocked")


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
    """The overview map of a plan (the reader's offices): a layer per courier, unassigned
    flagged, commune outlines."""
    principal = _dispatcher(request, session)
    if principal is None:
        return HTMLResponse("", status_code=401)
    try:
        plan = _plan_for(session, principal, plan_id)
    except PostalError:
        return HTMLResponse("", status_code=404)
    offices = planning.visible_offices(principal, plan)
    routes = planning.plan_routes(session, plan_id, offices)
    mapped = tuple(_map_route(session, r, planning.route_stops(session, r.id or 0)) for r in routes)
    left = tuple(
        UnassignedPoint(Point(u.lat, u.lon), u.item_number, u.reason)
        for u in planning.unassigned(session, plan_id, offices)
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


def _route_context(
    session: Session,
    settings: Settings,
    principal: Principal,
    route: PlannedRoute,
) -> dict[str, Any]:
    assert route.id is not None
    plan = planning.get_plan(session, route.plan_id)
    others = [
        r
        for r in planning.plan_routes(session, route.plan_id, {route.post_office_code})
        if r.id != route.id and not r.locked
    ]
    taken = {r.courier_user_id for r in planning.plan_routes(session, route.plan_id)}
    free = [
        e
        for e in roster.roster(session, settings, route.post_office_code, plan.date)
        if e.available and e.user_id not in taken
    ]
    return {
        "principal": principal,
        "plan": plan,
        "route": route,
        "stops": planning.route_stops(session, route.id),
        "other_routes": others,
        "free_couriers": free,
        "editable": plan.status == PlanStatus.done and not route.locked,
        "local": lambda v: to_local(v, settings.timezone),
        "preview": None,
        "edit": None,
        "error": None,
        "reasons": [],
        "notice": None,
    }


@router.get("/dispatcher/routes/{route_id}", response_class=HTMLResponse)
def dispatcher_route(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """One courier's route: ordered stops with times; reorder, move, reassign, lock, print."""
    found = _own_route(request, session, route_id)
    if isinstance(found, Response):
        return found
    principal, route = found
    ctx = _route_context(session, settings, principal, route)
    ctx["notice"] = _notice(request, lang)
    session.commit()
    return _render(request, "dispatcher_route.html", lang, ctx)


def _int(raw: object, field: str) -> int:
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ValidationFailed("invalid_value", field=field) from exc
    if not 1 <= value <= 2**31 - 1:
        raise ValidationFailed("invalid_value", field=field)
    return value


def edit_from_form(form: FormData, stops: list[PlannedStop]) -> edits.Edit:
    """The edit a route page's form asks for; 422 naming the field when malformed.

    ``action=reorder`` with a position ``pos_<stop id>`` per stop (ties keep the old order)
    or, from a preview, ``order`` (stop ids, comma-separated); ``action=move`` with
    ``move_item`` and ``to_route_id``; ``action=reassign`` with ``courier_user_id``.
    """
    action = form.get("action")
    if action == "reorder":
        if form.get("order"):
            return edits.Edit(
                order=tuple(_int(x, "order") for x in str(form.get("order")).split(","))
            )
        keyed = []
        for s in stops:
            raw = form.get(f"pos_{s.id}")
            pos = _int(raw, f"pos_{s.id}") if raw not in (None, "") else s.sequence
            # Moved onto a taken position, a stop goes before the stop that was there.
            keyed.append((pos, 0 if pos != s.sequence else 1, s.sequence, s.id or 0))
        return edits.Edit(order=tuple(k[3] for k in sorted(keyed)))
    if action == "move":
        return edits.Edit(
            move_item=str(form.get("move_item") or ""),
            to_route_id=_int(form.get("to_route_id"), "to_route_id"),
        )
    if action == "reassign":
        return edits.Edit(courier_user_id=_int(form.get("courier_user_id"), "courier_user_id"))
    raise ValidationFailed("invalid_choice", field="action")


def _edit_fields(edit: edits.Edit) -> dict[str, str]:
    """The hidden fields that carry an edit from its preview to its saving."""
    if edit.order is not None:
        return {"action": "reorder", "order": ",".join(str(i) for i in edit.order)}
    if edit.move_item is not None:
        return {
            "action": "move",
            "move_item": edit.move_item,
            "to_route_id": str(edit.to_route_id),
        }
    return {"action": "reassign", "courier_user_id": str(edit.courier_user_id)}


def _route_edit(
    request: Request,
    route_id: int,
    session: Session,
    settings: Settings,
    lang: str,
    form: FormData,
    save: bool,
) -> Response:
    found = _own_route(request, session, route_id)
    if isinstance(found, Response):
        return found
    principal, route = found
    ctx = _route_context(session, settings, principal, route)
    status = 200
    try:
        edit = edit_from_form(form, ctx["stops"])
        if edit.to_route_id is not None:
            planning.get_route(session, principal, edit.to_route_id)
        ctx["edit"] = _edit_fields(edit)
        if save:
            edits.apply_edit(session, settings, route, edit, form.get("confirm") == "yes")
            session.commit()
            return RedirectResponse(f"/dispatcher/routes/{route_id}?done=saved", status_code=303)
        ctx["preview"] = edits.preview_edit(session, settings, route, edit)
    except PostalError as exc:
        session.rollback()
        status = exc.status
        ctx["error"] = message(exc.code, lang, **exc.params)
        ctx["reasons"] = [message(e["code"], lang, **e.get("params", {})) for e in exc.errors]
        if exc.code == "edit_infeasible" and ctx["edit"] is not None:
            ctx["preview"] = edits.preview_edit(session, settings, route, edit)
        if route.id is not None and session.get(PlannedRoute, route.id) is None:
            return RedirectResponse(f"/dispatcher/plans/{route.plan_id}", status_code=303)
    session.commit()
    return _render(request, "dispatcher_route.html", lang, ctx, status=status)


@router.post("/dispatcher/routes/{route_id}/preview", response_class=HTMLResponse)
async def dispatcher_route_preview(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """The consequences of a hand edit, before anything is saved."""
    form = await request.form()
    return await run_in_threadpool(
        _route_edit, request, route_id, session, settings, lang, form, False
    )


@router.post("/dispatcher/routes/{route_id}/edit", response_class=HTMLResponse)
async def dispatcher_route_save(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """Save a hand edit after the independent checker: refused (409, with the reasons) when
    infeasible unless the dispatcher ticked the confirmation."""
    form = await request.form()
    return await run_in_threadpool(
        _route_edit, request, route_id, session, settings, lang, form, True
    )


@router.get("/dispatcher/routes/{route_id}/sheet.pdf")
def dispatcher_route_sheet(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """The courier's route sheet to print (PDF)."""
    found = _own_route(request, session, route_id)
    if isinstance(found, Response):
        return found
    _, route = found
    pdf = render_sheet(session, settings, route, lang)
    session.commit()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="route-{route_id}.pdf"'},
    )


@router.get("/dispatcher/routes/{route_id}/map", response_class=HTMLResponse)
def dispatcher_route_map(
    request: Request, route_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """One route's map."""
    principal = _dispatcher(request, session)
    if principal is None:
        return HTMLResponse("", status_code=401)
    try:
        route = planning.get_route(session, principal, route_id)
    except PostalError:
        return HTMLResponse("", status_code=404)
    mapped = _map_route(session, route, planning.route_stops(session, route_id))
    session.commit()
    outlines = commune_outlines(settings)  # the base layer that reads without tiles
    return map_page(
        route_map(mapped, graph=road_graph(settings), t=translator(lang), boundaries=outlines)
    )


def _roster_context(
    session: Session,
    settings: Settings,
    principal: Principal,
    office_code: str | None,
    day: dt.date,
) -> dict[str, Any]:
    offices = _offices(session, principal)
    codes = [o.code for o in offices]
    code = office_code if office_code in codes else (codes[0] if codes else None)
    return {
        "principal": principal,
        "offices": offices,
        "office_code": code,
        "day": day,
        "entries": roster.roster(session, settings, code, day) if code else [],
        "prev_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "errors": {},
        "error": None,
        "notice": None,
    }


@router.get("/dispatcher/roster", response_class=HTMLResponse)
def dispatcher_roster(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """The courier roster of a post office on a date: each courier's shift and availability."""
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    day = _query_day(request, session, now)
    ctx = _roster_context(session, settings, principal, request.query_params.get("office"), day)
    ctx["notice"] = _notice(request, lang)
    session.commit()
    return _render(request, "dispatcher_roster.html", lang, ctx)


def _save_roster(
    request: Request,
    session: Session,
    settings: Settings,
    lang: str,
    now: dt.datetime,
    form: FormData,
) -> Response:
    principal = _dispatcher(request, session)
    if principal is None:
        return to_login(request)
    code = str(form.get("office") or "")
    try:
        day = _form_value(form.get("date"), dt.date.fromisoformat, "date", None)
        if day is None:
            raise ValidationFailed("field_required", field="date")
        changes = [
            roster.ShiftChange(
                user_id=_int(raw, "user_id"),
                start=str(form.get(f"start_{raw}") or ""),
                end=str(form.get(f"end_{raw}") or ""),
                available=form.get(f"available_{raw}") == "yes",
            )
            for raw in form.getlist("user_id")
        ]
        roster.save_roster(session, principal, code, day, changes)
        session.commit()
    except PostalError as exc:
        session.rollback()
        ctx = _roster_context(session, settings, principal, code, _query_day(request, session, now))
        if isinstance(form.get("date"), str):
            with contextlib.suppress(ValueError, PostalError):
                ctx = _roster_context(
                    session, settings, principal, code, dt.date.fromisoformat(str(form["date"]))
                )
        text = message(exc.code, lang, **exc.params)
        ctx["error"] = text
        if exc.field:
            ctx["errors"] = {exc.field: text}
        session.commit()
        return _render(request, "dispatcher_roster.html", lang, ctx, status=exc.status)
    return RedirectResponse(
        f"/dispatcher/roster?office={code}&date={day.isoformat()}&done=roster", status_code=303
    )


@router.post("/dispatcher/roster", response_class=HTMLResponse)
async def dispatcher_roster_save(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Save the shifts and availability of the office's couriers on the date."""
    form = await request.form()
    return await run_in_threadpool(_save_roster, request, session, settings, lang, now, form)
