"""Idempotent writes: a retried request with the same Idempotency-Key replays the stored reply."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import Column
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from postal.db import UTCDateTime, utcnow
from postal.errors import ValidationFailed


class IdempotencyRecord(SQLModel, table=True):
    """The stored reply to a write, keyed by (scope, Idempotency-Key)."""

    __tablename__ = "idempotency_record"

    scope: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=200)
    request_hash: str
    status_code: int
    body: str
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


def request_fingerprint(payload: Any) -> str:
    """A stable hash of a request body (canonical JSON)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(session: Session, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The stored reply for ``key``; 422 ``idempotency_key_reused`` if the body differs."""
    if not key or len(key) > 200:
        raise ValidationFailed("invalid_idempotency_key", field="Idempotency-Key")
    record = session.get(IdempotencyRecord, (scope, key))
    if record is not None and record.request_hash != fingerprint:
        raise ValidationFailed("idempotency_key_reused", field="Idempotency-Key")
    return record


def store(
    session: Session, scope: str, key: str, fingerprint: str, status_code: int, body: Any
) -> None:
    """Remember the reply in the same transaction as the write it belongs to."""
    session.add(
        IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            body=json.dumps(body, default=str),
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        # A concurrent request with the same key won the race; the caller rolls back and retries.
        raise ValidationFailed("idempotency_key_in_flight", field="Idempotency-Key") from exc
