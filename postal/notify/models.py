"""Outbox tables: citizen notifications, webhook endpoints, deliveries and their attempt log."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from postal.db import EnumText, UTCDateTime, utcnow


class NotificationStatus(StrEnum):
    """A message waits (pending), is taken by one sender (sending), then is sent or dead."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    dead = "dead"


class ContactChannel(StrEnum):
    """How a citizen wants to be told: SMS, Zalo ZNS or e-mail."""

    sms = "sms"
    zalo = "zalo"
    email = "email"


class Notification(SQLModel, table=True):
    """A message to a citizen written in the same transaction as the change it announces.

    ``channel`` is the citizen's preference; ``sent_via`` the channel that carried it (SMS when
    the preferred one is not configured). ``message_id`` is the idempotency key every gateway
    sees; ``dedup_key`` makes producers idempotent (one reminder per booking and day).
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, max_length=36)
    channel: ContactChannel = Field(default=ContactChannel.sms, sa_type=EnumText(ContactChannel))
    sent_via: str | None = Field(default=None, max_length=16)
    recipient: str = Field(max_length=40)
    email: str | None = Field(default=None, max_length=254)
    template: str = Field(max_length=60)
    lang: str = Field(default="vi", max_length=8)
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    dedup_key: str | None = Field(default=None, unique=True, max_length=120)
    status: NotificationStatus = Field(sa_type=EnumText(NotificationStatus), index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    claimed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class WebhookEndpoint(SQLModel, table=True):
    """A receiver of webhooks (the one-stop information system) with its signing secret."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=200)
    active: bool = True
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class DeliveryStatus(StrEnum):
    """A webhook delivery is retried until delivered, or dead (4xx, or out of attempts)."""

    pending = "pending"
    sending = "sending"
    delivered = "delivered"
    dead = "dead"


class WebhookDelivery(SQLModel, table=True):
    """One webhook to one endpoint, written in the transaction of the event it reports."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(unique=True, max_length=36)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    event_type: str = Field(max_length=60)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: DeliveryStatus = Field(sa_type=EnumText(DeliveryStatus))
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    claimed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, max_length=500)


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: every attempt with its outcome."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
