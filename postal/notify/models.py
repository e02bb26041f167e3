"""Outbox tables: citizen notifications, webhook endpoints, deliveries and their attempt log."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from postal.db import EnumText, UTCDateTime, utcnow


class NotificationStatus(StrEnum):
    """A notification waits in the outbox until a sender takes it."""

    pending = "pending"
    sent = "sent"
    failed = "failed"


class Notification(SQLModel, table=True):
    """A message to a citizen written in the same transaction as the change it announces."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default="sms", max_length=16)
    recipient: str = Field(max_length=40)
    template: str = Field(max_length=60)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: NotificationStatus = Field(sa_type=EnumText(NotificationStatus), index=True)
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
    """A webhook delivery is retried until delivered or out of attempts."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


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


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: every attempt with its outcome."""

    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
