"""The desk page: incoming handover records, item confirmation, closing, results to couriers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import MAX_ID, DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.signing import sign_record
from api.routes.ui_common import error_text, page_principal, to_login
from postal.auth.models import Role, StaffUser
from postal.auth.service import Principal
from postal.booking.models import Item, ItemState
from postal.catalogue.models import Desk, ItemKind
from postal.config import Settings
from postal.errors import PostalError
from postal.i18n import message
from postal.tracking import events, handover
from postal.tracking.config import get_tracking_settings
from postal.tracking.models import HandoverRecord, LineStatus, RecordDirection, RecordStatus
from postal.tracking.schemas import EventIn, RecordOpen

router = APIRouter(include_in_schema=False)
_RECENT = 10


def _records(session: Session, desk_code: str) -> tuple[list[HandoverRecord], list[HandoverRecord]]:
    rows = session.exec(
        select(HandoverRecord)
        .where(HandoverRecord.desk_code == desk_code)
        .order_by(col(HandoverRecord.id).desc())
    ).all()
    open_ = [r for r in rows if r.status == RecordStatus.open]
    closed = [r for r in rows if r.status == RecordStatus.closed][:_RECENT]
    return open_, closed


def _items(session: Session, desk_code: str, state: ItemState) -> list[Item]:
    return list(
        session.exec(
            select(Item)
            .where(Item.desk_code == desk_code, Item.state == state, Item.kind == ItemKind.result)
            .order_by(col(Item.number))
        ).all()
    )


def _couriers(session: Session) -> list[StaffUser]:
    return list(
        session.exec(
            select(StaffUser)
            .where(StaffUser.role == Role.courier, col(StaffUser.active))
            .order_by(col(StaffUser.username))
        ).all()
    )


def _context(
    session: Session, settings: Settings, principal: Principal, record_id: int | None
) -> dict[str, Any]:
    assert principal.desk_code is not None
    desk = session.get(Desk, principal.desk_code)
    open_, closed = _records(session, principal.desk_code)
    record = None
    if record_id is not None:
        row = handover.get_record(session, record_id)
        handover.authorise_read(session, principal, row)
        record = handover.to_public(session, settings, row)
    ctx = {
        "principal": principal,
        "desk": desk,
        "open_records": open_,
        "closed_records": closed,
        "record": record,
        "awaiting": _items(session, principal.desk_code, ItemState.awaiting_result),
        "ready": _items(session, principal.desk_code, ItemState.ready_at_desk),
        "couriers": _couriers(session),
        "error": None,
        "notice": None,
    }
    session.commit()
    return ctx


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    lang: str,
    principal: Principal,
    record_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = _context(session, settings, principal, record_id)
    ctx["error"] = error
    notice = request.query_params.get("done")
    if notice in ("confirmed", "closed", "opened", "ready", "signed"):
        ctx["notice"] = message(f"ui.desk.done.{notice}", lang)
    return _render(request, "desk.html", lang, ctx, status=status)


def _clerk(request: Request, session: Session) -> Principal | None:
    principal = page_principal(request, session, Role.clerk)
    return principal if principal and principal.desk_code else None


@router.get("/desk", response_class=HTMLResponse)
def desk_home(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """The clerk's desk: open records, recent closed ones, results to hand over."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    return _page(request, session, settings, lang, principal)


@router.get("/desk/records/{record_id}", response_class=HTMLResponse)
def desk_record(
    request: Request, record_id: DbId, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """One record with its lines and the confirmation form."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    try:
        return _page(request, session, settings, lang, principal, record_id)
    except PostalError as exc:
        session.rollback()
        return _page(
            request, session, settings, lang, principal, None, error_text(exc, lang), exc.status
        )


@router.post("/desk/records/{record_id}/lines", response_class=HTMLResponse)
async def desk_confirm(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Confirm one item, typed or scanned, as received, missing or seal damaged."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    number = str(form.get("item_number", "")).strip().upper().replace(" ", "")
    try:
        status = LineStatus(str(form.get("status", "received")))
        note = str(form.get("note", "")).strip() or None
        handover.confirm_line(session, principal, record_id, number, status, now, note)
        session.commit()
    except (PostalError, ValueError) as exc:
        session.rollback()
        text = error_text(exc, lang) if isinstance(exc, PostalError) else str(exc)
        code = exc.status if isinstance(exc, PostalError) else 422
        return _page(request, session, settings, lang, principal, record_id, text, code)
    return RedirectResponse(f"/desk/records/{record_id}?done=confirmed", status_code=303)


@router.post("/desk/records/{record_id}/close", response_class=HTMLResponse)
def desk_close(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Close the record: every unconfirmed item becomes missing."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    try:
        handover.close_record(session, principal, record_id, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(
            request,
            session,
            settings,
            lang,
            principal,
            record_id,
            error_text(exc, lang),
            exc.status,
        )
    return RedirectResponse(f"/desk/records/{record_id}?done=closed", status_code=303)


@router.post("/desk/records/{record_id}/sign", response_class=HTMLResponse)
async def desk_sign(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """The clerk signs the closed record."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    try:
        sign_record(session, principal, record_id, form, now)
    except PostalError as exc:
        session.rollback()
        return _page(
            request,
            session,
            settings,
            lang,
            principal,
            record_id,
            error_text(exc, lang),
            exc.status,
        )
    return RedirectResponse(f"/desk/records/{record_id}?done=signed", status_code=303)


@router.post("/desk/ready", response_class=HTMLResponse)
async def desk_result_ready(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Mark a result ready at the desk (a custody event by the clerk)."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    number = str(form.get("item_number", "")).strip().upper()
    body = EventIn(event_id=uuid.uuid4(), type="result_ready", item_number=number, device_time=now)
    [result] = events.record_batch(
        session, settings, get_tracking_settings(), principal, [body], now, lang
    )
    if result.status == "rejected":
        session.rollback()
        return _page(
            request, session, settings, lang, principal, None, result.detail, result.http_status
        )
    session.commit()
    return RedirectResponse("/desk?done=ready", status_code=303)


@router.post("/desk/handover", response_class=HTMLResponse)
async def desk_hand_to_courier(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Open a desk-to-courier record for the results ticked, for the chosen courier."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    numbers = [str(v) for v in form.getlist("item_numbers")]
    try:
        body = RecordOpen(
            direction=RecordDirection.desk_to_courier,
            desk_code=principal.desk_code or "",
            courier_username=str(form.get("courier_username", "")) or None,
            item_numbers=numbers,
        )
        record = handover.open_record(session, principal, body, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(
            request, session, settings, lang, principal, None, error_text(exc, lang), exc.status
        )
    except ValueError:
        session.rollback()
        text = message("ui.desk.choose_items", lang)
        return _page(request, session, settings, lang, principal, None, text, 422)
    return RedirectResponse(f"/desk/records/{record.id}?done=opened", status_code=303)
