"""The outbox for staff: list messages and webhook deliveries, re-send dead ones.

Admins see everything; dispatchers only the messages of bookings of their post offices.
Webhook deliveries concern the one-stop system as a whole: admins only.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from postal import cursor as cursors
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking.models import Booking
from postal.booking.service import mask_email
from postal.errors import Forbidden, NotFound, ValidationFailed
from postal.notify import outbox, webhooks
from postal.notify.models import (
    ContactChannel,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from postal.notify.schemas import (
    MessagePage,
    MessagePublic,
    WebhookDeliveryPage,
    WebhookDeliveryPublic,
)
from postal.phone import mask_phone


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 500:
        raise ValidationFailed("invalid_limit", field="limit")


def _require_staff(principal: Principal) -> None:
    if principal.role not in (Role.admin, Role.dispatcher):
        raise Forbidden("role_not_allowed")


def to_public(row: Notification, reference: str | None) -> MessagePublic:
    """A message as staff see it: the recipient masked."""
    assert row.id is not None
    if row.channel == ContactChannel.email and row.email:
        recipient = mask_email(row.email) or ""
    else:
        recipient = mask_phone(row.recipient)
    return MessagePublic(
        id=row.id,
        message_id=row.message_id,
        template=row.template,
        lang=row.lang,
        channel=row.channel,
        sent_via=row.sent_via,
        recipient_masked=recipient,
        booking_reference=reference,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def list_messages(
    session: Session,
    principal: Principal,
    status: NotificationStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
    secret: str = "",
) -> MessagePage:
    """Messages by id, scoped by role, optionally of one status."""
    _require_staff(principal)
    _check_limit(limit)
    query = select(Notification, Booking.reference).join(
        Booking, col(Booking.id) == col(Notification.booking_id), isouter=True
    )
    if principal.role == Role.dispatcher:
        query = query.where(col(Booking.post_office_code).in_(principal.post_office_codes))
    if status is not None:
        query = query.where(Notification.status == status)
    if cursor:
        query = query.where(col(Notification.id) > cursors.decode(cursor, secret, "messages"))
    rows = session.exec(query.order_by(col(Notification.id)).limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1][0].id if page else None
    return MessagePage(
        items=[to_public(row, ref) for row, ref in page],
        next_cursor=cursors.encode(last, secret, "messages")
        if len(rows) > limit and last
        else None,
    )


def _visible_message(session: Session, principal: Principal, message_id: int) -> Notification:
    _require_staff(principal)
    row = session.get(Notification, message_id)
    if row is None:
        raise NotFound("unknown_message")
    if principal.role == Role.dispatcher:
        booking = session.get(Booking, row.booking_id) if row.booking_id else None
        if booking is None or booking.post_office_code not in principal.post_office_codes:
            raise NotFound("unknown_message")  # do not reveal others' messages
    return row


def resend_message(
    session: Session, principal: Principal, message_id: int, now: dt.datetime
) -> MessagePublic:
    """Put a dead message back in the outbox (idempotent; 409 when it was sent)."""
    _visible_message(session, principal, message_id)
    row = outbox.resend_message(session, message_id, now)
    booking = session.get(Booking, row.booking_id) if row.booking_id else None
    return to_public(row, booking.reference if booking else None)


def _webhook_public(row: WebhookDelivery, url: str) -> WebhookDeliveryPublic:
    assert row.id is not None
    return WebhookDeliveryPublic(
        id=row.id,
        delivery_id=row.delivery_id,
        endpoint_url=url,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def list_webhook_deliveries(
    session: Session,
    principal: Principal,
    status: DeliveryStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
    secret: str = "",
) -> WebhookDeliveryPage:
    """Webhook deliveries by id (admins), optionally of one status."""
    if principal.role != Role.admin:
        raise Forbidden("role_not_allowed")
    _check_limit(limit)
    query = select(WebhookDelivery, WebhookEndpoint.url).join(
        WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor:
        query = query.where(col(WebhookDelivery.id) > cursors.decode(cursor, secret, "webhooks"))
    rows = session.exec(query.order_by(col(WebhookDelivery.id)).limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1][0].id if page else None
    return WebhookDeliveryPage(
        items=[_webhook_public(row, url) for row, url in page],
        next_cursor=cursors.encode(last, secret, "webhooks")
        if len(rows) > limit and last
        else None,
    )


def resend_webhook(
    session: Session, principal: Principal, delivery_id: int, now: dt.datetime
) -> WebhookDeliveryPublic:
    """Put a dead webhook delivery back in the outbox (admins; idempotent; 409 when
    delivered)."""
    if principal.role != Role.admin:
        raise Forbidden("role_not_allowed")
    row = webhooks.resend_webhook(session, delivery_id, now)
    endpoint = session.get(WebhookEndpoint, row.endpoint_id)
    return _webhook_public(row, endpoint.url if endpoint else "")
