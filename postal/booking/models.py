"""Booking, item and capacity tables, and the API shapes of a booking."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from postal.calendar import Slot
from postal.catalogue.models import ItemKind, TariffZone
from postal.db import EnumText, UTCDateTime, utcnow
from postal.notify.models import ContactChannel


class ServiceForm(StrEnum):
    """The three service forms a citizen chooses from."""

    dossier_pickup = "dossier_pickup"
    result_delivery = "result_delivery"
    both = "both"


class BookingStatus(StrEnum):
    """Life of a booking (the items carry their own custody state)."""

    booked = "booked"
    awaiting_result = "awaiting_result"
    cancelled = "cancelled"
    completed = "completed"


class BookingChannel(StrEnum):
    """Who created the booking."""

    citizen = "citizen"
    integration = "integration"
    staff = "staff"


ACTIVE_CITIZEN_BOOKING = "status <> 'cancelled' AND channel = 'citizen'"


class Booking(SQLModel, table=True):
    """A citizen's request for the postal service (one of the three service forms)."""

    __table_args__ = (
        # One active citizen booking per ID number (its keyed hash) per date and half-day slot.
        Index(
            "uq_booking_active_id_number_slot",
            "id_number_hash",
            "date",
            "slot",
            unique=True,
            sqlite_where=text(ACTIVE_CITIZEN_BOOKING),
            postgresql_where=text(ACTIVE_CITIZEN_BOOKING),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True, max_length=20)
    service_form: ServiceForm = Field(sa_type=EnumText(ServiceForm))
    status: BookingStatus = Field(sa_type=EnumText(BookingStatus), index=True)
    channel: BookingChannel = Field(sa_type=EnumText(BookingChannel))
    procedure_code: str = Field(foreign_key="procedure.code")
    desk_code: str = Field(foreign_key="desk.code", index=True)
    post_office_code: str = Field(foreign_key="post_office.code", index=True)
    citizen_name: str
    phone: str
    email: str | None = Field(default=None, max_length=254)
    contact_channel: ContactChannel = Field(
        default=ContactChannel.sms, sa_type=EnumText(ContactChannel)
    )
    lang: str = Field(default="vi", max_length=8)
    id_number_hash: str = Field(index=True)
    id_number_masked: str
    address_text: str
    commune_code: str = Field(foreign_key="commune.code")
    lat: float | None = None
    lon: float | None = None
    location_approximate: bool = True
    date: dt.date = Field(index=True)
    slot: Slot = Field(sa_type=EnumText(Slot))
    zone: TariffZone = Field(sa_type=EnumText(TariffZone))
    fee_collection: bool = False
    postal_fee_vnd: int
    procedure_fee_vnd: int
    access_token_hash: str = Field(index=True)
    external_reference: str | None = Field(default=None, index=True)
    # The one-stop system's API key (its name) a booking came through: only it reads the booking.
    api_key_name: str | None = Field(default=None, max_length=100, index=True)
    cancel_reason: str | None = None
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ItemState(StrEnum):
    """Custody state of an item (the ledger issue extends the transitions)."""

    booked = "booked"
    picked_up = "picked_up"
    at_post_office = "at_post_office"
    received_at_desk = "received_at_desk"
    discrepancy = "discrepancy"
    awaiting_result = "awaiting_result"
    ready_at_desk = "ready_at_desk"
    with_courier = "with_courier"
    delivered = "delivered"
    attempt_failed = "attempt_failed"
    returned_to_desk = "returned_to_desk"
    cancelled = "cancelled"


class Item(SQLModel, table=True):
    """One physical packet the post carries: a dossier or a result, with its S10 number."""

    id: int | None = Field(default=None, primary_key=True)
    # Not unique: a number may be reissued after 12 months (the registry guards that window).
    number: str = Field(index=True, max_length=13)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    kind: ItemKind = Field(sa_type=EnumText(ItemKind))
    procedure_code: str = Field(foreign_key="procedure.code")
    desk_code: str = Field(foreign_key="desk.code", index=True)
    state: ItemState = Field(sa_type=EnumText(ItemState), index=True)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class SlotLoad(SQLModel, table=True):
    """Bookings held per post office per date and slot; updated atomically against capacity."""

    __tablename__ = "slot_load"

    post_office_code: str = Field(primary_key=True, foreign_key="post_office.code")
    date: dt.date = Field(primary_key=True)
    slot: Slot = Field(sa_type=EnumText(Slot), primary_key=True)
    booked: int = 0


class ItemNumberSeries(SQLModel, table=True):
    """The next serial to issue for a service indicator (one row per indicator)."""

    __tablename__ = "item_number_series"

    indicator: str = Field(primary_key=True, max_length=2)
    next_serial: int


class IssuedItemNumber(SQLModel, table=True):
    """Every S10 number ever issued, with when: the serial range wraps only past 12 months."""

    __tablename__ = "issued_item_number"
    __table_args__ = (UniqueConstraint("indicator", "serial"),)

    number: str = Field(primary_key=True, max_length=13)
    indicator: str = Field(max_length=2)
    serial: int
    issued_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
