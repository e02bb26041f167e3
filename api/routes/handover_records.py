"""Handover records between couriers and desks: open, confirm items, close, sign, print."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from api.deps import DbId, LangDep, NowDep, SessionDep, SettingsDep, roles
from api.idempotent import run_idempotent
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.catalogue import service as catalogue
from postal.tracking import handover, pdf, signature
from postal.tracking.models import LineStatus
from postal.tracking.schemas import LineConfirm, RecordAck, RecordOpen, RecordPublic

router = APIRouter(prefix="/handover-records", tags=["handover records"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong credentials", **_PROBLEM},
    403: {"description": "Not a party to the record, or a clerk of another desk", **_PROBLEM},
    404: {"description": "Unknown record or item", **_PROBLEM},
    409: {"description": "Closed record, confirmed line or illegal transition", **_PROBLEM},
    422: {"description": "Invalid item numbers (each named in `errors`)", **_PROBLEM},
}
Party = Annotated[Principal, Depends(roles(Role.courier, Role.clerk, Role.admin, Role.dispatcher))]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _location(record: dict[str, Any]) -> str:
    return f"/api/v1/handover-records/{record['id']}"


@router.post(
    "",
    status_code=201,
    response_model=RecordPublic,
    summary="Open a handover record",
    description=(
        "`courier_to_desk`: the courier lists the dossiers (or returned results) it holds for "
        "a desk. `desk_to_courier`: a clerk lists results ready at the desk for a courier. "
        "Every item must be held by the opener, bound to the desk and in no other open record."
    ),
    responses={**ERRORS, 201: {"description": "Opened; Location names the record"}},
)
def open_record(
    body: RecordOpen,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Party,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Open a record."""

    def action() -> RecordPublic:
        record = handover.open_record(session, principal, body, now)
        return handover.to_public(session, settings, record)

    scope = f"handover.open:{principal.username}"
    return run_idempotent(
        session, scope, idempotency_key, body.model_dump(mode="json"), 201, action, _location
    )


@router.get(
    "/{record_id}",
    response_model=RecordPublic,
    summary="One handover record",
    description="For its courier, clerks of its desk, dispatchers and admins.",
    responses={k: v for k, v in ERRORS.items() if k in (401, 404)},
)
def read_record(
    record_id: DbId, session: SessionDep, settings: SettingsDep, principal: Party
) -> RecordPublic:
    """Read a record with its lines."""
    record = handover.get_record(session, record_id)
    handover.authorise_read(session, principal, record)
    return handover.to_public(session, settings, record)


@router.post(
    "/{record_id}/lines",
    response_model=RecordPublic,
    summary="Confirm one item (scanned or typed)",
    description=(
        "The receiving party (the desk's clerk, or the courier for results) records `received`, "
        "`missing` or `seal_damaged` for a listed item; a known item that is not listed is "
        "noted `not_expected`. Each finding is a custody event."
    ),
    responses=ERRORS,
)
def confirm_line(
    record_id: DbId,
    body: LineConfirm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Party,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Confirm an item of an open record."""

    def action() -> RecordPublic:
        handover.confirm_line(
            session, principal, record_id, body.item_number, LineStatus(body.status), now, body.note
        )
        return handover.to_public(session, settings, handover.get_record(session, record_id))

    scope = f"handover.line:{record_id}"
    return run_idempotent(
        session, scope, idempotency_key, body.model_dump(mode="json"), 200, action
    )


@router.post(
    "/{record_id}/close",
    response_model=RecordPublic,
    summary="Close a record",
    description="Every unconfirmed item becomes missing; the record is immutable afterwards.",
    responses=ERRORS,
)
def close_record(
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Party,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Close the record."""

    def action() -> RecordPublic:
        record = handover.close_record(session, principal, record_id, now)
        return handover.to_public(session, settings, record)

    scope = f"handover.close:{record_id}"
    return run_idempotent(session, scope, idempotency_key, {}, 200, action)


@router.post(
    "/{record_id}/acknowledge",
    response_model=RecordPublic,
    summary="Sign a closed record",
    description=(
        "The courier and a clerk of the desk each sign once: the drawn signature's strokes are "
        "sent and the server keeps their SHA-256 (a client-chosen hash is never taken)."
    ),
    responses=ERRORS,
)
def acknowledge(
    record_id: DbId,
    body: RecordAck,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Party,
) -> RecordPublic:
    """Acknowledge the record."""
    digest = signature.verified_digest(body.signature_strokes, body.signature_sha256, "body")
    record = handover.acknowledge(session, principal, record_id, digest, now)
    result = handover.to_public(session, settings, record)
    session.commit()
    return result


@router.get(
    "/{record_id}/pdf",
    summary="Print a record (PDF)",
    description=(
        "A4 official record: national header, parties by full name, each line's finding, "
        "signature blocks and a QR code to its public verification page."
    ),
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The record"},
        **{k: v for k, v in ERRORS.items() if k in (401, 404)},
    },
    response_class=Response,
)
def record_pdf(
    record_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    principal: Party,
    lang: LangDep,
    request: Request,
) -> Response:
    """Render the record."""
    record = handover.get_record(session, record_id)
    handover.authorise_read(session, principal, record)
    catalogue.desk_or_404(session, record.desk_code)
    printable = handover.printable(session, settings, record)
    data = pdf.render(printable, settings, lang, str(request.base_url))
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="handover-{record_id}.pdf"'},
    )
