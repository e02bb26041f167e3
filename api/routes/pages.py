"""Server-rendered pages for citizens (Vietnamese first, English switch, no JavaScript needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import col, select

from api.deps import LangDep, NowDep, SessionDep, SettingsDep
from api.limits import AnonymousBookingLimit
from postal.booking import service
from postal.booking.models import BookingChannel, ServiceForm
from postal.booking.schemas import BookingCreate
from postal.calendar import Slot
from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune, Desk, Procedure, ServiceArea
from postal.errors import Conflict, NotFound, PostalError, ValidationFailed
from postal.i18n import message

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
CITIZEN_COOKIE = "postal_booking"


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


def _form_options(session: SessionDep) -> dict[str, Any]:
    procedures = session.exec(
        select(Procedure)
        .where(col(Procedure.in_person_only).is_(False))
        .order_by(col(Procedure.field_name), col(Procedure.name))
    ).all()
    served = select(ServiceArea.commune_code)
    communes = session.exec(
        select(Commune).where(col(Commune.code).in_(served)).order_by(col(Commune.name))
    ).all()
    desks = session.exec(select(Desk).order_by(col(Desk.name))).all()
    return {"procedures": procedures, "communes": communes, "desks": desks}


def _default_date(session: SessionDep, now: dt.datetime) -> dt.date:
    cal = catalogue.work_calendar(session)
    return cal.next_working_day(now.date())


@router.get("/", response_class=HTMLResponse)
def booking_form(request: Request, session: SessionDep, lang: LangDep, now: NowDep) -> HTMLResponse:
    """The booking form."""
    values = {
        "service_form": "both",
        "slot": "morning",
        "contact_channel": "sms",
        "date": _default_date(session, now),
    }
    return _render(
        request,
        "book.html",
        lang,
        {**_form_options(session), "values": values, "errors": {}, "form_error": None},
    )


@router.post("/", response_class=HTMLResponse, dependencies=[AnonymousBookingLimit])
async def booking_submit(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Validate and create a booking; re-render the form with inline messages on error."""
    form = await request.form()
    values: dict[str, Any] = {k: str(v).strip() for k, v in form.items()}
    values["fee_collection"] = "fee_collection" in form
    data: dict[str, Any] = {k: v for k, v in values.items() if v != ""}
    errors: dict[str, str] = {}
    form_error: str | None = None
    try:
        # Messages to the citizen go in the language of the page they booked on.
        request_model = BookingCreate.model_validate(
            {k: data.get(k) for k in BookingCreate.model_fields if k in data} | {"lang": lang}
        )
        created = service.create_booking(
            session, settings, request_model, channel=BookingChannel.citizen, now=now
        )
        session.commit()
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "body"
            code = "field_required" if err["type"] == "missing" else "invalid_value"
            errors.setdefault(field, message(code, lang))
    except ValidationFailed as exc:
        errors.update(_error_texts(exc, lang, "body"))
    except Conflict as exc:
        form_error = message(exc.code, lang, **exc.params)
        if exc.field:
            errors[exc.field] = form_error
    else:
        response = RedirectResponse(f"/my-booking/{created.access_token}?new=1", status_code=303)
        return response
    session.rollback()
    return _render(
        request,
        "book.html",
        lang,
        {**_form_options(session), "values": values, "errors": errors, "form_error": form_error},
        status=422 if errors else 409,
    )


def _my_context(
    session: SessionDep, settings: SettingsDep, token: str
) -> tuple[Any, dict[str, Any]]:
    booking = service.citizen_booking(session, token)
    public = service.to_public(session, settings, booking)
    return booking, {"b": public, "token": token}


def _error_texts(exc: PostalError, lang: str, default_field: str) -> dict[str, str]:
    """Message per field of a domain error, for inline display."""
    texts: dict[str, str] = {}
    for e in exc.errors or [
        {"field": exc.field or default_field, "code": exc.code, "params": exc.params}
    ]:
        texts.setdefault(str(e["field"]), message(e["code"], lang, **e.get("params", {})))
    return texts


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
    status: int = 200,
) -> HTMLResponse:
    """Render "my booking" (404 page for an unknown token)."""
    try:
        _, ctx = _my_context(session, settings, token)
    except NotFound:
        return _render(request, "not_found.html", lang, {}, status=404)
    ctx.update(new=new, notice=notice, errors=errors or {}, ServiceForm=ServiceForm)
    return _render(request, "my_booking.html", lang, ctx, status=status)


@router.get("/my-booking/{token}", response_class=HTMLResponse)
def my_booking(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> HTMLResponse:
    """A citizen's booking: confirmation, status, reschedule and cancel forms."""
    notices = {"rescheduled": "ui.rescheduled", "cancelled": "ui.cancelled_ok"}
    key = notices.get(request.query_params.get("done", ""))
    return _my_booking_page(
        request,
        session,
        settings,
        lang,
        token,
        new=request.query_params.get("new") == "1",
        notice=message(key, lang) if key else None,
    )


@router.post("/my-booking/{token}/reschedule", response_class=HTMLResponse)
async def my_booking_reschedule(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Reschedule from the page."""
    form = await request.form()
    try:
        booking, _ = _my_context(session, settings, token)
        try:
            day = dt.date.fromisoformat(str(form.get("date", "")))
        except ValueError as exc:
            raise ValidationFailed("invalid_date", field="date") from exc
        try:
            slot = Slot(str(form.get("slot", "")))
        except ValueError as exc:
            raise ValidationFailed("invalid_choice", field="slot") from exc
        service.reschedule(session, settings, booking, day, slot, now)
        session.commit()
        return RedirectResponse(f"/my-booking/{token}?done=rescheduled", status_code=303)
    except NotFound:
        return _render(request, "not_found.html", lang, {}, status=404)
    except PostalError as exc:
        session.rollback()
        errors = _error_texts(exc, lang, "date")
        return _my_booking_page(
            request, session, settings, lang, token, errors=errors, status=exc.status
        )


@router.post("/my-booking/{token}/cancel", response_class=HTMLResponse)
async def my_booking_cancel(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Cancel from the page."""
    form = await request.form()
    try:
        booking, _ = _my_context(session, settings, token)
        reason = str(form.get("reason", "")).strip() or None
        service.cancel(session, settings, booking, reason, now)
        session.commit()
        return RedirectResponse(f"/my-booking/{token}?done=cancelled", status_code=303)
    except NotFound:
        return _render(request, "not_found.html", lang, {}, status=404)
    except PostalError as exc:
        session.rollback()
        errors = {"cancel": message(exc.code, lang, **exc.params)}
        return _my_booking_page(
            request, session, settings, lang, token, errors=errors, status=exc.status
        )
