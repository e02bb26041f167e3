"""Bookings: citizens create, view, reschedule and cancel; staff search; the one-stop system
creates result deliveries."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from api.deps import NowDep, PrincipalDep, SessionDep, SettingsDep, roles
from postal import idempotency
from postal.auth.models import Role
from postal.auth.service import Principal, integration_principal
from postal.booking import service
from postal.booking.models import BookingChannel, BookingStatus
from postal.booking.schemas import (
    BookingCancel,
    BookingCreate,
    BookingCreated,
    BookingPage,
    BookingPublic,
    BookingReschedule,
)
from postal.errors import Forbidden

router = APIRouter(prefix="/bookings", tags=["bookings"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong credentials (`unauthenticated`)", **_PROBLEM},
    403: {"description": "The role does not admit this action (`role_not_allowed`)", **_PROBLEM},
    404: {"description": "Unknown booking (`unknown_booking`)", **_PROBLEM},
    409: {"description": "Full slot (`slot_full`) or cancelled booking", **_PROBLEM},
    422: {"description": "An invalid field; `errors` names each one", **_PROBLEM},
}
_optional_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def _idempotent(
    session: SessionDep, scope: str, key: str | None, payload: Any
) -> tuple[str | None, JSONResponse | None]:
    """Replay a stored reply for a known key; returns the fingerprint to store otherwise."""
    if key is None:
        return None, None
    fp = idempotency.request_fingerprint(payload)
    stored = idempotency.lookup(session, scope, key, fp)
    if stored is None:
        return fp, None
    headers = {"Idempotent-Replayed": "true"}
    body = json.loads(stored.body)
    if stored.status_code == 201 and isinstance(body, dict) and "reference" in body:
        headers["Location"] = f"/api/v1/bookings/{body['reference']}"
    return fp, JSONResponse(body, status_code=stored.status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=BookingCreated,
    summary="Book a dossier pickup, a result delivery, or both",
    description=(
        "Open to citizens without credentials. The one-stop information system sends its "
        "`X-API-Key` to book a result delivery when a result is ready. Checks eligibility, the "
        "service area, the working day, the slot against the desk's hours and the post office's "
        "capacity; quotes the postal fee from the tariff. The reply's `access_token` lets the "
        "citizen view, reschedule or cancel (shown once). Send an `Idempotency-Key` to retry "
        "safely."
    ),
    responses={**ERRORS, 201: {"description": "Booked; Location names the booking"}},
)
def create_booking(
    body: BookingCreate,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    api_key: Annotated[str | None, Depends(_optional_key)] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Create a booking (citizen or one-stop system)."""
    channel = BookingChannel.citizen
    if api_key:
        integration_principal(session, api_key)
        channel = BookingChannel.integration
    scope = f"booking.create:{channel.value}"
    fp, replay = _idempotent(session, scope, idempotency_key, body.model_dump(mode="json"))
    if replay is not None:
        return replay
    created = service.create_booking(session, settings, body, channel=channel, now=now)
    payload = created.model_dump(mode="json")
    if idempotency_key and fp:
        idempotency.store(session, scope, idempotency_key, fp, 201, payload)
    session.commit()
    return JSONResponse(
        payload, status_code=201, headers={"Location": f"/api/v1/bookings/{created.reference}"}
    )


@router.get(
    "",
    response_model=BookingPage,
    summary="Search bookings (staff)",
    description=(
        "Admins see every booking, dispatchers those of their post offices, clerks those of "
        "their desk. Filters are optional; pages follow `next_cursor`."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 422)},
)
def search_bookings(
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(roles(Role.admin, Role.dispatcher, Role.clerk))],
    date: dt.date | None = None,
    desk_code: str | None = None,
    post_office_code: str | None = None,
    commune_code: str | None = None,
    status: BookingStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> BookingPage:
    """List bookings visible to the staff member."""
    criteria = service.BookingFilter(date, desk_code, post_office_code, status, commune_code)
    return service.search(session, settings, principal, criteria, limit, cursor)


@router.get(
    "/{reference}",
    response_model=BookingPublic,
    summary="One booking",
    description="For its citizen (access token), staff bound to it, or the one-stop system.",
    responses={k: v for k, v in ERRORS.items() if k in (401, 404)},
)
def read_booking(
    reference: str, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> BookingPublic:
    """Read a booking with its items and the document list."""
    booking = service.get_by_reference(session, reference)
    service.authorise_read(session, principal, booking)
    return service.to_public(session, settings, booking)


def _may_change(principal: Principal, reference: str) -> None:
    if principal.role == Role.citizen and principal.booking_reference == reference.upper():
        return
    if principal.role in (Role.admin, Role.dispatcher):
        return
    raise Forbidden("role_not_allowed")


def _change(
    request: Request,
    session: SessionDep,
    principal: Principal,
    reference: str,
    key: str | None,
    payload: dict[str, Any],
    action: str,
) -> tuple[str | None, JSONResponse | None]:
    booking = service.get_by_reference(session, reference)
    service.authorise_read(session, principal, booking)
    _may_change(principal, reference)
    return _idempotent(session, f"booking.{action}:{booking.reference}", key, payload)


@router.post(
    "/{reference}/reschedule",
    response_model=BookingPublic,
    summary="Move a booking to another date and slot",
    description="Same checks as a new booking; the place in the old slot is released.",
    responses=ERRORS,
)
def reschedule_booking(
    request: Request,
    reference: str,
    body: BookingReschedule,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Reschedule (citizen or dispatcher)."""
    payload = body.model_dump(mode="json")
    fp, replay = _change(
        request, session, principal, reference, idempotency_key, payload, "reschedule"
    )
    if replay is not None:
        return replay
    booking = service.get_by_reference(session, reference)
    result = service.reschedule(session, settings, booking, body.date, body.slot, now)
    data = result.model_dump(mode="json")
    if idempotency_key and fp:
        idempotency.store(
            session, f"booking.reschedule:{booking.reference}", idempotency_key, fp, 200, data
        )
    session.commit()
    return JSONResponse(data)


@router.post(
    "/{reference}/cancel",
    response_model=BookingPublic,
    summary="Cancel a booking",
    description="Allowed until the dossier is picked up or the result handed to a courier.",
    responses=ERRORS,
)
def cancel_booking(
    request: Request,
    reference: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: PrincipalDep,
    body: BookingCancel | None = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Cancel (citizen or dispatcher); 409 when already cancelled."""
    body = body or BookingCancel()
    payload = body.model_dump(mode="json")
    fp, replay = _change(request, session, principal, reference, idempotency_key, payload, "cancel")
    if replay is not None:
        return replay
    booking = service.get_by_reference(session, reference)
    result = service.cancel(session, settings, booking, body.reason, now)
    data = result.model_dump(mode="json")
    if idempotency_key and fp:
        idempotency.store(
            session, f"booking.cancel:{booking.reference}", idempotency_key, fp, 200, data
        )
    session.commit()
    return JSONResponse(data)
