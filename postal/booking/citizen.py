"""What the citizen pages need beside the booking itself: the fee and free places while the
form is filled, finding a booking again, names in English, and the locality's help line."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from postal.booking.models import Booking, BookingStatus, Item, ItemState, ServiceForm, SlotLoad
from postal.booking.progress import BookingProgress, booking_progress
from postal.booking.service import check_slot, item_kinds, tariff_zone
from postal.calendar import Slot
from postal.catalogue import service as catalogue
from postal.catalogue.models import Locality, PostOffice, TariffZone
from postal.config import Settings
from postal.errors import FieldErrors, PostalError
from postal.phone import normalise_phone

# --- the fee and the free places, while the form is filled ---------------------------------


@dataclass(frozen=True)
class Quote:
    """The postal charge of a booking as it would be made, and the procedure's own fee."""

    postal_fee_vnd: int
    zone: TariffZone
    procedure_fee_vnd: int


@dataclass(frozen=True)
class SlotAvailability:
    """Whether a half day can be booked: places left, or the reason (a message code) not."""

    slot: Slot
    places_left: int
    reason: str | None = None
    params: dict[str, Any] | None = None

    @property
    def open(self) -> bool:
        """True when the half day takes a booking."""
        return self.reason is None and self.places_left > 0


def quote(
    session: Session,
    *,
    service_form: ServiceForm,
    procedure_code: str | None,
    desk_code: str,
    commune_code: str,
    day: dt.date,
    fee_collection: bool,
) -> Quote | None:
    """The fee a booking with these choices would cost; None when a choice is unknown or no
    tariff is in force on ``day``."""
    try:
        desk = catalogue.get_desk(session, desk_code)
        address = catalogue.get_commune(session, commune_code)
        zone = tariff_zone(address, catalogue.get_commune(session, desk.commune_code))
        fee = sum(
            catalogue.tariff_amount(session, day, kind, zone, fee_collection)
            for kind in item_kinds(service_form)
        )
        procedure_fee = (
            catalogue.get_procedure(session, procedure_code).fee_vnd if procedure_code else 0
        )
    except PostalError:
        return None
    return Quote(fee, zone, procedure_fee)


def slot_availability(
    session: Session,
    settings: Settings,
    *,
    desk_code: str,
    commune_code: str,
    day: dt.date,
    now: dt.datetime,
) -> list[SlotAvailability]:
    """For each half day of ``day``: the places left at the post office serving the commune,
    or why the half day cannot be booked (the same checks as a booking)."""
    desk = catalogue.get_desk(session, desk_code)
    office = catalogue.serving_post_office(session, commune_code)
    result: list[SlotAvailability] = []
    for slot in Slot:
        errors = FieldErrors()
        checked = check_slot(session, settings, desk, day, slot, now, errors)
        if checked is None:
            first = errors.items[0]
            result.append(SlotAvailability(slot, 0, first["code"], first["params"]))
            continue
        if office is None:
            result.append(SlotAvailability(slot, 0, "address_outside_service_area"))
            continue
        load = session.get(SlotLoad, (office.code, day, slot))
        left = max(0, office.slot_capacity - (load.booked if load else 0))
        result.append(SlotAvailability(slot, left, None if left else "slot_full"))
    return result


# --- where a booking stands ------------------------------------------------------------------


def progress_of(session: Session, booking: Booking) -> BookingProgress:
    """The booking's progress from its items' custody states."""
    items = session.exec(select(Item).where(Item.booking_id == booking.id)).all()
    return booking_progress(
        booking.status, booking.service_form, [(i.kind, i.state) for i in items]
    )


_UNTOUCHED = frozenset({ItemState.booked, ItemState.awaiting_result, ItemState.ready_at_desk})


def changeable(session: Session, booking: Booking) -> bool:
    """Whether the citizen may still reschedule or cancel: no item has moved yet (the rule
    service.reschedule and service.cancel apply)."""
    if booking.status != BookingStatus.booked:
        return False
    items = session.exec(select(Item).where(Item.booking_id == booking.id)).all()
    return all(i.state in _UNTOUCHED for i in items)


# --- finding a booking again -------------------------------------------------------------------


def find_for_citizen(session: Session, reference: str, phone: str) -> Booking | None:
    """The live or past booking with this reference whose phone is ``phone``; None otherwise
    (wrong reference and wrong phone are not told apart)."""
    ref = "".join(reference.split()).upper()
    if ref and not ref.startswith("HS-"):
        ref = "HS-" + ref.removeprefix("HS")
    try:
        wanted = normalise_phone(phone)
    except PostalError:
        wanted = ""
    booking = session.exec(select(Booking).where(Booking.reference == ref)).first()
    held = booking.phone if booking is not None else "+84000000000"
    # Compare in constant time whether or not the reference exists.
    same = hmac.compare_digest(held.encode(), wanted.encode())
    return booking if booking is not None and same and wanted else None


# --- help for citizens -------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenHelp:
    """The locality's help line for citizens."""

    hotline: str
    hours: str
    hours_en: str


@cache
def _help(path: Path, mtime: float) -> CitizenHelp | None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    hotline = str(doc.get("hotline") or "").strip()
    if not hotline:
        return None
    hours = str(doc.get("hours") or "").strip()
    return CitizenHelp(hotline, hours, str(doc.get("hours_en") or hours).strip())


def citizen_help(
    session: Session, settings: Settings, slug: str | None = None
) -> CitizenHelp | None:
    """The help line of the locality (``slug``, or the first served one) from
    data/<slug>/citizen_help.yaml; None when the locality publishes none."""
    if slug is None:
        slugs = session.exec(select(Locality.slug).order_by(col(Locality.slug))).all()
        slug = slugs[0] if slugs else None
    if slug is None:
        return None
    path = settings.data_dir / slug / "citizen_help.yaml"
    if not path.is_file():
        return None
    return _help(path, path.stat().st_mtime)


def booking_locality(session: Session, booking: Booking) -> str | None:
    """The locality whose post office serves the booking."""
    office = session.get(PostOffice, booking.post_office_code)
    return office.locality_slug if office else None
