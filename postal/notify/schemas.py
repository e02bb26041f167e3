"""API shapes of the outbox as staff see it (recipients masked, no message text)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from postal.notify.models import ContactChannel, DeliveryStatus, NotificationStatus


class MessagePublic(BaseModel):
    """A message to a citizen: where it stands, never its text (it may hold a one-time code)."""

    id: int
    message_id: str
    template: str
    lang: str
    channel: ContactChannel
    sent_via: str | None
    recipient_masked: str
    booking_reference: str | None
    status: NotificationStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


class MessagePage(BaseModel):
    """One page of messages."""

    items: list[MessagePublic]
    next_cursor: str | None


class WebhookDeliveryPublic(BaseModel):
    """A webhook delivery to the one-stop information system."""

    id: int
    delivery_id: str
    endpoint_url: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class WebhookDeliveryPage(BaseModel):
    """One page of webhook deliveries."""

    items: list[WebhookDeliveryPublic]
    next_cursor: str | None
