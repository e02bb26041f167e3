"""API shapes of a booking: what a client sends and what it gets back."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from postal.booking.models import BookingChannel, BookingStatus, ItemState, ServiceForm
from postal.booking.progress import BookingProgress
from postal.calendar import Slot
from postal.catalogue.models import DocumentKind, ItemKind, TariffZone
from postal.notify.models import ContactChannel

_EXAMPLE: dict[str, Any] = {
    "service_form": "both",
    "procedure_code": "1.001193",
    "desk_code": "MC-00004",
    "citizen_name": "Nguyễn Văn An",
    "phone": "0912345678",
    "id_number": "001084000999",
    "address_text": "Số 12 phố Trúc Bạch",
    "commune_code": "00004",
    "date": "2026-11-30",
    "slot": "morning",
}


class BookingCreate(BaseModel):
    """A request for the postal service, as a citizen or the one-stop system sends it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    service_form: ServiceForm
    procedure_code: str = Field(min_length=1, max_length=40)
    desk_code: str = Field(min_length=1, max_length=40)
    citizen_name: str = Field(min_length=1, max_length=120)
    phone: str = Field(min_length=1, max_length=30)
    email: str | None = Field(
        default=None, max_length=254, description="Required when contact_channel is email."
    )
    contact_channel: ContactChannel = Field(
        default=ContactChannel.sms,
        description="How the citizen wants to be told; a channel this deployment does not "
        "offer falls back to SMS.",
    )
    lang: Literal["vi", "en"] = Field(default="vi", description="Language of the messages.")
    id_number: str = Field(min_length=1, max_length=30)
    address_text: str = Field(min_length=1, max_length=300)
    commune_code: str = Field(min_length=1, max_length=10)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    date: dt.date
    slot: Slot
    fee_collection: bool = False
    external_reference: str | None = Field(default=None, max_length=60)


class BookingReschedule(BaseModel):
    """A new date and slot for a booking."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"date": "2026-12-01", "slot": "afternoon"}]},
    )

    date: dt.date
    slot: Slot


class BookingCancel(BaseModel):
    """Why a booking is cancelled (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=300)


class DocumentPublic(BaseModel):
    """One document the citizen must prepare."""

    name: str
    kind: DocumentKind
    quantity: int


class ItemPublic(BaseModel):
    """A postal item of a booking."""

    number: str
    kind: ItemKind
    state: ItemState


class BookingPublic(BaseModel):
    """A booking as its citizen, the staff or the one-stop system see it (personal data masked)."""

    reference: str
    service_form: ServiceForm
    status: BookingStatus
    progress: BookingProgress = Field(
        default=BookingProgress.booked,
        description="How far the post has got, derived from the items' custody states "
        "(picked_up, at_desk, result_ready, out_for_delivery, delivered, attempt_failed, "
        "returned_to_desk...); `status` stays the booking's own (live, cancelled).",
    )
    channel: BookingChannel
    procedure_code: str
    procedure_name: str
    desk_code: str
    desk_name: str
    post_office_code: str
    citizen_name: str
    phone_masked: str
    email_masked: str | None
    contact_channel: ContactChannel
    id_number_masked: str
    address_text: str
    commune_code: str
    commune_name: str
    lat: float | None
    lon: float | None
    date: dt.date
    slot: Slot
    slot_start: dt.datetime
    slot_end: dt.datetime
    zone: TariffZone
    fee_collection: bool
    postal_fee_vnd: int
    procedure_fee_vnd: int
    items: list[ItemPublic]
    documents: list[DocumentPublic]
    external_reference: str | None
    created_at: dt.datetime


class BookingCreated(BookingPublic):
    """The reply to a new booking: the booking and the citizen's access token (shown once)."""

    access_token: str


class BookingPage(BaseModel):
    """One page of a booking search."""

    items: list[BookingPublic]
    next_cursor: str | None
