"""The desk page: today's expected items (search, select all), confirming incoming dossiers,
handing results to couriers, handover records; and the public record verification page."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.signing import sign_record
from api.routes.ui_common import page_principal, to_login
from postal.auth.models import Role, StaffUser
from postal.auth.service import Principal
from postal.booking.models import Item, ItemState
from postal.calendar import to_local
from postal.catalogue.models import Desk, ItemKind
from postal.collation import sorted_vi
from postal.config import Settings
from postal.errors import Conflict, FieldErrors, PostalError
from postal.i18n import message
from postal.ids import parse_s10
from postal.tracking import events, handover
from postal.tracking.config import get_tracking_settings
from postal.tracking.models import (
    HandoverLine,
    HandoverRecord,
    LineStatus,
    RecordDirection,
    RecordStatus,
)
from postal.tracking.schemas import EventIn, RecordOpen, RecordPublic

router = APIRouter(include_in_schema=False)
_RECENT = 10
_NOTICES = ("confirmed", "many", "noted", "closed", "opened", "ready", "signed")
_FINDINGS = (LineStatus.received, LineStatus.missing, LineStatus.seal_damaged)
MAX_QUERY = 60
MAX_NOTE = 200


def _localised(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Message parameters with an item state code replaced by its label in ``lang``."""
    state = params.get("state")
    if isinstance(state, str) and state in ItemState.__members__:
        return {**params, "state": message(f"ui.state.{state}", lang)}
    return params


def error_text(exc: PostalError, lang: str) -> str:
    """A PostalError's message in ``lang`` with each field error; states by their label."""
    parts = [message(exc.code, lang, **_localised(exc.params, lang))]
    parts += [message(e["code"], lang, **_localised(e.get("params", {}), lang)) for e in exc.errors]
    return " — ".join(dict.fromkeys(parts))


def _records(session: Session, desk_code: str) -> tuple[list[HandoverRecord], list[HandoverRecord]]:
    rows = session.exec(
        select(HandoverRecord)
        .where(HandoverRecord.desk_code == desk_code)
        .order_by(col(HandoverRecord.id).desc())
    ).all()
    open_ = [r for r in rows if r.status == RecordStatus.open]
    closed = [r for r in rows if r.status == RecordStatus.closed][:_RECENT]
    return open_, closed


def _awaiting(session: Session, desk_code: str) -> list[Item]:
    return list(
        session.exec(
            select(Item)
            .where(
                Item.desk_code == desk_code,
                Item.state == ItemState.awaiting_result,
                Item.kind == ItemKind.result,
            )
            .order_by(col(Item.number))
        ).all()
    )


def _couriers(session: Session) -> list[StaffUser]:
    """Active couriers in Vietnamese dictionary order of their full names."""
    rows = session.exec(
        select(StaffUser).where(StaffUser.role == Role.courier, col(StaffUser.active))
    ).all()
    return sorted_vi(rows, key=lambda u: f"{u.full_name}\t{u.username}")


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = session.exec(select(StaffUser).where(col(StaffUser.id).in_(ids))).all()
    return {u.id: u.full_name for u in users if u.id is not None}


def _context(
    session: Session,
    settings: Settings,
    principal: Principal,
    record_id: int | None,
    query: str,
    lang: str,
) -> dict[str, Any]:
    assert principal.desk_code is not None
    desk = session.get(Desk, principal.desk_code)
    open_, closed = _records(session, principal.desk_code)
    record = None
    record_courier = 0
    courier_ids = {r.courier_id for r in open_ + closed}
    if record_id is not None:
        row = handover.get_record(session, record_id)
        handover.authorise_read(session, principal, row)
        record = handover.to_public(session, settings, row)
        courier_ids.add(row.courier_id)
        record_courier = row.courier_id
    expected = handover.expected_today(session, principal.desk_code, query, lang)
    courier_names = _names(session, courier_ids)
    ctx = {
        "principal": principal,
        "desk": desk,
        "open_records": open_,
        "closed_records": closed,
        "record": record,
        "record_number": handover.record_number(record.id) if record else None,
        "record_courier": courier_names.get(record_courier, "") if record else "",
        "verify_path": _verify_path(record) if record else None,
        "courier_names": courier_names,
        "numbers": {r.id: handover.record_number(r.id or 0) for r in open_ + closed},
        "expected": expected,
        "query": query,
        "findings": _FINDINGS,
        "awaiting": _awaiting(session, principal.desk_code),
        "couriers": _couriers(session),
        "error": None,
        "notice": None,
    }
    session.commit()
    return ctx


def _verify_path(record: RecordPublic) -> str:
    number = handover.record_number(record.id)
    return f"/verify/handover/{number}?h={handover.content_hash(record)}"


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    lang: str,
    principal: Principal,
    record_id: int | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    query = request.query_params.get("q", "")[:MAX_QUERY]
    ctx = _context(session, settings, principal, record_id, query, lang)
    ctx["error"] = error
    notice = request.query_params.get("done")
    if notice in _NOTICES:
        count = request.query_params.get("n", "")
        ctx["notice"] = message(
            f"ui.desk.done.{notice}", lang, count=count if count.isdigit() else "1"
        )
    return _render(request, "desk.html", lang, ctx, status=status)


def _clerk(request: Request, session: Session) -> Principal | None:
    principal = page_principal(request, session, Role.clerk)
    return principal if principal and principal.desk_code else None


@router.get("/desk", response_class=HTMLResponse)
def desk_home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
) -> Response:
    """The clerk's desk: today's expected items, open and recent records."""
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    return _page(request, session, settings, lang, principal)


@router.get("/desk/records/{record_id}", response_class=HTMLResponse)
def desk_record(
    request: Request,
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
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
    """Confirm one item, typed or scanned, as received, missing or seal damaged.

    An item of another desk, or one not on its way to this desk, is refused in red with its
    real desk and state; nothing is written.
    """
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    form = await request.form()
    number = str(form.get("item_number", "")).strip().upper().replace(" ", "")
    try:
        status = LineStatus(str(form.get("status", "received")))
        if status not in _FINDINGS:
            raise ValueError(status)
        note = str(form.get("note", "")).strip()[:MAX_NOTE] or None
        line = handover.confirm_line(session, principal, record_id, number, status, now, note)
        noted = line.status == LineStatus.not_expected
        session.commit()
    except PostalError as exc:
        session.rollback()
        text = error_text(exc, lang)
        return _page(request, session, settings, lang, principal, record_id, text, exc.status)
    except ValueError:
        session.rollback()
        text = message("invalid_choice", lang)
        return _page(request, session, settings, lang, principal, record_id, text, 422)
    done = "noted" if noted else "confirmed"
    return RedirectResponse(f"/desk/records/{record_id}?done={done}", status_code=303)


def _pending_record(session: Session, desk_code: str, number: str) -> int | None:
    """The open courier-to-desk record of the desk listing ``number`` still unconfirmed."""
    row = session.exec(
        select(HandoverLine.record_id)
        .join(HandoverRecord, col(HandoverRecord.id) == col(HandoverLine.record_id))
        .where(
            HandoverRecord.desk_code == desk_code,
            HandoverRecord.status == RecordStatus.open,
            HandoverRecord.direction == RecordDirection.courier_to_desk,
            HandoverLine.item_number == number,
            HandoverLine.status == LineStatus.pending,
        )
    ).first()
    return row


@router.post("/desk/confirm", response_class=HTMLResponse)
async def desk_confirm_many(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Confirm the ticked incoming items at once, each with its finding and note.

    All or nothing: one refused item leaves every other unconfirmed.
    """
    principal = _clerk(request, session)
    if principal is None:
        return to_login(request)
    assert principal.desk_code is not None
    form = await request.form()
    numbers = list(dict.fromkeys(str(v).strip().upper() for v in form.getlist("item_numbers")))
    if not numbers:
        text = message("ui.desk.choose_items", lang)
        return _page(request, session, settings, lang, principal, None, text, 422)
    errors = FieldErrors()
    records: set[int] = set()
    try:
        for number in numbers:
            try:
                normalised = str(parse_s10(number, "item_numbers"))
                finding = LineStatus(str(form.get(f"finding_{number}", "received")))
                if finding not in _FINDINGS:
                    raise ValueError(finding)
                note = str(form.get(f"note_{number}", "")).strip()[:MAX_NOTE] or None
                record_id = _pending_record(session, principal.desk_code, normalised)
                if record_id is None:
                    raise Conflict("item_not_in_open_record", number=normalised)
                handover.confirm_line(session, principal, record_id, normalised, finding, now, note)
                records.add(record_id)
            except ValueError:
                errors.add(f"finding_{number}", "invalid_choice")
            except PostalError as exc:
                errors.add("item_numbers", exc.code, **{"number": number, **exc.params})
        errors.raise_if_any()
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(request, session, settings, lang, principal, None, error_text(exc, lang), 409)
    target = f"/desk/records/{records.pop()}" if len(records) == 1 else "/desk"
    return RedirectResponse(f"{target}?done=many&n={len(numbers)}", status_code=303)


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
        text = error_text(exc, lang)
        return _page(request, session, settings, lang, principal, record_id, text, exc.status)
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
        text = error_text(exc, lang)
        return _page(request, session, settings, lang, principal, record_id, text, exc.status)
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


@router.get("/verify/handover/{number}", response_class=HTMLResponse)
def verify_record(
    request: Request,
    number: Annotated[str, Path(max_length=20)],
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    h: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Public: whether a printed record (its QR code) matches the stored one.

    Shows the record's number, dates, counts and content hash when it does; never a name.
    """
    result = handover.verify(session, settings, number, h)
    session.commit()  # a read: end it

    def local(value: dt.datetime | None) -> str:
        return to_local(value).strftime("%H:%M %d/%m/%Y") if value else "-"

    ctx = {"v": result, "opened": local(result.opened_at), "closed": local(result.closed_at)}
    return _render(request, "desk_verify.html", lang, ctx, status=200 if result.valid else 404)
