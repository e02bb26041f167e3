"""API shapes of the custody ledger: courier events, handover records, public tracking."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from postal.booking.models import ItemState
from postal.catalogue.models import DocumentKind, ItemKind
from postal.tracking.models import (
    EventType,
    LineStatus,
    RecordDirection,
    RecordStatus,
    SealState,
)

SHA256 = r"^[0-9a-f]{64}$"

# A point of a drawn signature: [x, y] in canvas pixels; a stroke is one pen-down to pen-up.
Coordinate = Annotated[int, Field(ge=0, le=10_000)]
StrokePoint = Annotated[list[Coordinate], Field(min_length=2, max_length=2)]
Stroke = Annotated[list[StrokePoint], Field(min_length=1, max_length=2_000)]


class GeoPoint(BaseModel):
    """A GPS fix with its accuracy."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class Seal(BaseModel):
    """The seal on the dossier envelope."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=40)
    state: SealState = SealState.intact


class ChecklistEntry(BaseModel):
    """One document of the procedure's list as the courier found it."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(ge=0)
    present: bool
    form: DocumentKind | None = None


class Fees(BaseModel):
    """Money collected from the citizen, with the receipt handed over."""

    model_config = ConfigDict(extra="forbid")

    postal_fee_vnd: int = Field(ge=0)
    procedure_fee_vnd: int = Field(default=0, ge=0)
    receipt_number: str | None = Field(default=None, max_length=40)


class Acknowledgement(BaseModel):
    """The citizen's acknowledgement: a one-time code, or a signature drawn on the courier's
    screen (its strokes; the server computes the hash it stores)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["otp", "signature"]
    otp_code: str | None = Field(default=None, max_length=10)
    signature_strokes: list[Stroke] | None = Field(
        default=None,
        max_length=100,
        description="The drawn signature: strokes of [x, y] canvas pixels (integers), at least "
        "10 points in all. Required with `method: signature`.",
    )
    signature_sha256: str | None = Field(
        default=None,
        pattern=SHA256,
        description="Optional: SHA-256 of the strokes' JSON as `JSON.stringify` writes it; "
        "refused when it differs from the server's own computation.",
    )


class Recipient(BaseModel):
    """Who received a result: the citizen's ID number, or a proxy with an authorisation."""

    model_config = ConfigDict(extra="forbid")

    id_number: str | None = Field(default=None, max_length=30)
    proxy_name: str | None = Field(default=None, max_length=120)
    proxy_id_number: str | None = Field(default=None, max_length=30)
    authorisation_ref: str | None = Field(default=None, max_length=60)


class FailReason(StrEnum):
    """Why a delivery attempt failed."""

    absent = "absent"
    wrong_address = "wrong_address"
    refused = "refused"
    other = "other"


_EVENT_EXAMPLE: dict[str, Any] = {
    "event_id": "0b6f1e0e-4a57-4c1e-9a53-6f2b1f7f3a10",
    "type": "pickup",
    "item_number": "EB100000011VN",
    "device_time": "2026-12-08T08:40:00+07:00",
    "location": {"lat": 21.043, "lon": 105.836, "accuracy_m": 8},
    "seal": {"number": "S-000123", "state": "intact"},
    "document_count": 2,
    "checklist": [{"position": 1, "present": True, "form": "original"}],
    "fees": {"postal_fee_vnd": 22000, "procedure_fee_vnd": 0, "receipt_number": "BL-0001"},
    "acknowledgement": {"method": "otp", "otp_code": "482913"},
}


class EventIn(BaseModel):
    """One custody event captured on a device; ``event_id`` is its idempotency key."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    event_id: uuid.UUID
    type: EventType
    item_number: str = Field(min_length=1, max_length=30)
    device_time: AwareDatetime
    location: GeoPoint | None = None
    place_code: str | None = Field(default=None, max_length=40)
    seal: Seal | None = None
    document_count: int | None = Field(default=None, ge=0, le=1000)
    checklist: list[ChecklistEntry] | None = None
    fees: Fees | None = None
    acknowledgement: Acknowledgement | None = None
    recipient: Recipient | None = None
    reason: FailReason | None = None
    note: str | None = Field(default=None, max_length=500)
    photo_base64: str | None = Field(
        default=None,
        max_length=8_000_000,
        description="A photo as proof of a delivery or a failed attempt (JPEG, PNG, WebP or "
        "HEIC, base64): the server keeps its SHA-256, size and type. A hash chosen by the "
        "client is never taken.",
    )
    corrects_event_id: uuid.UUID | None = None
    correction: dict[str, Any] | None = None


class EventBatch(BaseModel):
    """Events captured offline, sent in the order they happened."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=500)


class EventResult(BaseModel):
    """The outcome of one event of a batch."""

    event_id: str
    status: Literal["recorded", "replayed", "rejected"]
    http_status: int
    item_number: str
    seq: int | None = None
    state: ItemState | None = None
    next_attempt_on: dt.date | None = None
    code: str | None = None
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class BatchResult(BaseModel):
    """Per-event outcomes, in the order sent."""

    results: list[EventResult]


class OtpSent(BaseModel):
    """A one-time code went to the booking's phone."""

    item_number: str
    phone_masked: str
    expires_at: dt.datetime


class RecordOpen(BaseModel):
    """Open a handover record: the courier for a desk, or the clerk for a courier (results)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "direction": "courier_to_desk",
                    "desk_code": "MC-00004",
                    "item_numbers": ["EB100000011VN"],
                }
            ]
        },
    )

    direction: RecordDirection
    desk_code: str = Field(min_length=1, max_length=40)
    courier_username: str | None = Field(default=None, max_length=100)
    item_numbers: list[str] = Field(min_length=1, max_length=500)


class LineConfirm(BaseModel):
    """The receiving party's finding for one item, scanned or typed."""

    model_config = ConfigDict(extra="forbid")

    item_number: str = Field(min_length=1, max_length=30)
    status: Literal["received", "missing", "seal_damaged"]
    note: str | None = Field(default=None, max_length=500)


class RecordAck(BaseModel):
    """A party's acknowledgement of a closed record: the signature drawn on the screen (its
    strokes; the server computes the hash the record keeps)."""

    model_config = ConfigDict(extra="forbid")

    signature_strokes: list[Stroke] = Field(
        max_length=100,
        description="The drawn signature: strokes of [x, y] canvas pixels (integers), at least "
        "10 points in all.",
    )
    signature_sha256: str | None = Field(
        default=None,
        pattern=SHA256,
        description="Optional: SHA-256 of the strokes' JSON as `JSON.stringify` writes it; "
        "refused when it differs from the server's own computation.",
    )


class LinePublic(BaseModel):
    """One line of a record."""

    item_number: str
    kind: ItemKind | None
    expected: bool
    status: LineStatus
    confirmed_at: dt.datetime | None
    confirmed_by: str | None
    fees_vnd: int
    appointment_date: dt.date | None = None


class RecordPublic(BaseModel):
    """A handover record with its lines."""

    id: int
    direction: RecordDirection
    status: RecordStatus
    desk_code: str
    courier_username: str
    opened_by: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    fees_vnd: int
    courier_acknowledged: bool
    clerk_acknowledged: bool
    lines: list[LinePublic]


class TimelineEntry(BaseModel):
    """One step of the public timeline, in local time."""

    time: dt.datetime
    label: str
    place: str | None


class TrackingPublic(BaseModel):
    """What anyone with the item number may see: the state, the desk, the timeline; the
    procedure and the masked name and phone only with the phone's last four digits."""

    item_number: str
    kind: ItemKind
    state: ItemState
    state_label: str
    details_shown: bool
    procedure_name: str | None
    desk_name: str
    citizen_name_masked: str | None
    phone_masked: str | None
    next_attempt_on: dt.date | None
    timeline: list[TimelineEntry]
