"""Booking service: validate a request, quote the fee, hold capacity, issue items."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from postal import cursor as cursors
from postal.auth.models import Role
from postal.auth.service import CITIZEN_TOKEN_PREFIX, Principal, new_token, token_digest
from postal.booking import names
from postal.booking.models import (
    Booking,
    BookingChannel,
    BookingStatus,
    Item,
    ItemState,
    ServiceForm,
    SlotLoad,
)
from postal.booking.numbers import issue_item_number
from postal.booking.progress import booking_progress
from postal.booking.schemas import (
    BookingCreate,
    BookingCreated,
    BookingPage,
    BookingPublic,
    DocumentPublic,
    ItemPublic,
)
from postal.calendar import (
    Slot,
    Window,
    desk_windows,
    slot_end_utc,
    slot_start_utc,
    slot_window,
)
from postal.catalogue import service as catalogue
from postal.catalogue.models import Commune, Desk, ItemKind, PostOffice, Procedure, TariffZone
from postal.config import Settings
from postal.db import utcnow
from postal.errors import Conflict, FieldErrors, Forbidden, NotFound, PostalError, ValidationFailed
from postal.geo.boundaries import CommuneBoundaries
from postal.geo.gazetteer import Gazetteer
from postal.geo.geocode import Geocoder, make_geocoder
from postal.ids import IdNumber, IdNumberProtector, load_id_prefixes, parse_id_number
from postal.notify.citizen import enqueue_booking_confirmed
from postal.notify.models import ContactChannel
from postal.phone import mask_phone, normalise_phone

T = TypeVar("T")

# A practical e-mail shape: one @, a dotted domain, no spaces (the SMTP server has the last word).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# Crockford base32 without I, L, O, U: readable over the phone.
_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A fresh booking reference, e.g. HS-7K2M9Q4T."""
    return "HS-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))


def item_kinds(form: ServiceForm) -> list[ItemKind]:
    """The items a service form creates."""
    return {
        ServiceForm.dossier_pickup: [ItemKind.dossier],
        ServiceForm.result_delivery: [ItemKind.result],
        ServiceForm.both: [ItemKind.dossier, ItemKind.result],
    }[form]


def tariff_zone(address: Commune, desk_commune: Commune) -> TariffZone:
    """The tariff zone between the citizen's commune and the desk's commune."""
    if address.code == desk_commune.code:
        return TariffZone.same_commune
    if address.province_code == desk_commune.province_code:
        return TariffZone.same_province
    return TariffZone.other_province


@dataclass(frozen=True)
class SlotCheck:
    """A validated date and slot with its window in local time."""

    date: dt.date
    slot: Slot
    window: Window
    start_utc: dt.datetime
    end_utc: dt.datetime


def _try(errors: FieldErrors, fn: Callable[[], T]) -> T | None:
    """Run a validator, recording its ValidationFailed instead of stopping."""
    try:
        return fn()
    except PostalError as exc:
        errors.capture(exc)
        return None


def check_date(
    session: Session, settings: Settings, day: dt.date, now: dt.datetime, errors: FieldErrors
) -> bool:
    """A date not past, within the booking horizon and not a public holiday (any desk)."""
    local_today = now.astimezone(_tz(settings)).date()
    if day < local_today:
        errors.add("date", "date_in_past")
        return False
    if day > local_today + dt.timedelta(days=settings.booking_horizon_days):
        errors.add("date", "date_too_far", days=settings.booking_horizon_days)
        return False
    cal = catalogue.work_calendar(session)
    if cal.is_holiday(day):
        holiday = cal.holiday_name(day)
        errors.add("date", "not_working_day", name=f" ({holiday})" if holiday else "")
        return False
    return True


def check_slot(
    session: Session,
    settings: Settings,
    desk: Desk,
    day: dt.date,
    slot: Slot,
    now: dt.datetime,
    errors: FieldErrors,
) -> SlotCheck | None:
    """Working day, inside the desk's hours, far enough in the future, within the horizon."""
    cal = catalogue.work_calendar(session)
    if not check_date(session, settings, day, now, errors):
        return None
    hours = catalogue.desk_hours(session, desk.code)
    # Saturdays count where the desk opens (some desks do on Saturday mornings).
    if cal.is_holiday(day) or not desk_windows(hours, cal, day):
        holiday = cal.holiday_name(day)
        errors.add("date", "not_working_day", name=f" ({holiday})" if holiday else "")
        return None
    window = slot_window(hours, cal, day, slot)
    if window is None:
        errors.add("slot", "slot_outside_desk_hours")
        return None
    start = slot_start_utc(day, window)
    end = slot_end_utc(day, window)
    if start - dt.timedelta(minutes=settings.booking_lead_minutes) < now:
        errors.add("slot", "slot_in_past", minutes=settings.booking_lead_minutes)
        return None
    return SlotCheck(day, slot, window, start, end)


def _tz(settings: Settings) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.timezone)


def _check_eligibility(proc: Procedure, form: ServiceForm, desk: Desk, errors: FieldErrors) -> None:
    if proc.in_person_only:
        errors.add("procedure_code", "procedure_in_person_only")
        return
    if form in (ServiceForm.dossier_pickup, ServiceForm.both) and not proc.dossier_pickup:
        errors.add("procedure_code", "procedure_not_eligible_for_pickup")
    if form in (ServiceForm.result_delivery, ServiceForm.both) and not proc.result_delivery:
        errors.add("procedure_code", "procedure_not_eligible_for_delivery")
    if str(proc.level) not in desk.accepted_levels.split(";"):
        errors.add("desk_code", "procedure_not_handled_by_desk")


def _hold_capacity(session: Session, office: PostOffice, day: dt.date, slot: Slot) -> None:
    """Take one place in the post office's slot, atomically, or raise 409 slot_full."""
    table = SlotLoad.__table__  # type: ignore[attr-defined]
    values = {"post_office_code": office.code, "date": day, "slot": str(slot), "booked": 0}
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    session.execute(ins.values(values).on_conflict_do_nothing())
    # A conditional increment is atomic in both databases: concurrent bookings for the last
    # place re-check `booked < capacity` against the row version they finally update.
    result = session.execute(
        update(table)
        .where(
            table.c.post_office_code == office.code,
            table.c.date == day,
            table.c.slot == str(slot),
            table.c.booked < office.slot_capacity,
        )
        .values(booked=table.c.booked + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("slot_full", field="slot")


def _check_one_active(session: Session, id_hash: str, day: dt.date, slot: Slot) -> None:
    """409 when the ID number already holds an active citizen booking in this slot."""
    taken = session.exec(
        select(Booking.id).where(
            Booking.id_number_hash == id_hash,
            Booking.date == day,
            Booking.slot == slot,
            Booking.channel == BookingChannel.citizen,
            Booking.status != BookingStatus.cancelled,
        )
    ).first()
    if taken is not None:
        raise Conflict("id_number_already_booked", field="id_number")


def _flush_one_active(session: Session) -> None:
    """Flush; a concurrent booking of the same ID number and slot (the unique index) is 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        if "uq_booking_active_id_number_slot" in str(exc.orig) or "booking.id_number_hash" in str(
            exc.orig
        ):
            raise Conflict("id_number_already_booked", field="id_number") from exc
        raise


def _release_capacity(session: Session, office_code: str, day: dt.date, slot: Slot) -> None:
    table = SlotLoad.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(
            table.c.post_office_code == office_code,
            table.c.date == day,
            table.c.slot == str(slot),
            table.c.booked > 0,
        )
        .values(booked=table.c.booked - 1)
    )


@dataclass(frozen=True)
class _Checked:
    """What the field checks found: the records and parsed values each valid field names."""

    proc: Procedure | None
    desk: Desk | None
    commune: Commune | None
    office: PostOffice | None
    phone: str | None
    email: str | None
    id_number: IdNumber | None
    name: str
    address: str
    slot: SlotCheck | None


@cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    """A validator for one field of BookingCreate, with the field's own constraints."""
    info = BookingCreate.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]


def parse_form(data: Mapping[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    """Each field of a booking request parsed on its own: the values that parsed, and one error
    per missing or malformed field (so a form can name every bad field at once)."""
    values: dict[str, Any] = {}
    errors = FieldErrors()
    for name, info in BookingCreate.model_fields.items():
        raw = data.get(name)
        if raw is None or raw == "":
            if info.is_required():
                errors.add(name, "field_required")
            else:
                values[name] = info.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _field_adapter(name).validate_python(raw)
        except ValidationError:
            code = {"date": "invalid_date", "slot": "invalid_choice"}.get(name, "invalid_value")
            if name in ("service_form", "contact_channel", "lang"):
                code = "invalid_choice"
            errors.add(name, code)
    return values, errors


def _check_fields(
    session: Session,
    settings: Settings,
    values: Mapping[str, Any],
    channel: BookingChannel,
    now: dt.datetime,
    errors: FieldErrors,
) -> _Checked:
    """Every domain check whose inputs are present in ``values``, each error recorded."""
    form: ServiceForm | None = values.get("service_form")
    if channel == BookingChannel.integration and form not in (None, ServiceForm.result_delivery):
        errors.add("service_form", "integration_result_delivery_only")
    proc = desk = None
    if values.get("procedure_code") is not None:
        proc = _try(errors, lambda: catalogue.get_procedure(session, values["procedure_code"]))
    if values.get("desk_code") is not None:
        desk = _try(errors, lambda: catalogue.get_desk(session, values["desk_code"]))
    if proc and desk and form is not None:
        _check_eligibility(proc, form, desk, errors)
    name = " ".join(str(values.get("citizen_name") or "").split())
    if values.get("citizen_name") is not None and len(name) < 2:
        errors.add("citizen_name", "citizen_name_too_short")
    phone = None
    if values.get("phone") is not None:
        phone = _try(errors, lambda: normalise_phone(values["phone"], field="phone"))
    email = None
    if not errors.has("email"):
        channel_wanted = values.get("contact_channel") or ContactChannel.sms
        email = _check_email(values.get("email"), channel_wanted, errors)
    id_number = None
    if values.get("id_number") is not None:
        prefixes = load_id_prefixes(settings.data_dir)
        today = now.astimezone(_tz(settings)).date()
        id_number = _try(
            errors,
            lambda: parse_id_number(values["id_number"], prefixes, today, field="id_number"),
        )
    address = " ".join(str(values.get("address_text") or "").split())
    if values.get("address_text") is not None and len(address) < 5:
        errors.add("address_text", "address_too_short")
    commune = None
    if values.get("commune_code") is not None:
        commune = _try(errors, lambda: catalogue.get_commune(session, values["commune_code"]))
    office: PostOffice | None = None
    if commune:
        office = catalogue.serving_post_office(session, commune.code)
        if office is None:
            errors.add("commune_code", "address_outside_service_area")
    lat, lon = values.get("lat"), values.get("lon")
    if errors.has("lat") or errors.has("lon"):
        pass
    elif (lat is None) != (lon is None):
        errors.add("lat" if lat is None else "lon", "pin_incomplete")
    elif lat is not None and lon is not None and commune and office:
        boundaries = CommuneBoundaries.load(settings.data_dir, office.locality_slug)
        if not boundaries.contains(commune.code, lat, lon):
            errors.add("lat", "pin_outside_commune")
    slot: SlotCheck | None = None
    day, half = values.get("date"), values.get("slot")
    if desk and day is not None and half is not None:
        slot = check_slot(session, settings, desk, day, half, now, errors)
    elif day is not None:
        check_date(session, settings, day, now, errors)
    return _Checked(proc, desk, commune, office, phone, email, id_number, name, address, slot)


def check_form(
    session: Session,
    settings: Settings,
    data: Mapping[str, Any],
    *,
    channel: BookingChannel,
    now: dt.datetime,
) -> BookingCreate:
    """A booking request from a form's raw values, or ValidationFailed naming every missing,
    malformed or invalid field at once (not one round per kind of mistake)."""
    values, errors = parse_form(data)
    _check_fields(session, settings, values, channel, now, errors)
    errors.raise_if_any()
    return BookingCreate.model_validate(values)


def create_booking(
    session: Session,
    settings: Settings,
    request: BookingCreate,
    *,
    channel: BookingChannel,
    now: dt.datetime | None = None,
    api_key_name: str | None = None,
) -> BookingCreated:
    """Validate every field, quote the fee, hold a place in the slot and issue the item numbers.

    Raises ValidationFailed listing every invalid field, or Conflict (slot_full). Writes happen
    only after every check passed; the caller's transaction makes them all-or-nothing.
    """
    now = now or utcnow()
    errors = FieldErrors()
    checked = _check_fields(session, settings, request.model_dump(), channel, now, errors)
    errors.raise_if_any()
    proc, desk, commune, office = checked.proc, checked.desk, checked.commune, checked.office
    phone, email, id_number, slot = checked.phone, checked.email, checked.id_number, checked.slot
    name, address = checked.name, checked.address
    assert proc and desk and commune and office and phone and id_number and slot

    desk_commune = catalogue.get_commune(session, desk.commune_code)
    zone = tariff_zone(commune, desk_commune)
    kinds = item_kinds(request.service_form)
    fee = sum(
        catalogue.tariff_amount(session, request.date, kind, zone, request.fee_collection)
        for kind in kinds
    )
    protector = IdNumberProtector(settings.secret_key)
    id_hash = protector.hash(id_number.digits)
    if channel == BookingChannel.citizen:
        _check_one_active(session, id_hash, request.date, request.slot)
    _hold_capacity(session, office, request.date, request.slot)
    token = new_token(CITIZEN_TOKEN_PREFIX)
    located = request.lat is not None
    lat, lon = request.lat, request.lon
    if not located:
        lat, lon, located = _geocode(settings, address, commune.code, office.locality_slug)
    booking = Booking(
        reference=new_reference(),
        service_form=request.service_form,
        status=BookingStatus.booked,
        channel=channel,
        api_key_name=api_key_name,
        procedure_code=proc.code,
        desk_code=desk.code,
        post_office_code=office.code,
        citizen_name=name,
        phone=phone,
        email=email,
        contact_channel=request.contact_channel,
        lang=request.lang,
        id_number_hash=id_hash,
        id_number_masked=protector.mask(id_number.digits),
        address_text=address,
        commune_code=commune.code,
        lat=lat,
        lon=lon,
        location_approximate=not located,
        date=request.date,
        slot=request.slot,
        zone=zone,
        fee_collection=request.fee_collection,
        postal_fee_vnd=fee,
        procedure_fee_vnd=proc.fee_vnd,
        access_token_hash=token_digest(token),
        external_reference=request.external_reference,
        created_at=now,
        updated_at=now,
    )
    session.add(booking)
    _flush_one_active(session)
    assert booking.id is not None
    for kind in kinds:
        state = ItemState.booked
        if kind == ItemKind.result:
            # A result booked by the one-stop system is ready now; a citizen's waits for it.
            ready = channel == BookingChannel.integration
            state = ItemState.ready_at_desk if ready else ItemState.awaiting_result
        session.add(
            Item(
                number=issue_item_number(session, settings, now),
                booking_id=booking.id,
                kind=kind,
                procedure_code=proc.code,
                desk_code=desk.code,
                state=state,
                created_at=now,
            )
        )
    session.flush()
    enqueue_booking_confirmed(session, booking, now)
    public = to_public(session, settings, booking)
    return BookingCreated(**public.model_dump(), access_token=token)


def _check_email(value: str | None, channel: ContactChannel, errors: FieldErrors) -> str | None:
    """The citizen's e-mail address, trimmed; required when the chosen channel is e-mail."""
    email = (value or "").strip() or None
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        errors.add("email", "invalid_email")
        return None
    if email is None and channel == ContactChannel.email:
        errors.add("email", "email_required")
    return email


def mask_email(email: str | None) -> str | None:
    """An address as staff may see it: n***@example.vn."""
    if not email or "@" not in email:
        return None
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


_GEOCODERS: dict[tuple[str | None, str], Geocoder] = {}


def _geocoder(settings: Settings) -> Geocoder:
    """One geocoder (and so one cache) per configuration, for the life of the process."""
    key = (settings.geocoder_url, str(settings.data_dir))
    if key not in _GEOCODERS:
        _GEOCODERS[key] = make_geocoder(settings, Gazetteer.load(settings.data_dir))
    return _GEOCODERS[key]


def _geocode(
    settings: Settings, address: str, commune_code: str, locality: str
) -> tuple[float, float, bool]:
    """Place an address without a pin: the geocoder's point when it lies in the commune,
    else the commune's label point (flagged approximate)."""
    commune = Gazetteer.load(settings.data_dir).commune(commune_code)
    found = _geocoder(settings).geocode(address, commune)
    if found is not None and not found.approximate:
        boundaries = CommuneBoundaries.load(settings.data_dir, locality)
        if boundaries.contains(commune_code, found.lat, found.lon):
            return found.lat, found.lon, True
    return commune.label_lat, commune.label_lon, False


def get_by_reference(session: Session, reference: str) -> Booking:
    """A booking by reference; 404 when unknown."""
    booking = session.exec(
        select(Booking).where(Booking.reference == reference.strip().upper())
    ).first()
    if booking is None:
        raise NotFound("unknown_booking")
    return booking


def reissue_access_token(session: Session, reference: str) -> str:
    """A new access token for the booking; the previous one stops opening it (the caller
    commits). Used when an idempotent re-send replays the booking's creation."""
    booking = get_by_reference(session, reference)
    token = new_token(CITIZEN_TOKEN_PREFIX)
    booking.access_token_hash = token_digest(token)
    session.add(booking)
    session.flush()
    return token


def citizen_booking(session: Session, token: str) -> Booking:
    """The booking a citizen's access token opens; 404 for an unknown token."""
    booking = session.exec(
        select(Booking).where(Booking.access_token_hash == token_digest(token))
    ).first()
    if booking is None:
        raise NotFound("unknown_booking")
    return booking


def authorise_read(session: Session, principal: Principal, booking: Booking) -> None:
    """Whether ``principal`` may see ``booking``: its citizen, or staff bound to it."""
    if principal.role == Role.citizen and principal.booking_reference == booking.reference:
        return
    if principal.role == Role.admin:
        return
    if principal.role == Role.clerk and principal.desk_code == booking.desk_code:
        return
    if (
        principal.role in (Role.dispatcher, Role.courier)
        and booking.post_office_code in principal.post_office_codes
    ):
        return
    if (
        principal.role == Role.integration
        and booking.channel == BookingChannel.integration
        and booking.api_key_name == principal.username
    ):
        return
    # Do not reveal that a reference exists to someone who may not read it.
    raise NotFound("unknown_booking")


def _modifiable(session: Session, booking: Booking) -> list[Item]:
    if booking.status == BookingStatus.cancelled:
        raise Conflict("booking_cancelled")
    items = list(session.exec(select(Item).where(Item.booking_id == booking.id)).all())
    untouched = {ItemState.booked, ItemState.awaiting_result, ItemState.ready_at_desk}
    if booking.status != BookingStatus.booked or any(i.state not in untouched for i in items):
        raise Conflict("booking_in_progress")
    return items


def reschedule(
    session: Session,
    settings: Settings,
    booking: Booking,
    day: dt.date,
    slot: Slot,
    now: dt.datetime | None = None,
) -> BookingPublic:
    """Move a booking to another date and slot, moving its place in the capacity count."""
    now = now or utcnow()
    _modifiable(session, booking)
    desk = catalogue.get_desk(session, booking.desk_code)
    errors = FieldErrors()
    checked = check_slot(session, settings, desk, day, slot, now, errors)
    errors.raise_if_any()
    assert checked
    if (booking.date, booking.slot) != (day, slot):
        office = session.get(PostOffice, booking.post_office_code)
        assert office
        if booking.channel == BookingChannel.citizen:
            _check_one_active(session, booking.id_number_hash, day, slot)
        _hold_capacity(session, office, day, slot)
        _release_capacity(session, booking.post_office_code, booking.date, booking.slot)
        booking.date, booking.slot, booking.updated_at = day, slot, now
        session.add(booking)
        _flush_one_active(session)
    return to_public(session, settings, booking)


def cancel(
    session: Session,
    settings: Settings,
    booking: Booking,
    reason: str | None,
    now: dt.datetime | None = None,
) -> BookingPublic:
    """Cancel a booking not yet picked up; 409 when cancelled already or under way."""
    now = now or utcnow()
    items = _modifiable(session, booking)
    booking.status = BookingStatus.cancelled
    booking.cancel_reason = reason
    booking.updated_at = now
    for item in items:
        item.state = ItemState.cancelled
        session.add(item)
    _release_capacity(session, booking.post_office_code, booking.date, booking.slot)
    session.add(booking)
    session.flush()
    return to_public(session, settings, booking)


def to_public(
    session: Session, settings: Settings, booking: Booking, lang: str = "vi"
) -> BookingPublic:
    """The public view of a booking: masked personal data, items, documents, slot times, its
    progress from the items; names in ``lang`` (vi, or en where the data has English)."""
    proc = catalogue.get_procedure(session, booking.procedure_code)
    desk = catalogue.get_desk(session, booking.desk_code)
    commune = catalogue.get_commune(session, booking.commune_code)
    items = session.exec(
        select(Item).where(Item.booking_id == booking.id).order_by(col(Item.id))
    ).all()
    window = slot_window(
        catalogue.desk_hours(session, desk.code),
        catalogue.work_calendar(session),
        booking.date,
        booking.slot,
    )
    if window is None:  # hours changed since booking: show the nominal half day
        window = (
            Window(dt.time(8), dt.time(12))
            if booking.slot == Slot.MORNING
            else Window(dt.time(13, 30), dt.time(17))
        )
    english = names.document_names_en(settings.data_dir) if lang == "en" else {}
    return BookingPublic(
        reference=booking.reference,
        service_form=booking.service_form,
        status=booking.status,
        channel=booking.channel,
        procedure_code=proc.code,
        procedure_name=proc.name_en if lang == "en" and proc.name_en else proc.name,
        desk_code=desk.code,
        desk_name=names.desk_name(session, desk.code, lang),
        post_office_code=booking.post_office_code,
        citizen_name=booking.citizen_name,
        phone_masked=mask_phone(booking.phone),
        email_masked=mask_email(booking.email),
        contact_channel=booking.contact_channel,
        id_number_masked=booking.id_number_masked,
        address_text=booking.address_text,
        commune_code=commune.code,
        commune_name=names.commune_name(commune, lang),
        lat=booking.lat,
        lon=booking.lon,
        date=booking.date,
        slot=booking.slot,
        slot_start=slot_start_utc(booking.date, window).astimezone(_tz(settings)),
        slot_end=slot_end_utc(booking.date, window).astimezone(_tz(settings)),
        zone=booking.zone,
        fee_collection=booking.fee_collection,
        postal_fee_vnd=booking.postal_fee_vnd,
        procedure_fee_vnd=booking.procedure_fee_vnd,
        progress=booking_progress(
            booking.status, booking.service_form, [(i.kind, i.state) for i in items]
        ),
        items=[ItemPublic(number=i.number, kind=i.kind, state=i.state) for i in items],
        documents=[
            DocumentPublic(
                name=english.get((proc.code, d.position), d.name) if lang == "en" else d.name,
                kind=d.kind,
                quantity=d.quantity,
            )
            for d in catalogue.procedure_documents(session, proc.code)
        ]
        if booking.service_form != ServiceForm.result_delivery
        else [],
        external_reference=booking.external_reference,
        created_at=booking.created_at.astimezone(_tz(settings)),
    )


@dataclass(frozen=True)
class BookingFilter:
    """Search criteria for the staff booking list."""

    date: dt.date | None = None
    desk_code: str | None = None
    post_office_code: str | None = None
    status: BookingStatus | None = None
    commune_code: str | None = None


def search(
    session: Session,
    settings: Settings,
    principal: Principal,
    criteria: BookingFilter,
    limit: int = 50,
    cursor: str | None = None,
) -> BookingPage:
    """Staff search of bookings, newest id last, paginated by an opaque cursor; scoped by role."""
    if principal.role not in (Role.admin, Role.dispatcher, Role.clerk):
        raise Forbidden("role_not_allowed")
    if not 1 <= limit <= 500:
        raise ValidationFailed("invalid_limit", field="limit")
    query = select(Booking)
    if principal.role == Role.clerk:
        query = query.where(Booking.desk_code == principal.desk_code)
    elif principal.role == Role.dispatcher:
        query = query.where(col(Booking.post_office_code).in_(principal.post_office_codes))
    if criteria.date:
        query = query.where(Booking.date == criteria.date)
    if criteria.desk_code:
        query = query.where(Booking.desk_code == criteria.desk_code)
    if criteria.post_office_code:
        query = query.where(Booking.post_office_code == criteria.post_office_code)
    if criteria.status:
        query = query.where(Booking.status == criteria.status)
    if criteria.commune_code:
        query = query.where(Booking.commune_code == criteria.commune_code)
    if cursor:
        query = query.where(
            col(Booking.id) > cursors.decode(cursor, settings.secret_key, "bookings")
        )
    rows = session.exec(query.order_by(col(Booking.id)).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = (
        cursors.encode(page[-1].id, settings.secret_key, "bookings")
        if len(rows) > limit and page[-1].id
        else None
    )
    return BookingPage(
        items=[to_public(session, settings, b) for b in page], next_cursor=next_cursor
    )
