"""The courier's page, phone first: today's route, each stop's action, the map, offline capture."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, or_, select
from starlette.datastructures import FormData

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.signing import sign_record
from api.routes.ui_common import (
    error_text,
    map_page,
    page_principal,
    road_graph,
    to_login,
    translator,
)
from maps.render import route_map
from maps.types import MapRoute, MapStop, Point
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking.models import Booking, Item, ItemState
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import Desk, PostOffice, ProcedureDocument
from postal.config import Settings
from postal.errors import PostalError, TooManyRequests
from postal.i18n import message
from postal.phone import mask_phone
from postal.planning import service as planning
from postal.planning.models import PlannedRoute, PlannedStop, StopPlace
from postal.tracking import events, handover
from postal.tracking.config import get_tracking_settings
from postal.tracking.models import HandoverRecord, LineStatus, RecordDirection, RecordStatus
from postal.tracking.public import mask_name
from postal.tracking.schemas import EventIn, RecordOpen

router = APIRouter(include_in_schema=False)
_HELD_FOR_DESK = (ItemState.picked_up, ItemState.at_post_office, ItemState.attempt_failed)


@dataclass
class StopView:
    """What the page shows for one stop."""

    stop: PlannedStop
    eta: dt.datetime
    window: str
    item: Item
    booking: Booking
    desk: Desk
    name_masked: str
    phone_masked: str
    documents: list[ProcedureDocument] = field(default_factory=list)
    fee_vnd: int = 0
    records: list[Any] = field(default_factory=list)
    held_for_desk: list[str] = field(default_factory=list)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    failed_event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _day(request: Request, now: dt.datetime) -> dt.date:
    raw = request.query_params.get("date")
    try:
        return dt.date.fromisoformat(raw) if raw else to_local(now).date()
    except ValueError:
        return to_local(now).date()


def _window(stop: PlannedStop) -> str:
    if stop.window_start is None or stop.window_end is None:
        return ""
    return f"{to_local(stop.window_start):%H:%M}-{to_local(stop.window_end):%H:%M}"


def _views(
    session: Session, settings: Settings, principal: Principal, stops: list[PlannedStop]
) -> list[StopView]:
    numbers = [s.item_number for s in stops]
    items = {i.number: i for i in session.exec(select(Item).where(col(Item.number).in_(numbers)))}
    refs = [s.booking_reference for s in stops]
    bookings = {
        b.reference: b
        for b in session.exec(select(Booking).where(col(Booking.reference).in_(refs)))
    }
    desks = {
        d.code: d
        for d in session.exec(select(Desk).where(col(Desk.code).in_({s.desk_code for s in stops})))
    }
    records = list(
        session.exec(
            select(HandoverRecord).where(
                HandoverRecord.courier_id == principal.user_id,
                # Open records, and closed ones the courier has still to sign.
                or_(
                    HandoverRecord.status == RecordStatus.open,
                    col(HandoverRecord.courier_ack_sha256).is_(None),
                ),
            )
        )
    )
    views = []
    for s in stops:
        item, booking = items[s.item_number], bookings[s.booking_reference]
        view = StopView(
            stop=s,
            eta=to_local(s.arrival_at, settings.timezone),
            window=_window(s),
            item=item,
            booking=booking,
            desk=desks[s.desk_code],
            name_masked=mask_name(booking.citizen_name),
            phone_masked=mask_phone(booking.phone),
        )
        if s.place == StopPlace.citizen and s.kind == "pickup":
            view.documents = catalogue.procedure_documents(session, item.procedure_code)
            view.fee_vnd = booking.postal_fee_vnd + (
                booking.procedure_fee_vnd if booking.fee_collection else 0
            )
        if s.place == StopPlace.desk:
            view.records = [
                handover.to_public(session, settings, r)
                for r in records
                if r.desk_code == s.desk_code
            ]
            view.held_for_desk = list(
                dict.fromkeys(
                    n
                    for n in numbers
                    if items[n].desk_code == s.desk_code and items[n].state in _HELD_FOR_DESK
                )
            )
        views.append(view)
    return views


def _route(
    session: Session, principal: Principal, day: dt.date
) -> tuple[PlannedRoute | None, list[PlannedStop]]:
    try:
        route = planning.courier_route(session, principal, day)
    except PostalError:
        return None, []
    assert route.id is not None
    return route, planning.route_stops(session, route.id)


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    lang: str,
    principal: Principal,
    day: dt.date,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    route, stops = _route(session, principal, day)
    views = _views(session, settings, principal, stops) if stops else []
    office = session.get(PostOffice, route.post_office_code) if route else None
    session.commit()
    done = request.query_params.get("done")
    ctx = {
        "principal": principal,
        "day": day,
        "route": route,
        "office": office,
        "stops": views,
        "error": error,
        "notice": message(f"ui.courier.done.{done}", lang) if done else None,
        "reasons": ["absent", "wrong_address", "refused", "other"],
    }
    return _render(request, "courier.html", lang, ctx, status=status)


def _courier(request: Request, session: Session) -> Principal | None:
    return page_principal(request, session, Role.courier)


@router.get("/courier", response_class=HTMLResponse)
def courier_home(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Today's route as an ordered list with ETAs, the map and each stop's action."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    return _page(request, session, settings, lang, principal, _day(request, now))


@router.get("/courier/map", response_class=HTMLResponse)
def courier_map(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """The route map of the day (embedded by the page)."""
    principal = _courier(request, session)
    if principal is None:
        return HTMLResponse("", status_code=401)
    route, stops = _route(session, principal, _day(request, now))
    if route is None:
        return HTMLResponse("", status_code=404)
    office = session.get(PostOffice, route.post_office_code)
    assert office is not None
    views = _views(session, settings, principal, stops)
    session.commit()
    t = translator(lang)
    map_route = MapRoute(
        courier_label=route.courier_label,
        color=route.color,
        depot=Point(office.lat, office.lon),
        depot_label=office.name,
        route_id=route.id,
        stops=tuple(
            MapStop(
                sequence=v.stop.sequence,
                point=Point(v.stop.lat, v.stop.lon),
                kind="pickup" if v.stop.kind == "pickup" else "delivery",
                place="desk" if v.stop.place == StopPlace.desk else "citizen",
                eta=v.eta.replace(tzinfo=None),
                slot_text=v.window,
                label=v.desk.name if v.stop.place == StopPlace.desk else v.booking.address_text,
                item_numbers=(v.stop.item_number,),
                name_masked="" if v.stop.place == StopPlace.desk else v.name_masked,
                phone_masked="" if v.stop.place == StopPlace.desk else v.phone_masked,
            )
            for v in views
        ),
    )
    return map_page(route_map(map_route, graph=road_graph(settings), t=t))


def _strokes(text: str) -> Any:
    """The drawn signature's strokes from the form's JSON field (the event's validation checks
    their shape; unreadable JSON is sent on as a string, so it is refused there)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def form_event(form: FormData, now: dt.datetime) -> dict[str, Any]:
    """The custody event a stop's form describes (the same shape courier.js sends)."""

    def get(key: str) -> str:
        return str(form.get(key, "")).strip()

    body: dict[str, Any] = {
        "event_id": get("event_id") or str(uuid.uuid4()),
        "type": get("type"),
        "item_number": get("item_number"),
        "device_time": get("device_time") or now.isoformat(),
    }
    if body["type"] == "pickup":
        positions = sorted({k.split("_")[1] for k in form if k.startswith("doc_")})
        body["checklist"] = [
            {
                "position": int(p),
                "present": form.get(f"doc_{p}_present") == "on",
                "form": get(f"doc_{p}_form") or None,
            }
            for p in positions
        ]
        body["seal"] = {"number": get("seal_number")} if get("seal_number") else None
        if get("fee_vnd") and int(get("fee_vnd")) > 0:
            body["fees"] = {
                "postal_fee_vnd": int(get("fee_vnd")),
                "receipt_number": get("receipt_number") or None,
            }
    if body["type"] in ("pickup", "deliver"):
        if get("signature_strokes"):
            body["acknowledgement"] = {
                "method": "signature",
                "signature_strokes": _strokes(get("signature_strokes")),
            }
        else:
            body["acknowledgement"] = {"method": "otp", "otp_code": get("otp_code")}
    if body["type"] == "deliver":
        if get("recipient") == "proxy":
            body["recipient"] = {
                "proxy_name": get("proxy_name") or None,
                "proxy_id_number": get("proxy_id_number") or None,
                "authorisation_ref": get("authorisation_ref") or None,
            }
        else:
            body["recipient"] = {"id_number": get("id_number") or None}
    if body["type"] == "attempt_failed":
        body["reason"] = get("reason") or "other"
        body["note"] = get("note") or None
    return body


@router.post("/courier/event", response_class=HTMLResponse)
async def courier_event(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Record a stop's event from the form (the no-JavaScript path of courier.js)."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    day = _day(request, now)
    try:
        body = EventIn.model_validate(form_event(form, now))
    except (ValueError, PostalError):
        return _page(
            request,
            session,
            settings,
            lang,
            principal,
            day,
            message("validation_failed", lang, field="form"),
            422,
        )
    [result] = events.record_batch(
        session, settings, get_tracking_settings(), principal, [body], now, lang
    )
    if result.status == "rejected":
        # A refused event wrote nothing but a wrong code's try count: keep that (as the API's
        # group writer does), or a form could guess codes without end.
        session.commit()
        detail = " — ".join(
            [result.detail or ""] + [str(e.get("message", "")) for e in result.errors or []]
        )
        return _page(request, session, settings, lang, principal, day, detail, result.http_status)
    session.commit()
    return RedirectResponse(f"/courier?date={day}&done=event", status_code=303)


@router.post("/courier/otp", response_class=HTMLResponse)
async def courier_otp(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Send the citizen a one-time code for the item."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    day = _day(request, now)
    try:
        events.request_otp(
            session,
            principal,
            get_tracking_settings(),
            str(form.get("item_number", "")),
            now,
            settings=settings,
        )
        session.commit()
    except PostalError as exc:
        session.rollback()
        page = _page(
            request, session, settings, lang, principal, day, error_text(exc, lang), exc.status
        )
        if isinstance(exc, TooManyRequests):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return RedirectResponse(f"/courier?date={day}&done=otp", status_code=303)


@router.post("/courier/handover", response_class=HTMLResponse)
async def courier_handover(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Open a handover record for a desk with the items ticked."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    day = _day(request, now)
    try:
        body = RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code=str(form.get("desk_code", "")),
            item_numbers=[str(v) for v in form.getlist("item_numbers")],
        )
        record = handover.open_record(session, principal, body, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(
            request, session, settings, lang, principal, day, error_text(exc, lang), exc.status
        )
    except ValueError:
        return _page(
            request,
            session,
            settings,
            lang,
            principal,
            day,
            message("ui.desk.choose_items", lang),
            422,
        )
    return RedirectResponse(f"/courier?date={day}&done=record&record={record.id}", status_code=303)


@router.post("/courier/records/{record_id}/sign", response_class=HTMLResponse)
async def courier_sign(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """The courier signs a closed record."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    day = _day(request, now)
    try:
        sign_record(session, principal, record_id, form, now)
    except PostalError as exc:
        session.rollback()
        return _page(
            request, session, settings, lang, principal, day, error_text(exc, lang), exc.status
        )
    return RedirectResponse(f"/courier?date={day}&done=signed", status_code=303)


@router.post("/courier/records/{record_id}/lines", response_class=HTMLResponse)
async def courier_receive(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Confirm a result handed over by the desk; close the record once all are confirmed."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    day = _day(request, now)
    try:
        number = str(form.get("item_number", "")).strip().upper()
        handover.confirm_line(session, principal, record_id, number, LineStatus.received, now)
        record = handover.to_public(session, settings, handover.get_record(session, record_id))
        if all(line.status != LineStatus.pending for line in record.lines):
            handover.close_record(session, principal, record_id, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(
            request, session, settings, lang, principal, day, error_text(exc, lang), exc.status
        )
    return RedirectResponse(f"/courier?date={day}&done=received", status_code=303)
