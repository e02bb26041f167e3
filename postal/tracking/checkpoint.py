"""Incremental ledger verification: each run checks the events after the last good checkpoint.

The scheduler runs ``verify_since_checkpoint`` periodically; a clean run records a new
checkpoint (the last verified event's position and hash), a broken chain records the finding
and keeps the old checkpoint, so every later run reports the break again until it is dealt
with. ``postal verify`` still checks the whole chain from the first event.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel, col, select

from postal.db import UTCDateTime, utcnow
from postal.tracking.ledger import VerifyReport, verify
from postal.tracking.models import GENESIS_HASH, LedgerHead


class LedgerCheckpoint(SQLModel, table=True):
    """One verification run: up to which event the chain was found intact (or where not)."""

    __tablename__ = "ledger_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    last_seq: int
    last_hash: str = Field(max_length=64)
    events: int
    ok: bool
    detail: str = ""
    verified_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


def last_good(session: Session) -> LedgerCheckpoint | None:
    """The newest checkpoint of an intact chain."""
    return session.exec(
        select(LedgerCheckpoint)
        .where(col(LedgerCheckpoint.ok).is_(True))
        .order_by(col(LedgerCheckpoint.id).desc())
    ).first()


def verify_since_checkpoint(session: Session) -> VerifyReport:
    """Verify the events after the last good checkpoint and record the outcome; commits."""
    start = last_good(session)
    after_seq, after_hash = (start.last_seq, start.last_hash) if start else (0, GENESIS_HASH)
    report = verify(session, after_seq=after_seq, after_hash=after_hash)
    if report.ok:
        head = session.get(LedgerHead, 1, populate_existing=True)
        last_seq, last_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
        session.add(
            LedgerCheckpoint(last_seq=last_seq, last_hash=last_hash, events=report.events, ok=True)
        )
    else:
        session.add(
            LedgerCheckpoint(
                last_seq=report.broken_seq or after_seq,
                last_hash=after_hash,
                events=report.events,
                ok=False,
                detail=(report.reason or "")[:500],
            )
        )
    session.commit()
    return report
