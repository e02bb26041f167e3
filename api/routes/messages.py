"""The outbox for staff: messages to citizens and webhook deliveries, and re-sending dead ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import NowDep, SessionDep, SettingsDep, roles
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.notify import service
from postal.notify.models import DeliveryStatus, NotificationStatus
from postal.notify.schemas import (
    MessagePage,
    MessagePublic,
    WebhookDeliveryPage,
    WebhookDeliveryPublic,
)

router = APIRouter(tags=["messages"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong credentials (`unauthenticated`)", **_PROBLEM},
    403: {"description": "The role does not admit this action (`role_not_allowed`)", **_PROBLEM},
    404: {"description": "Unknown, or not visible to the caller", **_PROBLEM},
    409: {"description": "Already sent (`message_already_sent`)", **_PROBLEM},
    422: {"description": "An invalid parameter; `errors` names it", **_PROBLEM},
}
Staff = Annotated[Principal, Depends(roles(Role.admin, Role.dispatcher))]
Admin = Annotated[Principal, Depends(roles(Role.admin))]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The row id from the list.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")]


@router.get(
    "/messages",
    response_model=MessagePage,
    summary="Messages to citizens",
    description=(
        "The outbox of SMS, Zalo and e-mail messages, oldest first, with their delivery state "
        "(`pending`, `sending`, `sent`, `dead`), tries and last error. Recipients are masked "
        "and the text is never shown. Admins see every message; dispatchers those of bookings "
        "of their post offices."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 422)},
)
def list_messages(
    session: SessionDep,
    settings: SettingsDep,
    principal: Staff,
    status: Annotated[NotificationStatus | None, Query(description="Only this state.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> MessagePage:
    """List messages."""
    return service.list_messages(
        session, principal, status, limit, cursor, secret=settings.secret_key
    )


@router.post(
    "/messages/{message_id}/resend",
    response_model=MessagePublic,
    summary="Re-send a dead message",
    description=(
        "Puts a `dead` message back in the outbox with its tries reset; the workers send it "
        "again with the same idempotency key. A `pending` or `sending` message is returned "
        "as it is (the call is idempotent); a `sent` one answers 409."
    ),
    responses=ERRORS,
)
def resend_message(
    message_id: RowId, session: SessionDep, principal: Staff, now: NowDep
) -> MessagePublic:
    """Re-send a message."""
    result = service.resend_message(session, principal, message_id, now)
    session.commit()
    return result


@router.get(
    "/webhook-deliveries",
    response_model=WebhookDeliveryPage,
    summary="Webhook deliveries to the one-stop information system",
    description=(
        "Every signed webhook delivery, oldest first, with its state (`pending`, `sending`, "
        "`delivered`, `dead`), tries and last error. Admins only."
    ),
    responses={k: v for k, v in ERRORS.items() if k in (401, 403, 422)},
)
def list_webhook_deliveries(
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    status: Annotated[DeliveryStatus | None, Query(description="Only this state.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WebhookDeliveryPage:
    """List webhook deliveries."""
    return service.list_webhook_deliveries(
        session, principal, status, limit, cursor, secret=settings.secret_key
    )


@router.post(
    "/webhook-deliveries/{delivery_id}/resend",
    response_model=WebhookDeliveryPublic,
    summary="Re-send a dead webhook delivery",
    description=(
        "Puts a `dead` delivery back in the outbox with its tries reset (same delivery id, so "
        "the receiver can recognise it). Idempotent; a `delivered` one answers 409. Admins only."
    ),
    responses=ERRORS,
)
def resend_webhook(
    delivery_id: RowId, session: SessionDep, principal: Admin, now: NowDep
) -> WebhookDeliveryPublic:
    """Re-send a webhook delivery."""
    result = service.resend_webhook(session, principal, delivery_id, now)
    session.commit()
    return result
