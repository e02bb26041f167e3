"""HMAC-signed webhooks from a transactional outbox, retried with exponential backoff.

``enqueue`` writes one delivery per active endpoint in the caller's transaction, so a webhook is
sent if and only if the change it reports committed. ``deliver_due`` is the worker step: it
sends every due delivery once, logs the attempt and schedules the next one.
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
from sqlmodel import Session, col, select

from postal.notify.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# Backoff: 30 s, 1 min, 2 min ... capped at 1 h; eight attempts span about four hours.
BASE_DELAY_S = 30
MAX_DELAY_S = 3600
MAX_ATTEMPTS = 8
TIMEOUT_S = 10.0


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


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next attempt after ``attempts`` failures."""
    return dt.timedelta(seconds=min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_due`` pass did."""

    delivered: int
    retried: int
    failed: int


def _due(session: Session, now: dt.datetime, limit: int) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        .order_by(col(WebhookDelivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Several workers may run: each takes the rows the others have not locked.
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def deliver_due(
    session: Session, now: dt.datetime, http_client: httpx.Client, limit: int = 100
) -> DeliveryReport:
    """Send every due delivery once, log the attempt and reschedule failures; commits."""
    delivered = retried = failed = 0
    for delivery in _due(session, now, limit):
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None and delivery.id is not None
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Postal-Event": delivery.event_type,
            "X-Postal-Delivery": delivery.delivery_id,
            "X-Postal-Signature": sign(endpoint.secret, int(now.timestamp()), body),
        }
        status_code: int | None = None
        error: str | None = None
        started = time.perf_counter()
        try:
            response = http_client.post(
                endpoint.url, content=body, headers=headers, timeout=TIMEOUT_S
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        elapsed = int((time.perf_counter() - started) * 1000)
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=status_code,
                error=error,
                duration_ms=elapsed,
            )
        )
        delivery.attempts += 1
        if error is None:
            delivery.status = DeliveryStatus.delivered
            delivery.delivered_at = now
            delivered += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.failed
            failed += 1
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            retried += 1
        session.add(delivery)
    session.commit()
    return DeliveryReport(delivered, retried, failed)
