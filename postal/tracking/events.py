"""Recording custody events: validate against the state machine, then chain into the ledger.

Every check runs before the first write, so a refused event leaves nothing behind. Callers lock
the item rows first (``ledger.lock_items``), then this module locks the chain head on append.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session, col, select

from postal import idempotency
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.booking.models import Booking, Item, ItemState
from postal.catalogue import service as catalogue
from postal.catalogue.models import DocumentKind, ItemKind
from postal.config import Settings, get_settings
from postal.errors import (
    Conflict,
    FieldErrors,
    Forbidden,
    NotFound,
    PostalError,
    TooManyRequests,
    ValidationFailed,
)
from postal.i18n import message
from postal.ids import IdNumberProtector, load_id_prefixes, parse_id_number, parse_s10
from postal.notify import citizen, webhooks
from postal.phone import mask_phone
from postal.tracking import ledger, otp, signature, states
from postal.tracking.config import TrackingSettings
from postal.tracking.items import (
    CITIZEN,
    actor_of,
    courier_party,
    desk_party,
    find_item,
    holds,
    post_office_party,
)
from postal.tracking.models import CustodyEvent, EventType, ItemCustody, OtpChallenge, SealState
from postal.tracking.schemas import Acknowledgement, EventIn, EventResult, OtpSent

# Handoffs between a courier and a desk are written only through handover records.
RECORD_ONLY = frozenset(
    {
        EventType.receive_at_desk,
        EventType.discrepancy,
        EventType.hand_to_courier,
        EventType.return_to_desk,
    }
)
WEBHOOK_TYPES = {
    EventType.receive_at_desk: "item.received_at_desk",
    EventType.hand_to_courier: "item.handed_to_courier",
    EventType.deliver: "item.delivered",
    EventType.attempt_failed: "item.delivery_failed",
}

# Events the citizen is told about (postal/notify/citizen.py): collected, delivered, failed.
CITIZEN_MESSAGES = frozenset({EventType.pickup, EventType.deliver, EventType.attempt_failed})

# A failed pickup (citizen absent, wrong address, refused): the dossier stays with the citizen,
# so the item stays booked and may still be picked up; the next failed attempt is due after
# the same gap as a delivery's, and after the last allowed one the pickup ends (the item is
# cancelled: the citizen books again or hands the dossier in at the desk).
PICKUP_ATTEMPT = states.Transition(
    frozenset({ItemState.booked}), ItemState.booked, "arriving", "in_progress", "EMH"
)
PICKUP_LAST_ATTEMPT = states.Transition(
    frozenset({ItemState.booked}), ItemState.cancelled, "arriving", "inactive", "EMH"
)

# A photo kept as proof (of a delivery, or of a failed attempt): the server hashes the bytes.
PHOTO_MAX_BYTES = 8_000_000
_PHOTO_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
)
# The document list marks papers needed only in some cases ("(nếu có)": when there is one).
_OPTIONAL_MARKS = ("(nếu có)", "(if any)")


def document_optional(name: str) -> bool:
    """Whether a document of a procedure's list is needed only when the citizen has one."""
    lowered = name.lower()
    return any(mark in lowered for mark in _OPTIONAL_MARKS)


def _base64_bytes(text: str) -> bytes:
    """The bytes of a base64 text; 422 naming the field when it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("photo_not_base64", field="photo_base64") from None


def photo_proof(data: bytes, field: str = "photo") -> dict[str, Any]:
    """The proof a photo gives: its SHA-256 computed here, its size and type (422 naming the
    field when it is empty, too big, or not a JPEG, PNG, WebP or HEIC image)."""
    if not data:
        raise ValidationFailed("photo_empty", field=field)
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationFailed("photo_too_large", field=field, limit_mb=PHOTO_MAX_BYTES // 10**6)
    kind = next((t for magic, at, t in _PHOTO_MAGIC if data[at : at + len(magic)] == magic), None)
    if kind is None or (kind == "image/webp" and not data.startswith(b"RIFF")):
        raise ValidationFailed("photo_not_image", field=field)
    return {
        "photo_sha256": hashlib.sha256(data).hexdigest(),
        "photo_bytes": len(data),
        "photo_type": kind,
    }


def _rule(
    kind: ItemKind, event: EventType, details: dict[str, Any] | None = None
) -> states.Transition | None:
    """The state machine's transition, with a dossier's failed pickup attempt added."""
    if kind == ItemKind.dossier and event == EventType.attempt_failed:
        last = details is not None and details.get("last_attempt") is True
        return PICKUP_LAST_ATTEMPT if last else PICKUP_ATTEMPT
    return states.transition(kind, event)


class IllegalTransition(Conflict):
    """The event does not apply to the item's current state (409, the state is in the body)."""

    def __init__(self, code: str, current_state: ItemState, **params: Any) -> None:
        super().__init__(code, state=current_state.value, **params)
        self.current_state = current_state


@dataclass
class Draft:
    """A validated event, ready to be chained."""

    type: EventType
    to_party: str
    device_time: dt.datetime
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_hash: str = ""
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    place_code: str | None = None
    seal_number: str | None = None
    seal_state: SealState | None = None
    document_count: int | None = None
    proof: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    corrects_event_id: str | None = None
    record_id: int | None = None


def initial_holder(item: Item) -> str:
    """Who holds an item before its first event: the citizen (dossier) or the desk (result)."""
    return CITIZEN if item.kind == ItemKind.dossier else desk_party(item.desk_code)


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def write(
    session: Session,
    principal: Principal,
    item: Item,
    custody: ItemCustody,
    draft: Draft,
    now: dt.datetime,
) -> ledger.Entry:
    """Chain a validated draft into the ledger and move the item (the item row is locked)."""
    assert item.id is not None
    if draft.type == EventType.correction:
        step, disposition, upu = states.CORRECTION_STEP
        target = item.state
    else:
        rule = _rule(item.kind, draft.type, draft.details)
        assert rule is not None and item.state in rule.sources
        step, disposition, upu, target = rule.biz_step, rule.disposition, rule.upu, rule.target
    event = ledger.Entry(
        event_id=draft.event_id,
        request_hash=draft.request_hash or idempotency.request_fingerprint(draft.details),
        type=draft.type,
        item_id=item.id,
        item_number=item.number,
        state_before=item.state,
        state_after=target,
        from_party=custody.holder,
        to_party=draft.to_party,
        actor=actor_of(principal),
        device_time=draft.device_time.astimezone(dt.UTC),
        device_offset_minutes=_offset_minutes(draft.device_time),
        recorded_at=now.astimezone(dt.UTC),
        lat=draft.lat,
        lon=draft.lon,
        accuracy_m=draft.accuracy_m,
        place_code=draft.place_code,
        seal_number=draft.seal_number,
        seal_state=draft.seal_state,
        document_count=draft.document_count,
        proof=json.dumps(draft.proof, sort_keys=True, ensure_ascii=False),
        details=json.dumps(draft.details, sort_keys=True, ensure_ascii=False, default=str),
        biz_step=step,
        disposition=disposition,
        upu_code=upu,
        corrects_event_id=draft.corrects_event_id,
        record_id=draft.record_id,
    )
    ledger.append(session, event, custody)
    item.state = target
    custody.holder = draft.to_party
    last = custody.last_device_time
    if last is None or event.device_time > last:
        custody.last_device_time = event.device_time
    hook = WEBHOOK_TYPES.get(draft.type)
    if hook:
        _enqueue_webhook(session, hook, item, event, now)
    if draft.type in CITIZEN_MESSAGES:
        booking = session.get(Booking, item.booking_id)
        assert booking is not None
        citizen.enqueue_custody_message(
            session,
            booking,
            item.number,
            draft.type.value,
            event.event_id,
            draft.details,
            event.device_time,
            now,
            kind=item.kind,
        )
    return event


def _enqueue_webhook(
    session: Session, hook: str, item: Item, event: ledger.Entry, now: dt.datetime
) -> None:
    booking = session.get(Booking, item.booking_id)
    assert booking is not None
    payload = {
        "type": hook,
        "event_id": event.event_id,
        "item_number": item.number,
        "item_kind": item.kind.value,
        "booking_reference": booking.reference,
        "external_reference": booking.external_reference,
        "desk_code": item.desk_code,
        "state": event.state_after.value,
        "occurred_at": event.device_time.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "details": json.loads(event.details),
    }
    webhooks.enqueue(session, hook, payload, now)


def _offset_minutes(value: dt.datetime) -> int:
    offset = value.utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _check_time(
    body_time: dt.datetime, custody: ItemCustody, now: dt.datetime, skew_minutes: int
) -> None:
    if body_time > now + dt.timedelta(minutes=skew_minutes):
        raise ValidationFailed("device_time_in_future", field="device_time")
    last = custody.last_device_time
    # Devices send whole seconds: an event in the same second as the last one (which a
    # server-stamped form may have recorded with its fraction) is not earlier than it.
    if last is not None and body_time < last.replace(microsecond=0):
        raise Conflict("event_out_of_order", field="device_time", last=last.isoformat())


def _require_holder(principal: Principal, custody: ItemCustody) -> None:
    if not holds(principal, custody.holder):
        raise Forbidden("not_item_holder", holder=custody.holder)


def _check_ack(
    session: Session, item: Item, ack: Acknowledgement | None, now: dt.datetime, field_: str
) -> tuple[dict[str, Any], OtpChallenge | None]:
    """Validate the citizen's acknowledgement; returns the proof and the code to mark used."""
    if ack is None:
        raise ValidationFailed("acknowledgement_required", field=field_)
    if ack.method == "signature":
        # The stored hash is the server's, computed from the strokes received (never the
        # client's word for it).
        digest = signature.verified_digest(ack.signature_strokes, ack.signature_sha256, field_)
        return {"signature_sha256": digest}, None
    if not ack.otp_code:
        raise ValidationFailed("otp_required", field=f"{field_}.otp_code")
    # A code used by an earlier event of the same batch must read as used (no autoflush here).
    session.flush()
    challenge = session.exec(
        select(OtpChallenge)
        .where(
            OtpChallenge.item_id == item.id,
            col(OtpChallenge.used_at).is_(None),
            col(OtpChallenge.expires_at) >= now,
        )
        .order_by(col(OtpChallenge.id).desc())
        .limit(1)
    ).first()
    if challenge is None:
        raise ValidationFailed("otp_invalid", field=f"{field_}.otp_code")
    if challenge.attempts_left <= 0:
        # Dead after its wrong tries: even the right digits are refused; ask for a new code.
        raise TooManyRequests("otp_attempts_exhausted", retry_after=1)
    if not secrets.compare_digest(challenge.code_hash, _otp_hash(item, ack.otp_code.strip())):
        # The item row is locked (ledger.lock_batch), so tries count one after the other; the
        # count is written with the batch even though this event is refused.
        challenge.attempts_left -= 1
        session.add(challenge)
        raise ValidationFailed(
            "otp_invalid", field=f"{field_}.otp_code", attempts_left=challenge.attempts_left
        )
    return {"otp": "verified", "otp_challenge_id": challenge.id}, challenge


def _check_otp_requests(
    session: Session, settings: Settings, item_id: int, requester: str, now: dt.datetime
) -> None:
    """Refuse a code beyond the hourly caps, counted on the stored challenges. The item row
    and (PostgreSQL) the requester's advisory lock make concurrent requests count in turn."""
    session.execute(select(Item.id).where(Item.id == item_id).with_for_update())
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"otp:{requester}"}
        )
    since = now - dt.timedelta(hours=1)
    caps = (
        (
            OtpChallenge.item_id == item_id,
            settings.otp_requests_per_item_hour,
            "otp_item_rate_limited",
        ),
        (
            OtpChallenge.requested_by == requester,
            settings.otp_requests_per_courier_hour,
            "otp_courier_rate_limited",
        ),
    )
    for where, cap, code in caps:
        times = session.exec(
            select(OtpChallenge.created_at)
            .where(where, col(OtpChallenge.created_at) > since)
            .order_by(col(OtpChallenge.created_at).desc())
            .limit(cap)
        ).all()
        if len(times) >= cap:
            oldest = times[-1]  # of the last ``cap``: when it leaves the hour, one more may go
            wait = (oldest + dt.timedelta(hours=1) - now).total_seconds()
            raise TooManyRequests(code, retry_after=wait, limit=cap)


def _otp_hash(item: Item, code: str) -> str:
    return hashlib.sha256(f"{item.id}:{code}".encode()).hexdigest()


@dataclass(frozen=True)
class _Document:
    """One entry of a procedure's document list, as the pickup checklist needs it."""

    position: int
    name: str
    kind: DocumentKind
    quantity: int
    optional: bool = False


_DOCUMENTS_TTL_S = 60.0
_documents_cache: dict[tuple[str, str], tuple[float, tuple[_Document, ...]]] = {}


def _documents(session: Session, code: str) -> tuple[_Document, ...]:
    """A procedure's document list, read at most once a minute per process and database.

    Every pickup checks its checklist against it; document lists change only when the
    catalogue is reloaded, and a reload is seen within a minute.
    """
    now = time.monotonic()
    key = (str(session.get_bind().engine.url), code)
    hit = _documents_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    docs = tuple(
        _Document(d.position, d.name, d.kind, d.quantity, document_optional(d.name))
        for d in catalogue.procedure_documents(session, code)
    )
    _documents_cache[key] = (now + _DOCUMENTS_TTL_S, docs)
    return docs


def _check_pickup(
    session: Session, item: Item, booking: Booking, body: EventIn, draft: Draft
) -> None:
    errors = FieldErrors()
    documents = _documents(session, item.procedure_code)
    given = {entry.position: entry for entry in body.checklist or []}
    if body.checklist is None:
        errors.add("checklist", "checklist_required")
    else:
        for doc in documents:
            entry = given.get(doc.position)
            wrong_form = (
                entry is not None
                and doc.kind == DocumentKind.original
                and entry.form == DocumentKind.copy
            )
            absent = entry is None or not entry.present
            if absent and doc.optional:
                continue  # needed only when the citizen has one
            if absent or wrong_form:
                code = "document_original_required" if wrong_form else "document_missing"
                errors.add(f"checklist[{doc.position}]", code, name=doc.name)
        known = {d.position for d in documents}
        for position in given:
            if position not in known:
                errors.add(f"checklist[{position}]", "document_not_in_list")
    if body.seal is None:
        errors.add("seal", "seal_required")
    expected_fee = booking.postal_fee_vnd + (
        booking.procedure_fee_vnd if booking.fee_collection else 0
    )
    if body.fees is None:
        if expected_fee:
            errors.add("fees", "fees_required", amount=expected_fee)
    else:
        collected = body.fees.postal_fee_vnd + body.fees.procedure_fee_vnd
        if collected != expected_fee:
            errors.add("fees", "fee_mismatch", amount=expected_fee)
        if collected and not body.fees.receipt_number:
            errors.add("fees.receipt_number", "receipt_number_required")
    errors.raise_if_any()
    assert body.seal is not None
    draft.seal_number, draft.seal_state = body.seal.number, body.seal.state
    present = sum(
        d.quantity for d in documents if d.position in given and given[d.position].present
    )
    draft.document_count = body.document_count if body.document_count is not None else present
    draft.details["checklist"] = [
        {
            "position": d.position,
            "name": d.name,
            "present": bool(given.get(d.position) and given[d.position].present),
            "form": (given[d.position].form or d.kind).value if d.position in given else None,
        }
        for d in documents
    ]
    if body.fees is not None:
        draft.details["fees"] = body.fees.model_dump()


def _check_delivery(
    settings: Settings, booking: Booking, body: EventIn, now: dt.datetime, draft: Draft
) -> None:
    recipient = body.recipient
    if recipient is None:
        raise ValidationFailed("recipient_required", field="recipient")
    protector = IdNumberProtector(settings.secret_key)
    if recipient.id_number:
        if not protector.matches(recipient.id_number, booking.id_number_hash):
            raise ValidationFailed("identity_mismatch", field="recipient.id_number")
        draft.details["recipient"] = {"kind": "citizen", "id_masked": booking.id_number_masked}
        return
    errors = FieldErrors()
    if not recipient.authorisation_ref:
        errors.add("recipient.authorisation_ref", "authorisation_ref_required")
    if not recipient.proxy_name:
        errors.add("recipient.proxy_name", "proxy_name_required")
    digits: str | None = None
    if not recipient.proxy_id_number:
        errors.add("recipient.proxy_id_number", "proxy_id_required")
    else:
        try:
            prefixes = load_id_prefixes(settings.data_dir)
            local_today = now.astimezone(_tz(settings)).date()
            digits = parse_id_number(
                recipient.proxy_id_number, prefixes, local_today, field="recipient.proxy_id_number"
            ).digits
        except PostalError as exc:
            errors.capture(exc)
    errors.raise_if_any()
    assert digits is not None
    draft.details["recipient"] = {
        "kind": "proxy",
        "proxy_name": recipient.proxy_name,
        "authorisation_ref": recipient.authorisation_ref,
        "proxy_id_hash": protector.hash(digits),
        "proxy_id_masked": protector.mask(digits),
    }


def _correction(
    session: Session, principal: Principal, item: Item, custody: ItemCustody, body: EventIn
) -> Draft:
    if body.corrects_event_id is None:
        raise ValidationFailed("corrects_event_id_required", field="corrects_event_id")
    if not body.correction:
        raise ValidationFailed("correction_required", field="correction")
    wanted = str(body.corrects_event_id)
    # An event of an earlier batch of the same group (or earlier in this batch) is not stored
    # yet: it waits in the transaction's queue.
    target: CustodyEvent | ledger.Entry | None = ledger.queued(session, wanted)
    if target is None:
        target = session.exec(select(CustodyEvent).where(CustodyEvent.event_id == wanted)).first()
    if target is None or target.item_id != item.id:
        raise ValidationFailed("unknown_corrected_event", field="corrects_event_id")
    if principal.role != Role.admin and target.actor != actor_of(principal):
        raise Forbidden("not_event_author")
    return Draft(
        type=EventType.correction,
        to_party=custody.holder,
        device_time=body.device_time,
        corrects_event_id=target.event_id,
        details={"correction": body.correction, "note": body.note},
    )


def prepare(
    session: Session,
    settings: Settings,
    tsettings: TrackingSettings,
    principal: Principal,
    item: Item,
    custody: ItemCustody,
    body: EventIn,
    now: dt.datetime,
) -> tuple[Draft, OtpChallenge | None]:
    """Check one courier or clerk event against the item; raise a PostalError to refuse it."""
    booking = session.get(Booking, item.booking_id)
    assert booking is not None
    if body.type in RECORD_ONLY:
        raise ValidationFailed("event_type_needs_record", field="type")
    _check_time(body.device_time, custody, now, tsettings.device_clock_skew_minutes)
    if body.type == EventType.correction:
        draft = _correction(session, principal, item, custody, body)
        return _with_common(draft, body), None
    rule = _rule(item.kind, body.type)
    if rule is None:
        raise IllegalTransition("event_not_for_item_kind", item.state, kind=item.kind.value)
    if item.state not in rule.sources:
        raise IllegalTransition("illegal_transition", item.state, event=body.type.value)
    draft = Draft(type=body.type, to_party=custody.holder, device_time=body.device_time)
    challenge: OtpChallenge | None = None
    if body.type == EventType.pickup:
        if principal.role != Role.courier or not principal.username:
            raise Forbidden("role_not_allowed")
        if booking.post_office_code not in principal.post_office_codes:
            raise Forbidden("item_of_other_post_office")
        _check_pickup(session, item, booking, body, draft)
        draft.proof, challenge = _check_ack(
            session, item, body.acknowledgement, now, "acknowledgement"
        )
        draft.to_party = courier_party(principal.username)
    elif body.type == EventType.arrive_post_office:
        _require_holder(principal, custody)
        office = body.place_code or booking.post_office_code
        if office not in principal.post_office_codes and principal.role != Role.admin:
            raise ValidationFailed("post_office_not_yours", field="place_code")
        draft.to_party = post_office_party(office)
        draft.place_code = office
    elif body.type == EventType.result_ready:
        if principal.role not in (Role.clerk, Role.admin):
            raise Forbidden("role_not_allowed")
        if principal.role == Role.clerk and principal.desk_code != item.desk_code:
            raise Forbidden("item_of_other_desk")
        draft.place_code = item.desk_code
    elif body.type == EventType.deliver:
        _require_holder(principal, custody)
        _check_delivery(settings, booking, body, now, draft)
        draft.proof, challenge = _check_ack(
            session, item, body.acknowledgement, now, "acknowledgement"
        )
        draft.to_party = CITIZEN
    elif body.type == EventType.attempt_failed and item.kind == ItemKind.dossier:
        _check_pickup_attempt(
            session, settings, tsettings, principal, booking, custody, body, draft
        )
    elif body.type == EventType.attempt_failed:
        _require_holder(principal, custody)
        if body.reason is None:
            raise ValidationFailed("reason_required", field="reason")
        attempts = custody.failed_attempts + 1
        next_on: dt.date | None = None
        if attempts < tsettings.delivery_max_attempts:
            cal = catalogue.work_calendar(session)
            local_day = body.device_time.astimezone(_tz(settings)).date()
            next_on = cal.add_working_days(local_day, tsettings.delivery_attempt_gap_days)
        draft.details.update(
            {"reason": body.reason.value, "attempt": attempts, "next_attempt_on": next_on}
        )
    elif body.type == EventType.next_attempt:
        _require_holder(principal, custody)
        if custody.next_attempt_on is None:
            raise IllegalTransition("attempts_exhausted", item.state)
        local_day = body.device_time.astimezone(_tz(settings)).date()
        if local_day < custody.next_attempt_on:
            raise IllegalTransition(
                "attempt_not_due", item.state, date=custody.next_attempt_on.isoformat()
            )
        draft.details["attempt"] = custody.failed_attempts + 1
    return _with_common(draft, body), challenge


def _check_pickup_attempt(
    session: Session,
    settings: Settings,
    tsettings: TrackingSettings,
    principal: Principal,
    booking: Booking,
    custody: ItemCustody,
    body: EventIn,
    draft: Draft,
) -> None:
    """A failed pickup: by a courier of the booking's post office, with a reason; the next
    attempt is due ``delivery_attempt_gap_days`` working days later, and the last allowed one
    ends the pickup."""
    if principal.role != Role.courier or not principal.username:
        raise Forbidden("role_not_allowed")
    if booking.post_office_code not in principal.post_office_codes:
        raise Forbidden("item_of_other_post_office")
    if body.reason is None:
        raise ValidationFailed("reason_required", field="reason")
    local_day = body.device_time.astimezone(_tz(settings)).date()
    if custody.next_attempt_on is not None and local_day < custody.next_attempt_on:
        raise IllegalTransition(
            "attempt_not_due", ItemState.booked, date=custody.next_attempt_on.isoformat()
        )
    attempts = custody.failed_attempts + 1
    next_on: dt.date | None = None
    if attempts < tsettings.delivery_max_attempts:
        cal = catalogue.work_calendar(session)
        next_on = cal.add_working_days(local_day, tsettings.delivery_attempt_gap_days)
    draft.details.update(
        {
            "reason": body.reason.value,
            "attempt": attempts,
            "next_attempt_on": next_on,
            "last_attempt": next_on is None,
        }
    )


def _with_common(draft: Draft, body: EventIn) -> Draft:
    draft.event_id = str(body.event_id)
    if body.location is not None:
        draft.lat, draft.lon = body.location.lat, body.location.lon
        draft.accuracy_m = body.location.accuracy_m
    if body.place_code and draft.place_code is None:
        draft.place_code = body.place_code
    if body.seal is not None and draft.seal_number is None:
        draft.seal_number, draft.seal_state = body.seal.number, body.seal.state
    if body.document_count is not None and draft.document_count is None:
        draft.document_count = body.document_count
    if body.note and "note" not in draft.details:
        draft.details["note"] = body.note
    return draft


def _apply_side_effects(
    custody: ItemCustody,
    draft: Draft,
    challenge: OtpChallenge | None,
    now: dt.datetime,
    session: Session,
) -> None:
    if challenge is not None:
        challenge.used_at = now
        session.add(challenge)
    if draft.type == EventType.pickup:
        fees = draft.details.get("fees") or {}
        custody.fees_collected_vnd = int(fees.get("postal_fee_vnd", 0)) + int(
            fees.get("procedure_fee_vnd", 0)
        )
        custody.receipt_number = fees.get("receipt_number")
        custody.seal_number = draft.seal_number
        custody.next_attempt_on = None  # picked up after a failed attempt: none is due
    elif draft.type == EventType.attempt_failed:
        custody.failed_attempts = int(draft.details["attempt"])
        custody.next_attempt_on = draft.details["next_attempt_on"]
    elif draft.type == EventType.next_attempt:
        custody.next_attempt_on = None


def _result(event: CustodyEvent | ledger.Entry, status: str, http_status: int) -> EventResult:
    details = json.loads(event.details)
    next_on = details.get("next_attempt_on")
    return EventResult(
        event_id=event.event_id,
        status=status,
        http_status=http_status,
        item_number=event.item_number,
        seq=event.seq,
        state=event.state_after,
        next_attempt_on=dt.date.fromisoformat(next_on) if next_on else None,
    )


def rejected(body: EventIn, exc: PostalError, lang: str) -> EventResult:
    """The per-event reply for a refused event."""
    state = getattr(exc, "current_state", None)
    errors = [
        {"field": e["field"], "code": e["code"], "message": message(e["code"], lang, **e["params"])}
        for e in exc.errors
    ]
    if not errors and exc.field:  # one field to blame: named like a multi-field refusal
        text = message(exc.code, lang, **exc.params)
        errors = [{"field": exc.field, "code": exc.code, "message": text}]
    return EventResult(
        event_id=str(body.event_id),
        status="rejected",
        http_status=exc.status,
        item_number=body.item_number,
        state=state,
        code=exc.code,
        detail=message(exc.code, lang, **exc.params),
        errors=errors or None,
    )


@dataclass(frozen=True)
class Submitted:
    """One request's batch: who sent it, its events, when it arrived, its reply language."""

    principal: Principal
    events: list[EventIn]
    now: dt.datetime
    lang: str = "vi"
    # Server-computed photo proofs (``photo_proof``) by event id, from a multipart form.
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)


def record_batch(
    session: Session,
    settings: Settings,
    tsettings: TrackingSettings,
    principal: Principal,
    events: list[EventIn],
    now: dt.datetime,
    lang: str = "vi",
    photos: dict[str, dict[str, Any]] | None = None,
) -> list[EventResult]:
    """Record a batch in order, each event on its own: one refusal does not stop the others.

    ``photos`` are proofs the server computed (``photo_proof``), by event id. The caller
    commits once for the batch.
    """
    batch = Submitted(principal, events, now, lang, photos or {})
    return record_batches(session, settings, tsettings, [batch])[0]


def record_batches(
    session: Session,
    settings: Settings,
    tsettings: TrackingSettings,
    batches: Sequence[Submitted],
) -> list[list[EventResult]]:
    """Record several requests' batches as one, in order; returns the results of each batch.

    The outcome is the one recording the batches one after the other would give (an event
    re-sent by a later batch is a replay, a later batch sees the states an earlier one left).
    They read in two statements: their items locked by number in id order (with custody rows
    and bookings), then the stored events of their keys. Checks run in memory on the locked
    rows; the seal writes item states, then (under the chain head lock) the events, custody
    rows and head, with Core statements. The caller commits once for all of them.
    """
    flat = [(b, body) for b in batches for body in b.events]
    results: list[EventResult | ledger.Entry | int | None] = [None] * len(flat)
    numbers: dict[int, str] = {}
    for i, (batch, body) in enumerate(flat):
        try:
            numbers[i] = str(parse_s10(body.item_number, "item_number"))
        except PostalError as exc:
            results[i] = rejected(body, exc, batch.lang)
    locked = ledger.lock_batch(session, numbers.values())
    for i, number in numbers.items():
        if number not in locked:
            unknown = NotFound("unknown_item", field="item_number", number=number)
            results[i] = rejected(flat[i][1], unknown, flat[i][0].lang)
    live = [i for i, r in enumerate(results) if r is None]
    # Read after the item locks: a concurrent copy of the same batch has committed by now.
    stored = _stored_events(session, [str(flat[i][1].event_id) for i in live])
    in_batch: dict[str, tuple[str, int]] = {}
    with session.no_autoflush:
        for i in live:
            batch, body = flat[i]
            row = locked[numbers[i]]
            item = row.item
            assert item.id is not None
            key = str(body.event_id)
            fingerprint = idempotency.request_fingerprint(body.model_dump(mode="json"))
            try:
                if key in in_batch:
                    # The same event twice in one batch: the second is a replay of the first.
                    if in_batch[key][0] != fingerprint:
                        raise ValidationFailed("idempotency_key_reused", field="event_id")
                    results[i] = in_batch[key][1]
                    continue
                if key in stored:
                    results[i] = _replayed(stored[key], fingerprint)
                    continue
                if row.custody is None:
                    row.custody = ItemCustody(item_id=item.id, holder=initial_holder(item))
                results[i] = _record_new(
                    session,
                    settings,
                    tsettings,
                    batch.principal,
                    item,
                    row.custody,
                    body,
                    batch.now,
                    fingerprint,
                    batch.photos.get(key),
                )
                in_batch[key] = (fingerprint, i)
            except PostalError as exc:
                results[i] = rejected(body, exc, batch.lang)
    ledger.seal_batch(session, [row.item for row in locked.values()])
    out: list[list[EventResult]] = [[] for _ in batches]
    which = [k for k, b in enumerate(batches) for _ in b.events]
    for i, value in enumerate(results):
        if isinstance(value, int):  # a duplicate inside the batch
            first = results[value]
            assert isinstance(first, ledger.Entry)
            out[which[i]].append(_result(first, "replayed", 200))
        elif isinstance(value, ledger.Entry):
            out[which[i]].append(_result(value, "recorded", 201))
        else:
            assert value is not None, i
            out[which[i]].append(value)
    return out


def _stored_events(session: Session, keys: list[str]) -> dict[str, CustodyEvent]:
    """The already recorded events among ``keys`` (replays), in one statement."""
    if not keys:
        return {}
    query = _stored_events_query(session.get_bind().dialect.name)
    rows = session.execute(query, {"keys": keys}).scalars().all()
    return {row.event_id: row for row in rows}


@cache
def _stored_events_query(dialect: str) -> Executable:
    return select(CustodyEvent).where(ledger.any_of(col(CustodyEvent.event_id), "keys", dialect))


def _replayed(stored: CustodyEvent, fingerprint: str) -> EventResult:
    if stored.request_hash != fingerprint:
        raise ValidationFailed("idempotency_key_reused", field="event_id")
    return _result(stored, "replayed", 200)


def _record_new(
    session: Session,
    settings: Settings,
    tsettings: TrackingSettings,
    principal: Principal,
    item: Item,
    custody: ItemCustody,
    body: EventIn,
    now: dt.datetime,
    fingerprint: str,
    photo: dict[str, Any] | None = None,
) -> ledger.Entry:
    draft, challenge = prepare(session, settings, tsettings, principal, item, custody, body, now)
    if photo is None and body.photo_base64 is not None:
        photo = photo_proof(_base64_bytes(body.photo_base64), field="photo_base64")
    if photo is not None:
        if draft.type not in (EventType.deliver, EventType.attempt_failed):
            raise ValidationFailed("photo_not_allowed", field="photo")
        draft.proof.update(photo)
    draft.request_hash = fingerprint
    _apply_side_effects(custody, draft, challenge, now, session)
    return write(session, principal, item, custody, draft, now)


def request_otp(
    session: Session,
    principal: Principal,
    tsettings: TrackingSettings,
    number: str,
    now: dt.datetime,
    *,
    settings: Settings | None = None,
) -> OtpSent:
    """Send a one-time code to the citizen through the message outbox (their channel).

    At most ``otp_requests_per_item_hour`` codes per item and ``otp_requests_per_courier_hour``
    per requester in the last hour (TooManyRequests, retry when the oldest leaves the hour);
    each code allows ``otp_max_attempts`` wrong tries.
    """
    settings = settings or get_settings()
    item = find_item(session, number)
    booking = session.get(Booking, item.booking_id)
    assert booking is not None and item.id is not None
    if (
        principal.role == Role.courier
        and booking.post_office_code not in principal.post_office_codes
    ):
        raise Forbidden("item_of_other_post_office")
    if item.state not in (ItemState.booked, ItemState.with_courier):
        raise IllegalTransition("otp_not_applicable", item.state)
    requester = principal.username or principal.role.value
    _check_otp_requests(session, settings, item.id, requester, now)
    expires = now + dt.timedelta(minutes=tsettings.otp_ttl_minutes)
    # No code yet: the sender makes it when it sends the SMS and keeps only its hash.
    challenge = OtpChallenge(
        item_id=item.id,
        code_hash=otp.UNSENT,
        expires_at=expires,
        created_at=now,
        attempts_left=settings.otp_max_attempts,
        requested_by=requester,
    )
    session.add(challenge)
    session.flush()
    assert challenge.id is not None
    citizen.enqueue_otp(session, booking, item.number, challenge.id, tsettings.otp_ttl_minutes, now)
    return OtpSent(
        item_number=item.number, phone_masked=mask_phone(booking.phone), expires_at=expires
    )
