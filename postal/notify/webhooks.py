"""HMAC-signed webhooks from a transactional outbox, retried with jittered back-off.

``enqueue`` writes one delivery per active endpoint in the caller's transaction, so a webhook is
sent if and only if the change it reports committed. ``deliver_webhook`` is the worker step for
one delivery, with the same claim, retry and dead-letter rules as the citizens' messages
(postal/notify/outbox.py); ``due_webhooks`` lists what is due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from postal.config import Settings
from postal.errors import Conflict, NotFound
from postal.notify.backoff import retry_delay
from postal.notify.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from postal.notify.outbox import Outcome


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Postal-Signature header value: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: recompute the HMAC and reject stale timestamps."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def add_endpoint(session: Session, url: str, secret: str) -> WebhookEndpoint:
    """Register a receiver."""
    endpoint = WebhookEndpoint(url=url, secret=secret)
    session.add(endpoint)
    session.flush()
    return endpoint


def enqueue(session: Session, event_type: str, payload: dict[str, Any], now: dt.datetime) -> int:
    """Queue ``payload`` for every active endpoint; returns how many deliveries were written."""
    endpoints = session.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.active))).all()
    for endpoint in endpoints:
        assert endpoint.id is not None
        session.add(
            WebhookDelivery(
                delivery_id=str(uuid.uuid4()),
                endpoint_id=endpoint.id,
                event_type=event_type,
                body=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                status=DeliveryStatus.pending,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(endpoints)


def _claimable(now: dt.datetime, stale_before: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(WebhookDelivery.status) == DeliveryStatus.pending,
            col(WebhookDelivery.next_attempt_at) <= now,
        ),
        and_(
            col(WebhookDelivery.status) == DeliveryStatus.sending,
            col(WebhookDelivery.claimed_at) <= stale_before,
        ),
    )


def due_webhooks(
    session: Session, now: dt.datetime, limit: int = 100, *, claim_timeout_s: float = 300.0
) -> list[int]:
    """Row ids of the deliveries to send now: pending and due, or left ``sending`` longer than
    ``claim_timeout_s`` by a sender that died (pass settings.message_claim_timeout_s)."""
    stale_before = now - dt.timedelta(seconds=claim_timeout_s)
    rows = session.exec(
        select(WebhookDelivery.id)
        .where(_claimable(now, stale_before))
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    ).all()
    return [int(r) for r in rows if r is not None]


@dataclass(frozen=True)
class _Claimed:
    url: str
    secret: str
    event_type: str
    delivery_uuid: str
    body: bytes


def _claim(
    session: Session, delivery_id: int, now: dt.datetime, stale_before: dt.datetime
) -> _Claimed | None:
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, _claimable(now, stale_before)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    delivery = session.exec(query).first()
    if delivery is None:
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint is not None
    claimed = session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id, _claimable(now, stale_before))
        .values(status=DeliveryStatus.sending, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return _Claimed(
        endpoint.url,
        endpoint.secret,
        delivery.event_type,
        delivery.delivery_id,
        delivery.body.encode(),
    )


def deliver_webhook(
    engine: Engine,
    settings: Settings,
    delivery_id: int,
    now: dt.datetime,
    http_client: httpx.Client | None = None,
) -> str:
    """Send the delivery whose row id (``webhook_delivery.id``) is ``delivery_id`` once, signed;
    log the attempt and record the outcome (an Outcome: sent, retry, dead, skipped).

    2xx: delivered. 4xx (but 408 and 429): dead with the receiver's reason. 5xx, time-outs and
    connection errors: retried with jittered back-off, dead after ``webhook_max_attempts``.
    The ``X-Postal-Delivery`` header is the delivery's UUID, the receiver's idempotency key.
    """
    stale_before = now - dt.timedelta(seconds=settings.message_claim_timeout_s)
    with Session(engine, expire_on_commit=False) as session:
        claimed = _claim(session, delivery_id, now, stale_before)
        session.commit()
    if claimed is None:
        return Outcome.skipped
    headers = {
        "Content-Type": "application/json",
        "X-Postal-Event": claimed.event_type,
        "X-Postal-Delivery": claimed.delivery_uuid,
        "Idempotency-Key": claimed.delivery_uuid,
        "X-Postal-Signature": sign(claimed.secret, int(now.timestamp()), claimed.body),
    }
    status_code: int | None = None
    error: str | None = None
    permanent = False
    started = time.perf_counter()
    timeout = settings.message_timeout_s
    try:
        if http_client is not None:
            response = http_client.post(
                claimed.url, content=claimed.body, headers=headers, timeout=timeout
            )
        else:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(claimed.url, content=claimed.body, headers=headers)
        status_code = response.status_code
        if not 200 <= status_code < 300:
            text = " ".join(response.text.split())[:300]
            error = f"HTTP {status_code}: {text}" if text else f"HTTP {status_code}"
            permanent = 400 <= status_code < 500 and status_code not in (408, 429)
    except httpx.TimeoutException as exc:
        error = f"timeout after {timeout:g} s ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    elapsed = int((time.perf_counter() - started) * 1000)
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        assert delivery is not None and delivery.id is not None
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=status_code,
                error=error[:500] if error else None,
                duration_ms=elapsed,
            )
        )
        if delivery.status in (DeliveryStatus.delivered, DeliveryStatus.dead):
            session.commit()
            return Outcome.skipped
        delivery.attempts += 1
        delivery.claimed_at = None
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = (
                DeliveryStatus.delivered,
                now,
                None,
            )
            outcome = Outcome.sent
        elif permanent or delivery.attempts >= settings.webhook_max_attempts:
            delivery.status, delivery.last_error = DeliveryStatus.dead, error[:500]
            outcome = Outcome.dead
        else:
            delivery.status, delivery.last_error = DeliveryStatus.pending, error[:500]
            delivery.next_attempt_at = now + retry_delay(settings, delivery.attempts)
            outcome = Outcome.retry
        session.add(delivery)
        session.commit()
    return outcome


def resend_webhook(session: Session, delivery_id: int, now: dt.datetime) -> WebhookDelivery:
    """Put a dead delivery back in the outbox with fresh attempts (the caller commits); a
    pending or sending one is left as it is; 409 for a delivered one."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound("unknown_webhook_delivery")
    if delivery.status == DeliveryStatus.delivered:
        raise Conflict("webhook_already_delivered")
    if delivery.status == DeliveryStatus.dead:
        delivery.status = DeliveryStatus.pending
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.claimed_at = None
        session.add(delivery)
        session.flush()
    return delivery
