"""Plans and routes: dispatchers plan a day and re-plan; couriers read their own route."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from api.deps import DbId, LangDep, NowDep, PrincipalDep, SessionDep, SettingsDep, roles
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.calendar import to_local
from postal.catalogue.models import PostOffice
from postal.errors import NotFound
from postal.i18n import message
from postal.planning import edits, service
from postal.planning.models import PlannedRoute, PlannedStop, PlanRun, PlanStatus
from postal.planning.sheet import render_sheet
from postal.worker.enqueue import defer_plan

router = APIRouter(tags=["planning"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong credentials", **_PROBLEM},
    403: {"description": "The role or post office does not admit this", **_PROBLEM},
    404: {"description": "Unknown plan or route", **_PROBLEM},
    409: {"description": "A plan runs for this date and area (`plan_running`)", **_PROBLEM},
    422: {"description": "An invalid field", **_PROBLEM},
}
Dispatcher = Annotated[Principal, Depends(roles(Role.dispatcher, Role.admin))]


class PlanCreate(BaseModel):
    """Plan a date for some post offices."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"date": "2026-12-08", "post_office_codes": ["115100"]}]},
    )
    date: dt.date
    post_office_codes: list[str] = Field(min_length=1, max_length=50)
    time_limit_s: float | None = Field(default=None, gt=0, le=600)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)


class Replan(BaseModel):
    """Re-plan what is not locked, e.g. without couriers who dropped out."""

    model_config = ConfigDict(extra="forbid")
    unavailable_courier_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=200
    )
    time_limit_s: float | None = Field(default=None, gt=0, le=600)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)


class PlanPublic(BaseModel):
    """A plan's status and totals."""

    id: int
    date: dt.date
    post_office_codes: list[str]
    status: PlanStatus
    progress: int
    message: str
    replans_id: int | None
    couriers_used: int
    distance_m: int
    duration_s: int
    stop_count: int
    unassigned_count: int
    parts_total: int
    parts_done: int
    seed: int
    unavailable_courier_ids: list[int]
    created_at: dt.datetime
    finished_at: dt.datetime | None


class StopPublic(BaseModel):
    """One stop of a route with its times (local time)."""

    sequence: int
    kind: str
    place: str
    item_number: str
    booking_reference: str
    desk_code: str
    lat: float
    lon: float
    arrival_at: dt.datetime
    start_at: dt.datetime
    departure_at: dt.datetime
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    load_after: int


class RoutePublic(BaseModel):
    """A courier's route."""

    id: int
    plan_id: int
    post_office_code: str
    courier_user_id: int | None
    courier_label: str
    color: str
    locked: bool
    start_at: dt.datetime
    end_at: dt.datetime
    break_at: dt.datetime | None
    distance_m: int
    duration_s: int
    stop_count: int
    stops: list[StopPublic] = []


class UnassignedPublic(BaseModel):
    """A stop left out, with the reason."""

    item_number: str
    booking_reference: str
    kind: str
    place: str
    lat: float
    lon: float
    reason: str


class PlanRoutes(BaseModel):
    """A plan's routes and left-out stops."""

    plan: PlanPublic
    routes: list[RoutePublic]
    unassigned: list[UnassignedPublic]


def plan_public(plan: PlanRun, summary: service.PlanSummary | None = None) -> PlanPublic:
    """The public view of a plan; with ``summary``, its totals are those of the offices the
    reader sees (a dispatcher of one office of a plan covering two sees their office's)."""
    assert plan.id is not None
    data = plan.model_dump(
        exclude={"post_office_codes", "created_by", "time_limit_s", "unavailable_courier_ids"}
    )
    if summary is not None:
        data.update(
            couriers_used=summary.couriers,
            distance_m=summary.distance_m,
            duration_s=summary.duration_s,
            stop_count=summary.stops,
            unassigned_count=summary.unassigned_stops,
        )
    return PlanPublic(
        **data,
        post_office_codes=plan.offices(),
        unavailable_courier_ids=sorted(plan.unavailable()),
    )


def scoped_public(session: Session, principal: Principal, plan: PlanRun) -> PlanPublic:
    """The plan as ``principal`` may see it: totals of their own offices only."""
    offices = service.visible_offices(principal, plan)
    if offices == set(plan.offices()):
        return plan_public(plan)
    return plan_public(plan, service.plan_summary(session, plan, offices))


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return to_local(value) if value else None


def route_public(route: PlannedRoute, stops: list[PlannedStop] | None = None) -> RoutePublic:
    """The public view of a route, times in local time."""
    assert route.id is not None
    data = route.model_dump()
    for key in ("start_at", "end_at", "break_at"):
        data[key] = _local(data[key])
    out = RoutePublic(**data)
    for s in stops or []:
        d = s.model_dump(exclude={"id", "route_id", "plan_id"})
        for key in ("arrival_at", "start_at", "departure_at", "window_start", "window_end"):
            d[key] = _local(d[key])
        d["place"] = str(s.place)
        out.stops.append(StopPublic(**d))
    return out


@router.post(
    "/plans",
    status_code=202,
    response_model=PlanPublic,
    summary="Plan a day",
    description=(
        "Builds the optimiser problem from the date's bookings at the given post offices "
        "and solves it in the background. Poll the Location for status and progress."
    ),
    responses=ERRORS,
)
def create_plan(
    body: PlanCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
) -> JSONResponse:
    """Start planning (dispatcher of those post offices, or admin)."""
    limit = body.time_limit_s or settings.plan_time_limit_s
    plan = service.start_plan(
        session, principal, body.date, body.post_office_codes, limit, seed=body.seed
    )
    session.commit()
    assert plan.id is not None
    defer_plan(settings, plan.id)
    session.refresh(plan)
    return JSONResponse(
        plan_public(plan).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/v1/plans/{plan.id}"},
    )


@router.get(
    "/plans",
    response_model=list[PlanPublic],
    summary="Plans of a date",
    responses={k: v for k, v in ERRORS.items() if k in (401, 403)},
)
def list_plans(session: SessionDep, principal: Dispatcher, date: dt.date) -> list[PlanPublic]:
    """Plans of a date visible to the dispatcher, newest first."""
    from sqlmodel import col, select

    rows = session.exec(
        select(PlanRun).where(PlanRun.date == date).order_by(col(PlanRun.id).desc())
    ).all()
    visible = []
    for p in rows:
        try:
            service.authorise_plan(principal, p)
        except NotFound:  # another post office's plan
            continue
        visible.append(scoped_public(session, principal, p))
    return visible


@router.get(
    "/plans/{plan_id}", response_model=PlanPublic, summary="A plan's status", responses=ERRORS
)
def read_plan(plan_id: DbId, session: SessionDep, principal: Dispatcher) -> PlanPublic:
    """Status, progress and totals of a plan."""
    plan = service.get_plan(session, plan_id)
    service.authorise_plan(principal, plan)
    return scoped_public(session, principal, plan)


@router.post(
    "/plans/{plan_id}/cancel",
    response_model=PlanPublic,
    summary="Cancel a plan",
    description="A dispatcher of every post office of the plan, or an admin. A plan covering "
    "another dispatcher's office too is refused (403 `plan_has_other_offices`).",
    responses=ERRORS,
)
def cancel_plan(plan_id: DbId, session: SessionDep, principal: Dispatcher) -> PlanPublic:
    """Cancel a queued or running plan."""
    plan = service.get_plan(session, plan_id)
    service.authorise_plan(principal, plan)
    service.cancel_plan(session, plan, principal)
    session.commit()
    return scoped_public(session, principal, plan)


@router.get(
    "/plans/{plan_id}/routes",
    response_model=PlanRoutes,
    summary="A plan's routes and unassigned stops",
    responses=ERRORS,
)
def read_plan_routes(plan_id: DbId, session: SessionDep, principal: Dispatcher) -> PlanRoutes:
    """Every route with its stops, and the stops left out with reasons."""
    plan = service.get_plan(session, plan_id)
    service.authorise_plan(principal, plan)
    assert plan.id is not None
    offices = service.visible_offices(principal, plan)
    return PlanRoutes(
        plan=scoped_public(session, principal, plan),
        routes=[
            route_public(r, service.route_stops(session, r.id or 0))
            for r in service.plan_routes(session, plan.id, offices)
        ],
        unassigned=[
            UnassignedPublic(
                **u.model_dump(exclude={"id", "plan_id", "place", "post_office_code"}),
                place=str(u.place),
            )
            for u in service.unassigned(session, plan.id, offices)
        ],
    )


@router.post(
    "/plans/{plan_id}/replan",
    status_code=202,
    response_model=PlanPublic,
    summary="Re-plan what is not locked",
    responses=ERRORS,
    description="Locked (dispatched) routes are kept; everything else, including "
    "bookings made since, is planned again, without the couriers listed.",
)
def replan(
    plan_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
    body: Replan | None = None,
) -> JSONResponse:
    """Start a new plan from this one's locked routes."""
    body = body or Replan()
    old = service.get_plan(session, plan_id)
    service.authorise_plan(principal, old)
    limit = body.time_limit_s or settings.plan_time_limit_s
    plan = service.start_plan(
        session,
        principal,
        old.date,
        old.offices(),
        limit,
        replans=old,
        unavailable=set(body.unavailable_courier_ids),
        seed=body.seed,
    )
    session.commit()
    assert plan.id is not None
    defer_plan(settings, plan.id)
    session.refresh(plan)
    return JSONResponse(
        plan_public(plan).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/v1/plans/{plan.id}"},
    )


@router.get(
    "/routes/{route_id}",
    response_model=RoutePublic,
    summary="One route with its stops",
    description="For its courier, a dispatcher of its post office, or an admin.",
    responses=ERRORS,
)
def read_route(route_id: DbId, session: SessionDep, principal: PrincipalDep) -> RoutePublic:
    """A route and its stops in visit order."""
    route = service.get_route(session, principal, route_id)
    return route_public(route, service.route_stops(session, route_id))


@router.get("/routes/{route_id}/geojson", summary="One route as GeoJSON", responses=ERRORS)
def read_route_geojson(
    route_id: DbId, session: SessionDep, principal: PrincipalDep
) -> JSONResponse:
    """The route as a FeatureCollection ([lon, lat])."""
    route = service.get_route(session, principal, route_id)
    office = session.get(PostOffice, route.post_office_code)
    assert office is not None
    body = service.route_geojson(route, service.route_stops(session, route_id), office)
    return JSONResponse(body, media_type="application/geo+json")


def _route_changed(
    session: Session,
    principal: Principal,
    route_id: int,
    change: Callable[[Session, PlannedRoute], PlannedRoute],
) -> RoutePublic:
    """The reader's route after ``change`` (lock or unlock), saved."""
    route = service.get_route(session, principal, route_id)
    change(session, route)
    session.commit()
    return route_public(route, service.route_stops(session, route_id))


@router.post(
    "/routes/{route_id}/lock",
    response_model=RoutePublic,
    summary="Lock a dispatched route",
    responses=ERRORS,
)
def lock_route(route_id: DbId, session: SessionDep, principal: Dispatcher) -> RoutePublic:
    """Keep this route as it is when re-planning."""
    return _route_changed(session, principal, route_id, service.lock_route)


@router.post(
    "/routes/{route_id}/unlock",
    response_model=RoutePublic,
    summary="Unlock a route",
    description="A dispatcher of the route's post office, or an admin: a re-plan or a hand "
    "edit may change it again. 409 `route_not_locked` when it is not locked.",
    responses=ERRORS,
)
def unlock_route(route_id: DbId, session: SessionDep, principal: Dispatcher) -> RoutePublic:
    """Let the route change again."""
    return _route_changed(session, principal, route_id, service.unlock_route)


class RouteEdit(BaseModel):
    """One hand edit of a route: exactly one of ``order`` (the route's stop ids in their new
    order), ``move_item`` with ``to_route_id`` (an item's pickup and delivery moved to
    another route of the office, where they cost least), or ``courier_user_id`` (the route
    given to another courier of the roster)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"move_item": "EB123456789VN", "to_route_id": 7}]},
    )
    order: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=500
    )
    move_item: str | None = Field(default=None, min_length=13, max_length=13)
    to_route_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    courier_user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    dry_run: bool = False
    """Only the preview: nothing is written."""
    confirm: bool = False
    """Save even though the feasibility checker finds the edit infeasible."""


class EditReasonPublic(BaseModel):
    """Why the checker finds an edit infeasible."""

    code: str
    message: str


class EditStopPublic(BaseModel):
    """A stop of an edited route, with its new times (read from the preview's stop)."""

    model_config = ConfigDict(from_attributes=True)

    stop_id: int
    sequence: int
    item_number: str
    kind: str
    place: str
    arrival_at: dt.datetime
    start_at: dt.datetime
    late_min: int
    early_min: int
    desk_closed: bool
    moved: bool

    @field_validator("arrival_at", "start_at")
    @classmethod
    def _local(cls, value: dt.datetime) -> dt.datetime:
        return to_local(value)


class EditRoutePublic(BaseModel):
    """An edited route before and after (read from the preview's route)."""

    model_config = ConfigDict(from_attributes=True)

    route_id: int
    courier_user_id: int | None
    courier_label: str
    distance_before_m: int
    distance_after_m: int
    duration_before_s: int
    duration_after_s: int
    end_at: dt.datetime
    max_load: int
    capacity: int
    capacity_exceeded: bool
    stops: list[EditStopPublic]

    @field_validator("end_at")
    @classmethod
    def _local(cls, value: dt.datetime) -> dt.datetime:
        return to_local(value)


class EditPreviewPublic(BaseModel):
    """An edit's consequences; ``saved`` says whether it was written."""

    feasible: bool
    saved: bool
    added_distance_m: int
    added_duration_s: int
    reasons: list[EditReasonPublic]
    routes: list[EditRoutePublic]


def edit_public(preview: edits.EditPreview, saved: bool, lang: str) -> EditPreviewPublic:
    """The public view of an edit's preview."""
    return EditPreviewPublic(
        feasible=preview.feasible,
        saved=saved,
        added_distance_m=preview.added_distance_m,
        added_duration_s=preview.added_duration_s,
        reasons=[
            EditReasonPublic(code=r.code, message=message(r.code, lang, **r.params))
            for r in preview.reasons
        ],
        routes=[EditRoutePublic.model_validate(r, from_attributes=True) for r in preview.routes],
    )


@router.post(
    "/routes/{route_id}/edit",
    response_model=EditPreviewPublic,
    summary="Edit a route by hand (preview, then save)",
    description="A dispatcher of the route's post office, or an admin. With `dry_run` the "
    "consequences (late stops, capacity, added km and time) come back and nothing is "
    "written. Without it the edit is re-checked by the independent feasibility checker and "
    "saved; an infeasible edit is refused (409 `edit_infeasible`, one error per reason) "
    "unless `confirm` is true. Locked routes are refused (409 `route_locked`): unlock first.",
    responses=ERRORS,
)
def edit_route(
    route_id: DbId,
    body: RouteEdit,
    session: SessionDep,
    settings: SettingsDep,
    principal: Dispatcher,
    lang: LangDep,
) -> EditPreviewPublic:
    """Reorder, move an item to another route, or give the route to another courier."""
    route = service.get_route(session, principal, route_id)
    edit = edits.Edit(
        order=tuple(body.order) if body.order is not None else None,
        move_item=body.move_item,
        to_route_id=body.to_route_id,
        courier_user_id=body.courier_user_id,
    )
    if edit.to_route_id is not None:  # the target too must be the caller's
        service.get_route(session, principal, edit.to_route_id)
    if body.dry_run:
        return edit_public(edits.preview_edit(session, settings, route, edit), False, lang)
    preview = edits.apply_edit(session, settings, route, edit, body.confirm)
    session.commit()
    return edit_public(preview, True, lang)


@router.get(
    "/routes/{route_id}/sheet.pdf",
    summary="A route's printable sheet (PDF)",
    description="A dispatcher of the route's post office, or an admin: the courier's full "
    "name, the date, the stops in order with the citizen's windows, items and fees to collect.",
    responses={**ERRORS, 200: {"content": {"application/pdf": {}}}},
    response_class=Response,
)
def route_sheet(
    route_id: DbId, session: SessionDep, settings: SettingsDep, principal: Dispatcher, lang: LangDep
) -> Response:
    """The route sheet to print."""
    route = service.get_route(session, principal, route_id)
    pdf = render_sheet(session, settings, route, lang)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="route-{route_id}.pdf"'},
    )


@router.get(
    "/couriers/me/route", response_model=RoutePublic, summary="My route (courier)", responses=ERRORS
)
def my_route(
    session: SessionDep,
    principal: Annotated[Principal, Depends(roles(Role.courier))],
    now: NowDep,
    date: dt.date | None = None,
) -> RoutePublic:
    """The signed-in courier's route on a date (default today)."""
    day = date or to_local(now).date()
    route = service.courier_route(session, principal, day)
    assert route.id is not None
    return route_public(route, service.route_stops(session, route.id))
