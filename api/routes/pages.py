"""Server-rendered pages for citizens (Vietnamese first, English switch, no JavaScript needed):
the booking form, "my booking" (reschedule, cancel after a confirmation step), finding a
booking again, and the fee and free places the form's script asks for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from reportlab.graphics.barcode.qrencoder import (  # type: ignore[import-untyped]
    QRCode,
    QRErrorCorrectLevel,
)
from sqlmodel import Session, col, select

from api.deps import LangDep, NowDep, SessionDep, SettingsDep
from api.limits import AnonymousBookingLimit, client_address, counters
from postal.booking import citizen, service
from postal.booking.models import BookingChannel, ServiceForm
from postal.booking.names import commune_name, desk_name, field_names_en
from postal.calendar import Slot
from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune, Desk, Procedure, ServiceArea
from postal.collation import sort_key, sorted_vi
from postal.config import Settings
from postal.db import reader
from postal.errors import Conflict, NotFound, PostalError, TooManyRequests, ValidationFailed
from postal.i18n import message
from postal.ratelimit import Rule, enforce

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
CITIZEN_COOKIE = "postal_booking"

#: The booking form's fields in the order they appear (the error summary follows it).
FORM_FIELDS = (
    "service_form",
    "procedure_code",
    "desk_code",
    "citizen_name",
    "phone",
    "email",
    "contact_channel",
    "id_number",
    "address_text",
    "commune_code",
    "lat",
    "lon",
    "date",
    "slot",
    "fee_collection",
)
#: Where an error summary link jumps for fields shown as radio groups (their first button).
_RADIO_TARGET = {
    "service_form": "service_form-dossier_pickup",
    "contact_channel": "contact_channel-sms",
    "slot": "slot-morning",
}
_LABEL_KEY = {
    "procedure_code": "ui.procedure",
    "desk_code": "ui.desk",
    "commune_code": "ui.commune",
    "lat": "ui.lat",
    "lon": "ui.lon",
}


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


templates.env.filters["vnd"] = _vnd


def _render(
    request: Request, name: str, lang: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    def t(key: str, **params: Any) -> str:
        return message(key, lang, **params)

    response = templates.TemplateResponse(
        request, name, {"t": t, "lang": lang, **context}, status_code=status
    )
    if request.query_params.get("lang") in ("vi", "en"):
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


def _citizen(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    name: str,
    lang: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    locality: str | None = None,
) -> HTMLResponse:
    """A citizen page with the locality's help line."""
    ctx = {"help": citizen.citizen_help(session, settings, locality), **context}
    return _render(request, name, lang, ctx, status=status)


def _summary(errors: dict[str, str], lang: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """The error summary: one link per field in page order, to the field itself."""
    ordered = [f for f in fields if f in errors] + [f for f in errors if f not in fields]
    return [
        {
            "target": _RADIO_TARGET.get(f, f),
            "label": message(_LABEL_KEY.get(f, f"ui.{f}"), lang),
            "text": errors[f],
        }
        for f in ordered
        if f != "body"
    ]


def _form_options(session: SessionDep, settings: SettingsDep, lang: str) -> dict[str, Any]:
    procedures = session.exec(
        select(Procedure).where(col(Procedure.in_person_only).is_(False))
    ).all()

    def shown(p: Procedure) -> str:
        return p.name_en if lang == "en" and p.name_en else p.name

    groups: dict[str, list[Procedure]] = {}
    for p in procedures:
        groups.setdefault(p.field_name, []).append(p)
    english = field_names_en(settings.data_dir) if lang == "en" else {}
    labels = {field: english.get(field, field) for field in groups}
    procedure_groups = [
        (labels[field], sorted_vi(groups[field], shown))
        for field in sorted(groups, key=lambda f: sort_key(labels[f]))
    ]
    served = select(ServiceArea.commune_code)
    communes = [
        {"code": c.code, "name": commune_name(c, lang)}
        for c in session.exec(select(Commune).where(col(Commune.code).in_(served))).all()
    ]
    desks = [
        {"code": d.code, "name": desk_name(session, d.code, lang)}
        for d in session.exec(select(Desk)).all()
    ]
    return {
        "procedure_groups": procedure_groups,
        "communes": sorted_vi(communes, lambda c: c["name"]),
        "desks": sorted_vi(desks, lambda d: d["name"]),
    }


def _default_date(session: SessionDep, now: dt.datetime) -> dt.date:
    cal = catalogue.work_calendar(session)
    return cal.next_working_day(now.date())


def _book_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: str,
    values: dict[str, Any],
    errors: dict[str, str],
    form_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = {
        **_form_options(session, settings, lang),
        "values": values,
        "errors": errors,
        "form_error": form_error,
        "summary": _summary(errors, lang, FORM_FIELDS),
        "quote_url": "/book/quote",
    }
    return _citizen(request, session, settings, "book.html", lang, ctx, status=status)


@router.get("/", response_class=HTMLResponse)
def booking_form(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> HTMLResponse:
    """The booking form."""
    values = {
        "service_form": "both",
        "slot": "morning",
        "contact_channel": "sms",
        "date": _default_date(session, now),
    }
    return _book_page(request, session, settings, lang, values, {})


@router.post("/", response_class=HTMLResponse, dependencies=[AnonymousBookingLimit])
async def booking_submit(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Validate every field at once and create the booking; on error re-render the form with
    each field's message next to it and a summary at the top."""
    form = await request.form()
    values: dict[str, Any] = {k: str(v).strip() for k, v in form.items()}
    values["fee_collection"] = "fee_collection" in form
    # Messages to the citizen go in the language of the page they booked on.
    data = {k: v for k, v in values.items() if k in FORM_FIELDS} | {"lang": lang}
    errors: dict[str, str] = {}
    form_error: str | None = None
    try:
        request_model = service.check_form(
            session, settings, data, channel=BookingChannel.citizen, now=now
        )
        created = service.create_booking(
            session, settings, request_model, channel=BookingChannel.citizen, now=now
        )
        session.commit()
    except ValidationFailed as exc:
        errors.update(_error_texts(exc, lang, "body"))
    except Conflict as exc:
        form_error = message(exc.code, lang, **exc.params)
        if exc.field:
            errors[exc.field] = form_error
    else:
        return RedirectResponse(f"/my-booking/{created.access_token}?new=1", status_code=303)
    session.rollback()
    return _book_page(
        request,
        session,
        settings,
        lang,
        values,
        errors,
        form_error,
        status=422 if errors and not form_error else 409,
    )


@router.get("/book/quote")
def booking_quote(
    request: Request, settings: SettingsDep, lang: LangDep, now: NowDep
) -> JSONResponse:
    """The postal charge and the free places of each half day for the form's current choices
    (the form's script asks while the citizen fills it in); fields not chosen yet give null.

    It reads through a read-only session: on SQLite it then takes no write lock, so a booking
    posted while a quote is still being answered never waits behind it."""
    with Session(reader(request.app.state.engine), expire_on_commit=False) as session:
        try:
            return _quote(request, session, settings, lang, now)
        finally:
            session.rollback()


def _quote(
    request: Request, session: Session, settings: Settings, lang: str, now: dt.datetime
) -> JSONResponse:
    q = request.query_params
    fee: dict[str, Any] | None = None
    slots: list[dict[str, Any]] = []
    try:
        form = ServiceForm(q.get("service_form", "both"))
        day = dt.date.fromisoformat(q.get("date", ""))
    except ValueError:
        return JSONResponse({"fee": None, "slots": []})
    desk_code, commune_code = q.get("desk_code", ""), q.get("commune_code", "")
    if desk_code and commune_code and len(desk_code) <= 40 and len(commune_code) <= 10:
        found = citizen.quote(
            session,
            service_form=form,
            procedure_code=q.get("procedure_code") or None,
            desk_code=desk_code,
            commune_code=commune_code,
            day=day,
            fee_collection=q.get("fee_collection") in ("1", "true", "on"),
        )
        if found is not None:
            fee = {
                "postal_fee_vnd": found.postal_fee_vnd,
                "procedure_fee_vnd": found.procedure_fee_vnd,
                "text": message(
                    "ui.citizen.quote_fee",
                    lang,
                    amount=_vnd(found.postal_fee_vnd),
                    zone=message(f"ui.zone.{found.zone}", lang),
                ),
            }
        try:
            available = citizen.slot_availability(
                session,
                settings,
                desk_code=desk_code,
                commune_code=commune_code,
                day=day,
                now=now,
            )
        except PostalError:
            available = []
        for a in available:
            text = (
                message("ui.citizen.places_left", lang, n=a.places_left)
                if a.open
                else message(a.reason or "slot_full", lang, **(a.params or {}))
            )
            slots.append(
                {"slot": str(a.slot), "open": a.open, "places_left": a.places_left, "text": text}
            )
    return JSONResponse({"fee": fee, "slots": slots})


def _error_texts(exc: PostalError, lang: str, default_field: str) -> dict[str, str]:
    """Message per field of a domain error, for inline display."""
    texts: dict[str, str] = {}
    for e in exc.errors or [
        {"field": exc.field or default_field, "code": exc.code, "params": exc.params}
    ]:
        texts.setdefault(str(e["field"]), message(e["code"], lang, **e.get("params", {})))
    return texts


def qr_svg(text: str, label: str) -> Markup:
    """An SVG QR code of ``text`` (reportlab's encoder, drawn as one path)."""
    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    size = code.getModuleCount()
    quiet = 4
    cells = "".join(
        f"M{c + quiet} {r + quiet}h1v1h-1z"
        for r in range(size)
        for c in range(size)
        if code.isDark(r, c)
    )
    full = size + 2 * quiet
    return Markup(
        '<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" '
        'role="img" aria-label="{label}" shape-rendering="crispEdges">'
        '<rect width="{n}" height="{n}" fill="#fff"/><path d="{d}" fill="#000"/></svg>'
    ).format(n=full, label=label, d=Markup(cells))


def _track_url(request: Request, number: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/track?number={urlquote(number)}"


def _my_booking_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: str,
    token: str,
    *,
    new: bool = False,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    template: str = "my_booking.html",
    status: int = 200,
) -> HTMLResponse:
    """Render "my booking" or its cancel confirmation (404 page for an unknown token)."""
    try:
        booking = service.citizen_booking(session, token)
    except NotFound:
        return _not_found(request, session, settings, lang)
    public = service.to_public(session, settings, booking, lang)
    qr = [
        {
            "number": i.number,
            "kind": i.kind,
            "url": _track_url(request, i.number),
            "svg": qr_svg(_track_url(request, i.number), message("ui.citizen.qr_label", lang)),
        }
        for i in public.items
    ]
    ctx: dict[str, Any] = {
        "b": public,
        "token": token,
        "new": new,
        "notice": notice,
        "errors": errors or {},
        "values": values or {"date": public.date.isoformat(), "slot": str(public.slot)},
        "changeable": citizen.changeable(session, booking),
        "qr": qr,
        "summary": _summary(errors or {}, lang, ("date", "slot", "cancel")),
    }
    return _citizen(
        request,
        session,
        settings,
        template,
        lang,
        ctx,
        status=status,
        locality=citizen.booking_locality(session, booking),
    )


def _not_found(
    request: Request, session: SessionDep, settings: SettingsDep, lang: str
) -> HTMLResponse:
    return _citizen(request, session, settings, "not_found.html", lang, {}, status=404)


@router.get("/my-booking/{token}", response_class=HTMLResponse)
def my_booking(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> HTMLResponse:
    """A citizen's booking: confirmation, progress, reschedule and cancel."""
    notices = {
        "rescheduled": "ui.rescheduled",
        "cancelled": "ui.cancelled_ok",
        "found": "ui.citizen.found_notice",
    }
    key = notices.get(request.query_params.get("done", ""))
    new = request.query_params.get("new") == "1"
    notice = message(key, lang) if key else None
    return _my_booking_page(request, session, settings, lang, token, new=new, notice=notice)


def _reschedule_field(field: str, date_changed: bool, slot_changed: bool) -> str:
    """The field a refused reschedule is shown on: the one the citizen changed."""
    if (field == "date" and date_changed) or (field == "slot" and slot_changed):
        return field
    if date_changed:
        return "date"
    if slot_changed:
        return "slot"
    return field if field in ("date", "slot") else "date"


@router.post("/my-booking/{token}/reschedule", response_class=HTMLResponse)
async def my_booking_reschedule(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Reschedule from the page; a refusal is shown on the field changed, choices kept."""
    form = await request.form()
    values = {"date": str(form.get("date", "")).strip(), "slot": str(form.get("slot", ""))}
    try:
        booking = service.citizen_booking(session, token)
    except NotFound:
        return _not_found(request, session, settings, lang)
    date_changed = values["date"] != booking.date.isoformat()
    slot_changed = values["slot"] != str(booking.slot)
    try:
        try:
            day = dt.date.fromisoformat(values["date"])
        except ValueError as exc:
            raise ValidationFailed("invalid_date", field="date") from exc
        try:
            slot = Slot(values["slot"])
        except ValueError as exc:
            raise ValidationFailed("invalid_choice", field="slot") from exc
        service.reschedule(session, settings, booking, day, slot, now)
        session.commit()
        return RedirectResponse(f"/my-booking/{token}?done=rescheduled", status_code=303)
    except PostalError as exc:
        session.rollback()
        errors: dict[str, str] = {}
        for field, text in _error_texts(exc, lang, "date").items():
            errors.setdefault(_reschedule_field(field, date_changed, slot_changed), text)
        return _my_booking_page(
            request, session, settings, lang, token, errors=errors, values=values, status=exc.status
        )


@router.get("/my-booking/{token}/cancel", response_class=HTMLResponse)
def my_booking_cancel_confirm(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> HTMLResponse:
    """The confirmation step before a cancel: what will be cancelled, a reason, two buttons."""
    return _my_booking_page(request, session, settings, lang, token, template="cancel.html")


@router.post("/my-booking/{token}/cancel", response_class=HTMLResponse)
async def my_booking_cancel(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Cancel once confirmed (``confirm=yes`` from the confirmation page); otherwise show it."""
    form = await request.form()
    reason = str(form.get("reason", "")).strip()[:300] or None
    if form.get("confirm") != "yes":
        values = {"reason": reason or ""}
        return _my_booking_page(
            request, session, settings, lang, token, values=values, template="cancel.html"
        )
    try:
        booking = service.citizen_booking(session, token)
    except NotFound:
        return _not_found(request, session, settings, lang)
    try:
        service.cancel(session, settings, booking, reason, now)
        session.commit()
        return RedirectResponse(f"/my-booking/{token}?done=cancelled", status_code=303)
    except PostalError as exc:
        session.rollback()
        errors = {"cancel": message(exc.code, lang, **exc.params)}
        return _my_booking_page(
            request, session, settings, lang, token, errors=errors, status=exc.status
        )


# --- finding a booking again ---------------------------------------------------------------


def _find_rules(settings: SettingsDep) -> tuple[Rule, Rule]:
    """Per address (the public tracking allowance) and per reference (a few tries)."""
    by_address = Rule(
        "find-booking", settings.tracking_limit_per_address, settings.tracking_limit_window_s
    )
    by_reference = Rule(
        "find-booking-ref",
        settings.find_booking_tries_per_reference,
        settings.find_booking_window_s,
    )
    return by_address, by_reference


@router.get("/find-booking", response_class=HTMLResponse)
def find_booking_form(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> HTMLResponse:
    """Find a booking by its reference and the phone number given when booking."""
    ctx: dict[str, Any] = {"values": {}, "errors": {}, "summary": [], "form_error": None}
    return _citizen(request, session, settings, "find_booking.html", lang, ctx)


@router.post("/find-booking", response_class=HTMLResponse)
async def find_booking(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """On a match, open the booking under a fresh link (the lost one stops working; no link is
    ever sent or stored in clear); otherwise one answer for a wrong reference or phone."""
    form = await request.form()
    values = {
        "reference": str(form.get("reference", "")).strip()[:20],
        "phone": str(form.get("phone", "")).strip()[:30],
    }
    errors = {f: message("field_required", lang) for f in ("reference", "phone") if not values[f]}
    form_error: str | None = None
    status = 422
    if not errors:
        by_address, by_reference = _find_rules(settings)
        store = counters(request)
        ref_key = "".join(values["reference"].split()).upper()
        try:
            address = client_address(request, settings)
            for rule, key in ((by_address, address), (by_reference, ref_key)):
                await run_in_threadpool(enforce, store, rule, key, now, "find_booking_rate_limited")
        except TooManyRequests as exc:
            form_error = message("find_booking_rate_limited", lang, **exc.params)
            status = 429
        else:
            booking = citizen.find_for_citizen(session, values["reference"], values["phone"])
            if booking is not None:
                token = service.reissue_access_token(session, booking.reference)
                session.commit()
                return RedirectResponse(f"/my-booking/{token}?done=found", status_code=303)
            form_error = message("ui.citizen.find_no_match", lang)
            status = 404
    ctx = {
        "values": values,
        "errors": errors,
        "summary": _summary(errors, lang, ("reference", "phone")),
        "form_error": form_error,
    }
    return _citizen(request, session, settings, "find_booking.html", lang, ctx, status=status)
