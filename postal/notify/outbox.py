"""Write notifications to the outbox (a sender outside the transaction delivers them)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from postal.notify.models import Notification, NotificationStatus


def enqueue_sms(
    session: Session, recipient: str, template: str, body: str, now: dt.datetime
) -> Notification:
    """Add an SMS to the outbox in the caller's transaction."""
    row = Notification(
        channel="sms",
        recipient=recipient,
        template=template,
        body=body,
        status=NotificationStatus.pending,
        created_at=now,
    )
    session.add(row)
    return row
