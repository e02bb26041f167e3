"""The citizens' message outbox: written in the caller's transaction, delivered by workers.

``enqueue_message`` renders a template and writes the row with the change it announces, so a
message exists if and only if that change committed. ``deliver_message`` is one worker step
for one message: it claims the row (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, then
a conditional update to ``sending`` that only one sender wins), sends it through the chosen
channel outside any transaction, and records the outcome: sent, retried later with jittered
back-off, or dead (a permanent refusal, or out of attempts). A sender that dies after the
claim leaves the row ``sending``; after ``message_claim_timeout_s`` it is taken again and sent
with the same idempotency key, so delivery is at least once and the gateway can tell a re-send.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from postal.booking.models import Booking
from postal.config import Settings
from postal.errors import Conflict, NotFound
from postal.notify.backoff import retry_delay
from postal.notify.channels import (
    Channel,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    choose_channel,
    make_channels,
)
from postal.notify.models import ContactChannel, Notification, NotificationStatus
from postal.notify.templating import render
from postal.tracking import otp

log = logging.getLogger("postal.notify")


class Outcome(StrEnum):
    """What one delivery step did."""

    sent = "sent"  # the gateway accepted it (webhooks: the receiver answered 2xx)
    retry = "retry"  # a temporary failure: pending again, due at next_attempt_at
    dead = "dead"  # a permanent failure or the last attempt: dead-lettered with last_error
    waiting = "waiting"  # no configured channel can carry it: pending, looked at again later
    skipped = "skipped"  # nothing to do: unknown, not due, sent or dead, or another has it


NEW_MESSAGES = "postal.new_messages"


def enqueue_message(
    session: Session,
    template: str,
    params: dict[str, Any],
    *,
    now: dt.datetime,
    booking: Booking | None = None,
    phone: str | None = None,
    email: str | None = None,
    channel: ContactChannel | None = None,
    lang: str | None = None,
    dedup_key: str | None = None,
) -> int | None:
    """Render ``template`` and add the message to the outbox in the caller's transaction.

    Recipient, preferred channel and language come from ``booking`` unless given. With a
    ``dedup_key``, a second message with the same key is not written (None is returned);
    otherwise the new row's id. Raises TemplateError when ``params`` are not the declared ones.
    """
    phone = phone or (booking.phone if booking else None)
    if not phone:
        raise ValueError("a message needs the citizen's phone number")
    lang = lang or (booking.lang if booking else "vi")
    body = render(template, lang, params)
    values = {
        "message_id": str(uuid.uuid4()),
        "channel": str(channel or (booking.contact_channel if booking else ContactChannel.sms)),
        "recipient": phone,
        "email": email or (booking.email if booking else None),
        "template": template,
        "lang": lang,
        "params": json.dumps(params, ensure_ascii=False, sort_keys=True, default=str),
        "body": body,
        "booking_id": booking.id if booking else None,
        "dedup_key": dedup_key,
        "status": str(NotificationStatus.pending),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    table = Notification.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).values(
        values
    )
    if dedup_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedup_key"])
    new_id = session.execute(stmt.returning(table.c.id)).scalar_one_or_none()
    if new_id is None:
        return None
    # Noted on the session: once it commits, the worker tier can send at once (the periodic
    # sweep sends it anyway).
    session.info.setdefault(NEW_MESSAGES, []).append(int(new_id))
    return int(new_id)


def _claimable(now: dt.datetime, stale_before: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(Notification.status) == NotificationStatus.pending,
            col(Notification.next_attempt_at) <= now,
        ),
        and_(
            col(Notification.status) == NotificationStatus.sending,
            col(Notification.claimed_at) <= stale_before,
        ),
    )


def due_messages(
    session: Session, now: dt.datetime, limit: int = 100, *, claim_timeout_s: float = 300.0
) -> list[int]:
    """Ids of the messages to deliver now: pending and due, or left ``sending`` longer than
    ``claim_timeout_s`` by a sender that died (pass settings.message_claim_timeout_s)."""
    stale_before = now - dt.timedelta(seconds=claim_timeout_s)
    rows = session.exec(
        select(Notification.id)
        .where(_claimable(now, stale_before))
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
        .limit(limit)
    ).all()
    return [int(r) for r in rows if r is not None]


def outgoing(row: Notification) -> OutgoingMessage:
    """The channel's view of an outbox row."""
    try:
        params = json.loads(row.params or "{}")
    except ValueError:
        params = {}
    return OutgoingMessage(
        message_id=row.message_id,
        template=row.template,
        lang=row.lang,
        body=row.body,
        phone=row.recipient,
        email=row.email,
        params=params if isinstance(params, dict) else {},
    )


def _with_code(message: OutgoingMessage, code: str) -> OutgoingMessage:
    """The one-time code message as sent: the text rendered now, with the code."""
    params = {**message.params, "otp": code}
    return replace(message, params=params, body=render(message.template, message.lang, params))


def deliver_message(
    engine: Engine,
    settings: Settings,
    message_id: int,
    now: dt.datetime,
    channels: Mapping[ContactChannel, Channel] | None = None,
) -> str:
    """Deliver the outbox message whose row id (``notification.id``) is ``message_id`` once;
    returns the Outcome. Safe to call twice or concurrently: a message sent, dead, not due or
    being sent by another is left alone (``skipped``)."""
    senders = make_channels(settings) if channels is None else channels
    stale_before = now - dt.timedelta(seconds=settings.message_claim_timeout_s)
    with Session(engine, expire_on_commit=False) as session:
        query = select(Notification).where(Notification.id == message_id)
        if session.get_bind().dialect.name == "postgresql":
            # Another worker holding the row is sending it: skip instead of waiting.
            query = query.with_for_update(skip_locked=True)
        row = session.exec(query.where(_claimable(now, stale_before))).first()
        if row is None:
            session.rollback()
            return Outcome.skipped
        message: OutgoingMessage | None = outgoing(row)
        assert message is not None
        channel = choose_channel(row.channel, message, senders)
        if channel is None:
            row.status = NotificationStatus.pending
            row.claimed_at = None
            row.next_attempt_at = now + dt.timedelta(seconds=settings.message_unconfigured_wait_s)
            row.last_error = f"no configured channel for {row.channel} (nor SMS): waiting"
            session.add(row)
            session.commit()
            log.warning("message %s waits: channel %s not configured", row.id, row.channel)
            return Outcome.waiting
        # The conditional update is the claim on SQLite too: only one sender changes the row.
        claimed = session.execute(
            update(Notification)
            .where(col(Notification.id) == message_id, _claimable(now, stale_before))
            .values(status=NotificationStatus.sending, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return Outcome.skipped
        challenge_id = otp.challenge_of(row.dedup_key)
        if challenge_id is not None:
            # A one-time code is made now and only its hash kept, committed before it is sent.
            code = otp.code_for_sending(session, settings, challenge_id, row.message_id)
            message = _with_code(message, code) if code is not None else None
        session.commit()
    if message is None:
        gone = "the one-time code's challenge no longer exists"
        return _record(engine, settings, message_id, now, channel.name, gone, True)
    error: str | None = None
    permanent = False
    try:
        channel.send(message)
    except PermanentFailure as exc:
        error, permanent = exc.reason, True
    except TemporaryFailure as exc:
        error = exc.reason
    except Exception as exc:  # a sender's bug must not leave the row 'sending'
        log.error("message %s: %s from channel %s", message_id, type(exc).__name__, channel.name)
        error = f"{type(exc).__name__} in the {channel.name} sender"
    return _record(engine, settings, message_id, now, channel.name, error, permanent)


def _record(
    engine: Engine,
    settings: Settings,
    message_id: int,
    now: dt.datetime,
    via: ContactChannel,
    error: str | None,
    permanent: bool,
) -> str:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Notification, message_id, with_for_update=True)
        if row is None or row.status in (NotificationStatus.sent, NotificationStatus.dead):
            session.rollback()
            return Outcome.skipped
        row.attempts += 1
        row.claimed_at = None
        if error is None:
            row.status, row.sent_at, row.sent_via, row.last_error = (
                NotificationStatus.sent,
                now,
                str(via),
                None,
            )
            outcome = Outcome.sent
        elif permanent or row.attempts >= settings.message_max_attempts:
            row.status, row.last_error = NotificationStatus.dead, error[:500]
            outcome = Outcome.dead
        else:
            row.status, row.last_error = NotificationStatus.pending, error[:500]
            row.next_attempt_at = now + retry_delay(settings, row.attempts)
            outcome = Outcome.retry
        session.add(row)
        session.commit()
    if outcome != Outcome.sent:
        log.info("message %s via %s: %s (%s)", message_id, via, outcome, error)
    return outcome


def resend_message(session: Session, message_id: int, now: dt.datetime) -> Notification:
    """Put a dead message back in the outbox with fresh attempts (the caller commits); a
    pending or sending one is left as it is; 409 for a sent one."""
    row = session.get(Notification, message_id, with_for_update=True)
    if row is None:
        raise NotFound("unknown_message")
    if row.status == NotificationStatus.sent:
        raise Conflict("message_already_sent")
    if row.status == NotificationStatus.dead:
        row.status = NotificationStatus.pending
        row.attempts = 0
        row.next_attempt_at = now
        row.claimed_at = None
        session.add(row)
        session.flush()
    return row
