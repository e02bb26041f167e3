"""Bookings: citizens create, view, reschedule and cancel; staff search; the one-stop system
creates result deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from api.deps import NowDep, PrincipalDep, SessionDep, SettingsDep, roles
from api.idempotent import run_idempotent
from api.limits import AnonymousBookingLimit
from postal.auth.models import Role
from postal.auth.service import Principal, integration_principal
from postal.booking import service
from postal.booking.models import Booking, BookingChannel, BookingStatus
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
    409: {
        "description": "Full slot (`slot_full`), the ID number already booked in this slot "
        "(`id_number_already_booked`), or cancelled booking",
        **_PROBLEM,
    },
    422: {"description": "An invalid field; `errors` names each one", **_PROBLEM},
}
_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many bookings without credentials from this address "
        "(`booking_rate_limited`); Retry-After says when to try again",
        **_PROBLEM,
    }
}
_optional_key = APIKeyHeader(name="X-API-Key", auto_error=False)


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
        "safely: a re-send with the same key and body replays the stored reply (same status, "
        "body and `Location`, header `Idempotent-Replayed: true`) except `access_token`, which "
        "is never stored: the replay carries a new token and the token of the earlier reply "
        "stops working (a client that lost the first reply still gets a working token; one "
        "that kept it must use the new one)."
    ),
    responses={**ERRORS, **_LIMITED, 201: {"description": "Booked; Location names the booking"}},
    dependencies=[AnonymousBookingLimit],
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
    key_name: str | None = None
    if api_key:
        key_name = integration_principal(session, api_key).username
        channel = BookingChannel.integration
    # Each key has its own idempotency keys: one system never replays another's reply.
    scope = f"booking.create:{channel}:{key_name}" if key_name else f"booking.create:{channel}"
    return run_idempotent(
        session,
        scope,
        idempotency_key,
        body.model_dump(mode="json"),
        201,
        lambda: service.create_booking(
            session, settings, body, channel=channel, now=now, api_key_name=key_name
        ),
        lambda data: f"/api/v1/bookings/{data['reference']}",
        secrets=("access_token",),
        reissue=lambda data: {
            **data,
            "access_token": service.reissue_access_token(session, data["reference"]),
        },
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


def _changeable(session: SessionDep, principal: Principal, reference: str) -> Booking:
    """The booking, if the caller may see it (else 404) and change it (else 403)."""
    booking = service.get_by_reference(session, reference)
    service.authorise_read(session, principal, booking)
    _may_change(principal, reference)
    return booking


@router.post(
    "/{reference}/reschedule",
    response_model=BookingPublic,
    summary="Move a booking to another date and slot",
    description="Same checks as a new booking; the place in the old slot is released.",
    responses=ERRORS,
)
def reschedule_booking(
    reference: str,
    body: BookingReschedule,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Reschedule (citizen or dispatcher)."""
    booking = _changeable(session, principal, reference)
    return run_idempotent(
        session,
        f"booking.reschedule:{booking.reference}",
        idempotency_key,
        body.model_dump(mode="json"),
        200,
        lambda: service.reschedule(session, settings, booking, body.date, body.slot, now),
    )


@router.post(
    "/{reference}/cancel",
    response_model=BookingPublic,
    summary="Cancel a booking",
    description="Allowed until the dossier is picked up or the result handed to a courier.",
    responses=ERRORS,
)
def cancel_booking(
    reference: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    principal: PrincipalDep,
    body: BookingCancel | None = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Cancel (citizen or dispatcher); 409 when already cancelled."""
    reason = (body or BookingCancel()).reason
    booking = _changeable(session, principal, reference)
    return run_idempotent(
        session,
        f"booking.cancel:{booking.reference}",
        idempotency_key,
        {"reason": reason},
        200,
        lambda: service.cancel(session, settings, booking, reason, now),
    )
