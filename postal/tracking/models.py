"""Custody ledger tables: append-only events, the chain head, per-item custody, handover records."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from postal.booking.models import ItemState
from postal.db import EnumText, UTCDateTime, utcnow

GENESIS_HASH = "0" * 64


class EventType(StrEnum):
    """What a custody event records (each is one transition of the state machine)."""

    pickup = "pickup"
    arrive_post_office = "arrive_post_office"
    receive_at_desk = "receive_at_desk"
    discrepancy = "discrepancy"
    result_ready = "result_ready"
    hand_to_courier = "hand_to_courier"
    deliver = "deliver"
    attempt_failed = "attempt_failed"
    next_attempt = "next_attempt"
    return_to_desk = "return_to_desk"
    correction = "correction"


class SealState(StrEnum):
    """State of the seal on the dossier envelope."""

    intact = "intact"
    broken = "broken"


class CustodyEvent(SQLModel, table=True):
    """One handoff or status of one item. Rows are never updated or deleted (trigger in PG).

    ``seq`` is the position in the whole ledger; ``ledger_prev_hash`` is the hash of the event at
    ``seq - 1`` and ``item_prev_hash`` the hash of the previous event of the same item.
    """

    __tablename__ = "custody_event"
    __table_args__ = (Index("ix_custody_event_item_seq", "item_id", "seq"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: str = Field(unique=True, max_length=36)
    request_hash: str = Field(max_length=64)
    type: EventType = Field(sa_type=EnumText(EventType))
    item_id: int = Field(foreign_key="item.id")
    item_number: str = Field(max_length=13, index=True)
    state_before: ItemState = Field(sa_type=EnumText(ItemState))
    state_after: ItemState = Field(sa_type=EnumText(ItemState))
    from_party: str = Field(max_length=80)
    to_party: str = Field(max_length=80)
    actor: str = Field(max_length=100)
    device_time: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    device_offset_minutes: int
    recorded_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    place_code: str | None = Field(default=None, max_length=40)
    seal_number: str | None = Field(default=None, max_length=40)
    seal_state: SealState | None = Field(default=None, sa_type=EnumText(SealState))
    document_count: int | None = None
    proof: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    biz_step: str = Field(max_length=40)
    disposition: str = Field(max_length=40)
    upu_code: str = Field(max_length=8)
    corrects_event_id: str | None = Field(default=None, max_length=36)
    record_id: int | None = Field(default=None, index=True)
    item_prev_hash: str = Field(max_length=64)
    ledger_prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class LedgerHead(SQLModel, table=True):
    """The single row naming the newest event; appends lock it to serialise the chain."""

    __tablename__ = "ledger_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)


class ItemCustody(SQLModel, table=True):
    """Who holds an item now, its last event hash and its delivery attempts (one row per item)."""

    __tablename__ = "item_custody"

    item_id: int = Field(primary_key=True, foreign_key="item.id")
    holder: str = Field(max_length=80)
    last_hash: str = Field(default=GENESIS_HASH, max_length=64)
    event_count: int = 0
    failed_attempts: int = 0
    next_attempt_on: dt.date | None = None
    fees_collected_vnd: int = 0
    receipt_number: str | None = Field(default=None, max_length=40)
    seal_number: str | None = Field(default=None, max_length=40)
    last_device_time: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class RecordDirection(StrEnum):
    """Which way a handover record moves items."""

    courier_to_desk = "courier_to_desk"
    desk_to_courier = "desk_to_courier"


class RecordStatus(StrEnum):
    """An open record takes confirmations; a closed one is immutable."""

    open = "open"
    closed = "closed"


class LineStatus(StrEnum):
    """The receiving party's finding for one item of a record."""

    pending = "pending"
    received = "received"
    missing = "missing"
    seal_damaged = "seal_damaged"
    not_expected = "not_expected"


class HandoverRecord(SQLModel, table=True):
    """A biên bản giao nhận between a courier and a desk."""

    __tablename__ = "handover_record"

    id: int | None = Field(default=None, primary_key=True)
    direction: RecordDirection = Field(sa_type=EnumText(RecordDirection))
    status: RecordStatus = Field(sa_type=EnumText(RecordStatus), index=True)
    desk_code: str = Field(foreign_key="desk.code", index=True)
    courier_id: int = Field(foreign_key="staff_user.id", index=True)
    opened_by: str = Field(max_length=100)
    opened_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_by: str | None = Field(default=None, max_length=100)
    fees_vnd: int = 0
    courier_ack_sha256: str | None = Field(default=None, max_length=64)
    courier_ack_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    clerk_ack_sha256: str | None = Field(default=None, max_length=64)
    clerk_ack_by: str | None = Field(default=None, max_length=100)
    clerk_ack_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class HandoverLine(SQLModel, table=True):
    """One item of a record: expected (listed at opening) or found unexpectedly."""

    __tablename__ = "handover_line"
    __table_args__ = (UniqueConstraint("record_id", "item_number"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="handover_record.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="item.id")
    item_number: str = Field(max_length=13)
    expected: bool = True
    status: LineStatus = Field(sa_type=EnumText(LineStatus))
    confirmed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    confirmed_by: str | None = Field(default=None, max_length=100)
    event_id: str | None = Field(default=None, max_length=36)
    fees_vnd: int = 0


class OtpChallenge(SQLModel, table=True):
    """A one-time code sent to the citizen's phone to acknowledge a pickup or a delivery."""

    __tablename__ = "otp_challenge"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    code_hash: str = Field(max_length=64)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Wrong tries left: at 0 the code is dead, even for the right digits (a new one is needed).
    attempts_left: int = Field(default=5)
    # Who asked for the code (the per-courier hourly cap counts these).
    requested_by: str | None = Field(default=None, max_length=100, index=True)
