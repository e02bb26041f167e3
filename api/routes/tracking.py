"""Custody ledger: courier event batches, one-time codes, public tracking, EPCIS export, verify."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import LangDep, NowDep, SessionDep, SettingsDep, roles
from api.limits import TrackingLimit
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking import service as bookings
from postal.booking.models import Booking
from postal.booking.scope import visible_bookings
from postal.errors import NotFound, ServiceUnavailable, ValidationFailed
from postal.tracking import epcis, events, ledger, public
from postal.tracking.config import get_tracking_settings
from postal.tracking.group import GroupWriter
from postal.tracking.items import find_item
from postal.tracking.schemas import BatchResult, EventBatch, OtpSent, TrackingPublic

router = APIRouter(tags=["custody ledger"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong credentials (`unauthenticated`)", **_PROBLEM},
    403: {"description": "Role, holder or desk does not admit the action", **_PROBLEM},
    404: {"description": "Unknown item (`unknown_item`)", **_PROBLEM},
    409: {"description": "Illegal transition; `state` names the current state", **_PROBLEM},
    422: {"description": "Invalid field, wrong check digit, reused event id", **_PROBLEM},
    429: {"description": "A limit or counter refuses the request; see Retry-After", **_PROBLEM},
}
Staff = Annotated[Principal, Depends(roles(Role.courier, Role.clerk, Role.admin))]


async def illegal_transition(request: Request, exc: Exception) -> Response:
    """Problem details of a refused transition, with the item's current ``state``."""
    from api.main import _postal_error

    assert isinstance(exc, events.IllegalTransition)
    response = await _postal_error(request, exc)
    body = json.loads(bytes(response.body))
    body["state"] = exc.current_state.value
    return JSONResponse(body, status_code=exc.status, media_type="application/problem+json")


@router.post(
    "/events",
    response_model=BatchResult,
    summary="Record a batch of custody events (offline capture)",
    description=(
        "Couriers (and clerks for `result_ready`) send the events captured on the device, in "
        "the order they happened. Each event's `event_id` (a UUID made on the device) is its "
        "Idempotency-Key: re-sending it returns the stored outcome (`replayed`); the same id "
        "with another body is refused with `idempotency_key_reused`. Each event is recorded or "
        "refused on its own; the reply lists one outcome per event with its HTTP status, and the "
        "current `state` when a transition is illegal. Handoffs to and from a desk go through "
        "handover records, not this endpoint."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 422)},
)
async def post_events(
    request: Request,
    body: EventBatch,
    now: NowDep,
    lang: LangDep,
    principal: Staff,
) -> Response:
    """Queue the batch for this process's group writer; reply once its group has committed."""
    # No request session: the sign-in read ran in a session of its own and the writer records
    # in its own transaction, so this coroutine never blocks the event loop.
    writer: GroupWriter = request.app.state.ledger_writer
    pending = asyncio.wrap_future(writer.submit(principal, body.events, now, lang))
    try:
        results = await asyncio.wait_for(pending, get_tracking_settings().ledger_reply_timeout_s)
    except TimeoutError as exc:
        raise ServiceUnavailable("ledger_busy") from exc
    # Serialised here: the reply is already a validated model, checking it again costs time.
    return Response(BatchResult(results=results).model_dump_json(), media_type="application/json")


@router.post(
    "/items/{number}/otp",
    status_code=202,
    response_model=OtpSent,
    summary="Send a one-time code to the citizen",
    description=(
        "Queues an SMS with a 6-digit code to the booking's phone (notification outbox). The "
        "citizen reads it to the courier, who sends it in the pickup or delivery event. A code "
        "dies after `POSTAL_OTP_MAX_ATTEMPTS` wrong tries; codes per item and per courier per "
        "hour are capped (429 `otp_item_rate_limited` / `otp_courier_rate_limited`, "
        "Retry-After)."
    ),
    responses=ERRORS,
)
def send_otp(
    number: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Annotated[Principal, Depends(roles(Role.courier, Role.admin))],
) -> OtpSent:
    """Create a one-time code for an item."""
    sent = events.request_otp(
        session, principal, get_tracking_settings(), number, now, settings=settings
    )
    session.commit()
    return sent


@router.get(
    "/items/{number}/tracking",
    response_model=TrackingPublic,
    summary="Public tracking by item number",
    description=(
        "Open to anyone holding the S10 number: the state, the desk and a timeline in local "
        "time (Vietnamese by default, `Accept-Language: en` for English). The procedure and "
        "the masked name and phone only with `phone_last4`. "
        "Look-ups per client address are limited (429 `tracking_rate_limited`, Retry-After)."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (404, 422, 429)},
    dependencies=[TrackingLimit],
)
def track_item(
    number: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    phone_last4: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{4}$",
            description="The last four digits of the booking's phone: with them the reply also "
            "names the procedure and shows the masked name and phone.",
        ),
    ] = None,
) -> TrackingPublic:
    """The public view of an item."""
    return public.track(session, settings, number, lang, phone_last4)


@router.get(
    "/events/epcis",
    summary="EPCIS 2.0 JSON-LD export",
    description=(
        "The custody events of one item (`item_number`) or of one local day (`date`), as a GS1 "
        "EPCIS 2.0 EPCISDocument (ObjectEvents with bizStep, disposition, source and "
        "destination parties, and the UPU event code)."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 404, 422)},
)
def export_epcis(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: Annotated[
        Principal, Depends(roles(Role.admin, Role.dispatcher, Role.integration, Role.clerk))
    ],
    item_number: str | None = None,
    date: dt.date | None = None,
) -> JSONResponse:
    """Export events as JSON-LD: only those of the bookings the caller may read (an admin's
    every event; a dispatcher's post offices, a clerk's desk, a key's own bookings)."""
    if item_number:
        item = find_item(session, item_number)
        assert item.id is not None
        # An item of a booking the caller may not read is as unknown as a missing one.
        try:
            bookings.authorise_read(session, principal, session.get_one(Booking, item.booking_id))
        except NotFound:
            raise NotFound("unknown_item", field="item_number", number=item.number) from None
        rows = epcis.events_of_item(session, item.id)
    elif date:
        rows = epcis.events_of_day(session, date, settings.timezone, visible_bookings(principal))
    else:
        raise ValidationFailed("epcis_query_required", field="item_number")
    return JSONResponse(epcis.document(rows, now), media_type="application/ld+json")


@router.get(
    "/ledger/verify",
    summary="Verify the ledger's hash chains (admin)",
    description=(
        "Recomputes every event hash and the per-item and whole-ledger links; `ok` is false "
        "and `broken_seq` names the first broken link when a row was altered or removed."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403)},
)
def verify_ledger(
    session: SessionDep, principal: Annotated[Principal, Depends(roles(Role.admin))]
) -> dict[str, Any]:
    """Check the ledger."""
    return ledger.verify(session).as_dict()
