"""The periodic jobs' bodies: retention purges, incremental ledger checks, reminders."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from postal.config import Settings
from postal.idempotency import IdempotencyRecord
from postal.notify.models import (
    DeliveryStatus,
    Notification,
    NotificationStatus,
    WebhookAttempt,
    WebhookDelivery,
)

log = logging.getLogger("postal.worker")


def purge(engine: Engine, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete what has outlived its retention period; returns the rows deleted per table."""
    idem_cutoff = now - dt.timedelta(days=settings.idempotency_retention_days)
    outbox_cutoff = now - dt.timedelta(days=settings.outbox_retention_days)
    with Session(engine) as session:
        # Subqueries, not id lists: a first purge of a long backlog stays one statement.
        done = select(WebhookDelivery.id).where(
            col(WebhookDelivery.status) == DeliveryStatus.delivered,
            col(WebhookDelivery.delivered_at) < outbox_cutoff,
        )
        statements = {
            "idempotency_record": delete(IdempotencyRecord).where(
                col(IdempotencyRecord.created_at) < idem_cutoff
            ),
            "notification": delete(Notification).where(
                col(Notification.status) == NotificationStatus.sent,
                col(Notification.sent_at) < outbox_cutoff,
            ),
            "webhook_attempt": delete(WebhookAttempt).where(
                col(WebhookAttempt.delivery_id).in_(done.scalar_subquery())
            ),
            "webhook_delivery": delete(WebhookDelivery).where(
                col(WebhookDelivery.status) == DeliveryStatus.delivered,
                col(WebhookDelivery.delivered_at) < outbox_cutoff,
            ),
        }
        counts = {
            table: int(getattr(session.execute(statement), "rowcount", 0))
            for table, statement in statements.items()
        }
        session.commit()
    log.info("purged %s", counts)
    return counts


def verify_ledger(engine: Engine) -> bool:
    """Check the ledger's events since the last good checkpoint; False (and an error in the
    log) when the chain is broken."""
    from postal.tracking.checkpoint import verify_since_checkpoint

    with Session(engine) as session:
        report = verify_since_checkpoint(session)
    if not report.ok:
        log.error("custody ledger broken at seq %s: %s", report.broken_seq, report.reason)
    return report.ok


def reminders(engine: Engine, settings: Settings, now: dt.datetime) -> int:
    """Queue the day-before reminders for the next working day (once per booking)."""
    from postal.catalogue import service as catalogue
    from postal.notify.delivery import enqueue_reminders

    local = now.astimezone(ZoneInfo(settings.timezone)).date()
    with Session(engine) as session:
        day = catalogue.work_calendar(session).next_working_day(local)
        count = enqueue_reminders(session, day, now)
        session.commit()
    return count
