"""The courier's page, phone first: the route of the day, each stop's action, the map, offline
capture (courier.js) and an offline copy of the page (the service worker /courier/sw.js)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, or_, select
from starlette.datastructures import FormData, UploadFile

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.signing import sign_record
from api.routes.ui_common import (
    commune_outlines,
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
from postal.calendar import Window, to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune, Desk, ItemKind, PostOffice
from postal.config import Settings
from postal.errors import PostalError, TooManyRequests, ValidationFailed
from postal.i18n import message
from postal.notify.citizen import booked_window
from postal.phone import mask_phone
from postal.planning import service as planning
from postal.planning.models import PlannedRoute, PlannedStop, StopPlace
from postal.tracking import events, handover
from postal.tracking.config import get_tracking_settings
from postal.tracking.models import (
    HandoverRecord,
    ItemCustody,
    LineStatus,
    RecordDirection,
    RecordStatus,
)
from postal.tracking.public import mask_name
from postal.tracking.schemas import EventIn, RecordOpen, RecordPublic

router = APIRouter(include_in_schema=False)
_HELD_FOR_DESK = (ItemState.picked_up, ItemState.at_post_office, ItemState.attempt_failed)
# How far ahead the page looks for the courier's next route when none is given or planned today.
_LOOKAHEAD_WORKING_DAYS = 10
_SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "courier-sw.js"
REASONS = ("absent", "wrong_address", "refused", "other")


@dataclass(frozen=True)
class DocumentView:
    """One entry of the pickup checklist."""

    position: int
    name: str
    kind: str
    quantity: int
    optional: bool


@dataclass
class StopView:
    """What the page shows for one stop."""

    stop: PlannedStop
    eta: dt.datetime
    window: str
    item: Item
    booking: Booking
    desk: Desk
    name: str
    phone: str
    address: str
    tel: str | None
    maps_url: str
    name_masked: str
    phone_masked: str
    documents: list[DocumentView] = field(default_factory=list)
    fee_vnd: int = 0
    records: list[RecordPublic] = field(default_factory=list)
    held_for_desk: list[str] = field(default_factory=list)
    attempts: int = 0
    next_attempt_on: dt.date | None = None
    attempt_due: bool = True
    done: bool = False
    version: str = ""
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    failed_event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def _query_day(request: Request) -> dt.date | None:
    raw = request.query_params.get("date")
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _day(request: Request, now: dt.datetime) -> dt.date:
    return _query_day(request) or to_local(now).date()


def _has_route(session: Session, principal: Principal, day: dt.date) -> bool:
    try:
        planning.courier_route(session, principal, day)
    except PostalError:
        return False
    return True


def _shown_day(
    request: Request, session: Session, principal: Principal, now: dt.datetime
) -> dt.date:
    """The day asked for; else today when the courier has a route today, else the next working
    day with one (within ``_LOOKAHEAD_WORKING_DAYS``), else today."""
    asked = _query_day(request)
    if asked is not None:
        return asked
    today = to_local(now).date()
    if _has_route(session, principal, today):
        return today
    cal = catalogue.work_calendar(session)
    day = today
    for _ in range(_LOOKAHEAD_WORKING_DAYS):
        day = cal.next_working_day(day)
        if _has_route(session, principal, day):
            return day
    return today


def _eta(stop: PlannedStop, window: Window | None, tz: str) -> dt.datetime:
    """The planned service start (the optimiser waits when it arrives early), kept inside the
    citizen's half day: never a time outside the window the citizen was told."""
    eta = to_local(max(stop.arrival_at, stop.start_at), tz)
    if window is None:
        return eta
    start = dt.datetime.combine(eta.date(), window.start, tzinfo=eta.tzinfo)
    end = dt.datetime.combine(eta.date(), window.end, tzinfo=eta.tzinfo)
    return min(max(eta, start), end)


def _national(phone: str) -> str:
    return "0" + phone[3:] if phone.startswith("+84") else phone


def _maps_url(lat: float, lon: float) -> str:
    return "https://www.google.com/maps/dir/?" + urlencode(
        {"api": "1", "destination": f"{lat:.6f},{lon:.6f}"}
    )


def _done(view: StopView, attempted: bool) -> bool:
    """Whether the stop needs nothing more today."""
    s, state = view.stop, view.item.state
    if s.place == StopPlace.citizen:
        if s.kind == "pickup":
            return state != ItemState.booked or attempted
        return state != ItemState.with_courier
    if view.item.kind == ItemKind.dossier:  # the dossier handed to the desk
        if state == ItemState.booked:
            return attempted  # not picked up today: nothing to hand over
        return state not in (ItemState.picked_up, ItemState.at_post_office)
    return state not in (ItemState.awaiting_result, ItemState.ready_at_desk)


def _views(
    session: Session,
    settings: Settings,
    principal: Principal,
    route: PlannedRoute,
    stops: list[PlannedStop],
    now: dt.datetime,
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
    communes = {
        c.code: c
        for c in session.exec(
            select(Commune).where(
                col(Commune.code).in_({b.commune_code for b in bookings.values()})
            )
        )
    }
    custody = {
        c.item_id: c
        for c in session.exec(
            select(ItemCustody).where(
                col(ItemCustody.item_id).in_([i.id for i in items.values() if i.id is not None])
            )
        )
    }
    records = [
        handover.to_public(session, settings, r)
        for r in session.exec(
            select(HandoverRecord)
            .where(
                HandoverRecord.courier_id == principal.user_id,
                # Open records, and closed ones the courier has still to sign.
                or_(
                    HandoverRecord.status == RecordStatus.open,
                    col(HandoverRecord.courier_ack_sha256).is_(None),
                ),
            )
            .order_by(col(HandoverRecord.id))
        )
    ]
    on_open_record = {
        line.item_number
        for r in records
        if r.status == RecordStatus.open
        for line in r.lines
        if line.status == LineStatus.pending
    }
    # Only the courier of the route sees the citizen's full name, phone and address.
    own = route.courier_user_id is not None and route.courier_user_id == principal.user_id
    today = to_local(now, settings.timezone).date()
    desks_shown: set[str] = set()
    views = []
    for s in stops:
        item, booking = items[s.item_number], bookings[s.booking_reference]
        desk = desks[s.desk_code]
        at_citizen = s.place == StopPlace.citizen
        window = booked_window(session, booking) if at_citizen else None
        commune = communes.get(booking.commune_code)
        address = booking.address_text + (f", {commune.full_name}" if commune else "")
        view = StopView(
            stop=s,
            eta=_eta(s, window, settings.timezone),
            window=str(window) if window else "",
            item=item,
            booking=booking,
            desk=desk,
            name=booking.citizen_name if own else mask_name(booking.citizen_name),
            phone=_national(booking.phone) if own else mask_phone(booking.phone),
            address=address if own else (commune.full_name if commune else ""),
            tel=f"tel:{booking.phone}" if own and at_citizen else None,
            maps_url=_maps_url(s.lat, s.lon),
            name_masked=mask_name(booking.citizen_name),
            phone_masked=mask_phone(booking.phone),
        )
        held = custody.get(item.id or 0)
        attempted = False
        if held is not None:
            view.attempts = held.failed_attempts
            view.next_attempt_on = held.next_attempt_on
            view.attempt_due = held.next_attempt_on is None or held.next_attempt_on <= today
            last = held.last_device_time
            attempted = (
                item.kind == ItemKind.dossier
                and held.failed_attempts > 0
                and last is not None
                and to_local(last, settings.timezone).date() == today
            )
        if at_citizen and s.kind == "pickup":
            view.documents = [
                DocumentView(
                    d.position, d.name, d.kind.value, d.quantity, events.document_optional(d.name)
                )
                for d in catalogue.procedure_documents(session, item.procedure_code)
            ]
            view.fee_vnd = booking.postal_fee_vnd + (
                booking.procedure_fee_vnd if booking.fee_collection else 0
            )
        if s.place == StopPlace.desk and s.desk_code not in desks_shown:
            # A desk's records and its handover form once, at its first stop of the route.
            desks_shown.add(s.desk_code)
            view.records = [r for r in records if r.desk_code == s.desk_code]
            view.held_for_desk = list(
                dict.fromkeys(
                    n
                    for n in numbers
                    if items[n].desk_code == s.desk_code
                    and items[n].state in _HELD_FOR_DESK
                    and n not in on_open_record
                )
            )
        view.done = _done(view, attempted)
        fingerprint = [
            item.state.value,
            view.attempts,
            view.done,
            view.held_for_desk,
            [
                (
                    r.id,
                    r.status.value,
                    r.courier_acknowledged,
                    [(ln.item_number, ln.status.value) for ln in r.lines],
                )
                for r in view.records
            ],
        ]
        view.version = hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:12]
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


def _at(form: FormData | None, request: Request) -> int | None:
    """The stop (sequence) a form belongs to, to show its outcome there."""
    raw = str(form.get("stop", "")) if form is not None else ""
    raw = raw or request.query_params.get("at", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


@dataclass(frozen=True)
class _Page:
    """The courier's page for one request: whose route, which day; rendered as it is, or with
    the text of a refused action next to the stop acted on."""

    request: Request
    session: Session
    settings: Settings
    lang: str
    principal: Principal
    day: dt.date
    now: dt.datetime

    def render(
        self, error: str | None = None, status: int = 200, at: int | None = None
    ) -> HTMLResponse:
        route, stops = _route(self.session, self.principal, self.day)
        views = (
            _views(self.session, self.settings, self.principal, route, stops, self.now)
            if route and stops
            else []
        )
        office = self.session.get(PostOffice, route.post_office_code) if route else None
        cal = catalogue.work_calendar(self.session)
        self.session.commit()
        done = self.request.query_params.get("done")
        if at is None:
            at = _at(None, self.request)
        if at is not None and not any(v.stop.sequence == at for v in views):
            at = None
        tsettings = get_tracking_settings()
        today = to_local(self.now, self.settings.timezone).date()
        prev_day = self.day - dt.timedelta(days=1)
        while not cal.is_working_day(prev_day) and (self.day - prev_day).days < 10:
            prev_day -= dt.timedelta(days=1)
        next_stop = next((v for v in views if not v.done), None)
        ctx = {
            "principal": self.principal,
            "day": self.day,
            "today": today,
            "weekday": message(f"ui.courier.weekday.{self.day.weekday()}", self.lang),
            "prev_day": prev_day,
            "next_day": cal.next_working_day(self.day),
            "route": route,
            "office": office,
            "stops": views,
            "done_count": sum(1 for v in views if v.done),
            "next_stop": next_stop,
            "error": error,
            "at": at,
            "notice": message(f"ui.courier.done.{done}", self.lang) if done else None,
            "reasons": REASONS,
            "max_attempts": tsettings.delivery_max_attempts,
            "gap_days": tsettings.delivery_attempt_gap_days,
            "next_attempt_day": cal.add_working_days(today, tsettings.delivery_attempt_gap_days),
            "photo_max_mb": events.PHOTO_MAX_BYTES // 10**6,
        }
        return _render(self.request, "courier.html", self.lang, ctx, status=status)

    def refused(self, exc: PostalError, at: int | None) -> HTMLResponse:
        """The page with the refusal's text, after undoing what the refused action wrote."""
        self.session.rollback()
        return self.render(error_text(exc, self.lang), exc.status, at)


def _courier(request: Request, session: Session) -> Principal | None:
    return page_principal(request, session, Role.courier)


def _posted_to(
    request: Request, session: Session, settings: Settings, lang: str, now: dt.datetime
) -> _Page | None:
    """The page an action of the signed-in courier comes back to (the day it names); None when
    no courier is signed in."""
    principal = _courier(request, session)
    if principal is None:
        return None
    return _Page(request, session, settings, lang, principal, _day(request, now), now)


def _back(day: dt.date, done: str, at: int | None, extra: str = "") -> RedirectResponse:
    """Back to the page, at the stop acted on (no JavaScript: the anchor keeps the place)."""
    where = f"&at={at}#stop-{at}" if at is not None else ""
    return RedirectResponse(f"/courier?date={day}&done={done}{extra}{where}", status_code=303)


@router.get("/courier", response_class=HTMLResponse)
def courier_home(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """The route of the day shown (today's, else the next working day's) as an ordered list
    with ETAs, the map and each stop's action."""
    principal = _courier(request, session)
    if principal is None:
        return to_login(request)
    day = _shown_day(request, session, principal, now)
    return _Page(request, session, settings, lang, principal, day, now).render()


@router.get("/courier/sw.js")
def courier_service_worker() -> Response:
    """The service worker keeping an offline copy of the page (its scope is /courier)."""
    return Response(
        _SERVICE_WORKER.read_text(encoding="utf-8"),
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/courier", "Cache-Control": "no-cache"},
    )


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
    views = _views(session, settings, principal, route, stops, now)
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
    outlines = commune_outlines(settings)  # the base layer that reads without tiles
    return map_page(route_map(map_route, graph=road_graph(settings), t=t, boundaries=outlines))


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
        # Stamped in whole seconds, as the page's own clock stamps the events it queues.
        "device_time": get("device_time") or now.replace(microsecond=0).isoformat(),
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


def _refusal(result_detail: str | None, errors: list[dict[str, Any]] | None) -> str:
    """A refused event's message: each text once (one field's refusal repeats the detail)."""
    parts = [result_detail or ""] + [str(e.get("message", "")) for e in errors or []]
    return " — ".join(dict.fromkeys(p for p in parts if p))


async def _photo(form: FormData) -> dict[str, Any] | None:
    """The photo proof of the form (hashed here), None when no photo was chosen."""
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
        return None
    if upload.content_type and not upload.content_type.startswith("image/"):
        raise ValidationFailed("photo_not_image", field="photo")
    data = await upload.read(events.PHOTO_MAX_BYTES + 1)
    return events.photo_proof(data, "photo")


def _too_big(request: Request) -> bool:
    raw = request.headers.get("content-length", "")
    return raw.isdigit() and int(raw) > events.PHOTO_MAX_BYTES + 200_000


@router.post("/courier/event", response_class=HTMLResponse)
async def courier_event(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Record a stop's event from the form (the no-JavaScript path of courier.js, and its path
    for an event with a photo: the photo's SHA-256 is computed here and kept as proof)."""
    page = _posted_to(request, session, settings, lang, now)
    if page is None:
        return to_login(request)
    if _too_big(request):
        limit = message("photo_too_large", lang, limit_mb=events.PHOTO_MAX_BYTES // 10**6)
        return page.render(f"{message('ui.courier.photo', lang)}: {limit}", 413)
    form = await request.form(max_files=1, max_fields=200)
    at = _at(form, request)
    try:
        photo = await _photo(form)
    except PostalError as exc:
        text = f"{message('ui.courier.photo', lang)}: {error_text(exc, lang)}"
        return page.render(text, exc.status, at)
    try:
        body = EventIn.model_validate(form_event(form, now))
    except (ValueError, PostalError):
        return page.render(message("validation_failed", lang, field="form"), 422, at)
    photos = {str(body.event_id): photo} if photo is not None else None
    [result] = events.record_batch(
        session, settings, get_tracking_settings(), page.principal, [body], now, lang, photos
    )
    if result.status == "rejected":
        # A refused event wrote nothing but a wrong code's try count: keep that (as the API's
        # group writer does), or a form could guess codes without end.
        session.commit()
        return page.render(_refusal(result.detail, result.errors), result.http_status, at)
    session.commit()
    return _back(page.day, "failed" if body.type == "attempt_failed" else "event", at)


@router.post("/courier/otp", response_class=HTMLResponse)
async def courier_otp(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Send the citizen a one-time code for the item."""
    page = _posted_to(request, session, settings, lang, now)
    if page is None:
        return to_login(request)
    form = await request.form()
    at = _at(form, request)
    try:
        events.request_otp(
            session,
            page.principal,
            get_tracking_settings(),
            str(form.get("item_number", "")),
            now,
            settings=settings,
        )
        session.commit()
    except PostalError as exc:
        refused = page.refused(exc, at)
        if isinstance(exc, TooManyRequests):
            refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    return _back(page.day, "otp", at)


@router.post("/courier/handover", response_class=HTMLResponse)
async def courier_handover(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Open a handover record for a desk with the items ticked."""
    page = _posted_to(request, session, settings, lang, now)
    if page is None:
        return to_login(request)
    form = await request.form()
    at = _at(form, request)
    try:
        body = RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code=str(form.get("desk_code", "")),
            item_numbers=[str(v) for v in form.getlist("item_numbers")],
        )
        record = handover.open_record(session, page.principal, body, now)
        session.commit()
    except PostalError as exc:
        return page.refused(exc, at)
    except ValueError:
        return page.render(message("ui.desk.choose_items", lang), 422, at)
    return _back(page.day, "record", at, f"&record={record.id}")


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
    page = _posted_to(request, session, settings, lang, now)
    if page is None:
        return to_login(request)
    form = await request.form()
    at = _at(form, request)
    try:
        sign_record(session, page.principal, record_id, form, now)
    except PostalError as exc:
        return page.refused(exc, at)
    return _back(page.day, "signed", at)


@router.post("/courier/records/{record_id}/lines", response_class=HTMLResponse)
async def courier_receive(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Confirm a result handed over by the desk (scanned or typed); close the record once all
    are confirmed."""
    page = _posted_to(request, session, settings, lang, now)
    if page is None:
        return to_login(request)
    form = await request.form()
    at = _at(form, request)
    try:
        number = str(form.get("item_number", "")).strip().upper()
        handover.confirm_line(session, page.principal, record_id, number, LineStatus.received, now)
        record = handover.to_public(session, settings, handover.get_record(session, record_id))
        if all(line.status != LineStatus.pending for line in record.lines):
            handover.close_record(session, page.principal, record_id, now)
        session.commit()
    except PostalError as exc:
        return page.refused(exc, at)
    return _back(page.day, "received", at)
