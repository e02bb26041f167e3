"""Handover records (biên bản giao nhận): open, confirm item by item, close, acknowledge.

The giving party opens the record listing items it holds; the receiving party confirms each
item (received, missing, seal damaged) or finds one not listed (not expected). Each finding is
a custody event. Closing marks every unconfirmed item missing; a closed record never changes
except for the two acknowledgements, each given once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from postal.auth.models import Role, StaffUser
from postal.auth.service import Principal
from postal.booking.models import Booking, Item, ItemState
from postal.catalogue import service as catalogue
from postal.catalogue.models import Desk, ItemKind, PostOffice, Procedure
from postal.collation import sorted_vi
from postal.config import Settings
from postal.errors import Conflict, FieldErrors, Forbidden, NotFound, PostalError, ValidationFailed
from postal.ids import parse_s10
from postal.tracking import ledger, states
from postal.tracking.events import Draft, IllegalTransition, initial_holder, write
from postal.tracking.items import actor_of, courier_party, desk_party, find_item, holds
from postal.tracking.models import (
    CustodyEvent,
    EventType,
    HandoverLine,
    HandoverRecord,
    ItemCustody,
    LineStatus,
    RecordDirection,
    RecordStatus,
    SealState,
)
from postal.tracking.schemas import LinePublic, RecordOpen, RecordPublic


def _sources(direction: RecordDirection, kind: ItemKind) -> frozenset[ItemState]:
    event = received_event(direction, kind)
    rule = states.transition(kind, event) if event else None
    return rule.sources if rule else frozenset()


def received_event(direction: RecordDirection, kind: ItemKind) -> EventType | None:
    """The event a 'received' finding writes for an item of ``kind`` in a record."""
    if direction == RecordDirection.desk_to_courier:
        return EventType.hand_to_courier if kind == ItemKind.result else None
    return EventType.receive_at_desk if kind == ItemKind.dossier else EventType.return_to_desk


def _courier(session: Session, username: str | None) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.username == (username or ""))).first()
    if user is None or user.role != Role.courier or not user.active:
        raise ValidationFailed("unknown_courier", field="courier_username")
    return user


def _open_lines(session: Session, item_ids: list[int]) -> set[int]:
    rows = session.exec(
        select(HandoverLine.item_id)
        .join(HandoverRecord, col(HandoverRecord.id) == col(HandoverLine.record_id))
        .where(
            HandoverRecord.status == RecordStatus.open,
            col(HandoverLine.item_id).in_(item_ids),
        )
    ).all()
    return {r for r in rows if r is not None}


def open_record(
    session: Session, principal: Principal, body: RecordOpen, now: dt.datetime
) -> HandoverRecord:
    """Open a record; every listed item must be held by the opener and bound to the desk."""
    desk = catalogue.get_desk(session, body.desk_code)
    if body.direction == RecordDirection.courier_to_desk:
        if principal.role != Role.courier or principal.user_id is None:
            raise Forbidden("role_not_allowed")
        courier_id = principal.user_id
    else:
        if principal.role != Role.clerk:
            raise Forbidden("role_not_allowed")
        if principal.desk_code != desk.code:
            raise Forbidden("clerk_of_other_desk")
        user = _courier(session, body.courier_username)
        assert user.id is not None
        courier_id = user.id
    errors = FieldErrors()
    found: list[Item] = []
    seen: set[str] = set()
    for i, number in enumerate(body.item_numbers):
        field = f"item_numbers[{i}]"
        try:
            item = find_item(session, number, field)
        except PostalError as exc:
            if isinstance(exc, NotFound):
                errors.add(field, "unknown_item", number=number)
            else:
                errors.capture(exc)
            continue
        if item.number in seen:
            errors.add(field, "item_listed_twice")
            continue
        seen.add(item.number)
        found.append(item)
    errors.raise_if_any()
    items = ledger.lock_items(session, [i.id for i in found if i.id is not None])
    busy = _open_lines(session, list(items))
    fees = 0
    for i, original in enumerate(found):
        assert original.id is not None
        item = items[original.id]
        field = f"item_numbers[{i}]"
        custody = ledger.custody_of(session, item, initial_holder(item))
        if item.desk_code != desk.code:
            errors.add(field, "item_for_other_desk", desk=item.desk_code)
        elif item.state not in _sources(body.direction, item.kind):
            errors.add(field, "item_state_not_handable", state=item.state.value)
        elif not holds(principal, custody.holder):
            errors.add(field, "not_item_holder", holder=custody.holder)
        elif item.id in busy:
            errors.add(field, "item_in_open_record")
        fees += custody.fees_collected_vnd if item.kind == ItemKind.dossier else 0
    errors.raise_if_any()
    record = HandoverRecord(
        direction=body.direction,
        status=RecordStatus.open,
        desk_code=desk.code,
        courier_id=courier_id,
        opened_by=actor_of(principal),
        opened_at=now,
        fees_vnd=fees if body.direction == RecordDirection.courier_to_desk else 0,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    for original in found:
        assert original.id is not None
        item = items[original.id]
        custody = ledger.custody_of(session, item, initial_holder(item))
        session.add(
            HandoverLine(
                record_id=record.id,
                item_id=item.id,
                item_number=item.number,
                expected=True,
                status=LineStatus.pending,
                fees_vnd=custody.fees_collected_vnd if item.kind == ItemKind.dossier else 0,
            )
        )
    session.flush()
    return record


def get_record(session: Session, record_id: int, lock: bool = False) -> HandoverRecord:
    """A record by id; 404 when unknown. ``lock`` takes its row lock (PostgreSQL)."""
    query = select(HandoverRecord).where(HandoverRecord.id == record_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    record = session.exec(query).first()
    if record is None:
        raise NotFound("unknown_record")
    return record


def _courier_name(session: Session, record: HandoverRecord) -> str:
    user = session.get(StaffUser, record.courier_id)
    assert user is not None
    return user.username


def authorise_read(session: Session, principal: Principal, record: HandoverRecord) -> None:
    """Its courier, a clerk of its desk, the dispatchers of the courier's post offices and
    admins may read a record; to anyone else it does not exist (404)."""
    if principal.role == Role.admin:
        return
    if principal.role == Role.dispatcher:
        courier = session.get(StaffUser, record.courier_id)
        if courier is not None and courier.post_office_code in principal.post_office_codes:
            return
    if principal.role == Role.clerk and principal.desk_code == record.desk_code:
        return
    if principal.role == Role.courier and principal.user_id == record.courier_id:
        return
    raise NotFound("unknown_record")


def _require_receiver(session: Session, principal: Principal, record: HandoverRecord) -> None:
    if record.direction == RecordDirection.courier_to_desk:
        if principal.role != Role.clerk:
            raise Forbidden("role_not_allowed")
        if principal.desk_code != record.desk_code:
            raise Forbidden("clerk_of_other_desk")
    elif principal.role != Role.courier or principal.user_id != record.courier_id:
        raise Forbidden("not_record_courier")


def _receiver_party(session: Session, record: HandoverRecord) -> str:
    if record.direction == RecordDirection.courier_to_desk:
        return desk_party(record.desk_code)
    return courier_party(_courier_name(session, record))


def _finding_event(
    session: Session,
    principal: Principal,
    record: HandoverRecord,
    line: HandoverLine,
    status: LineStatus,
    now: dt.datetime,
    note: str | None,
) -> str:
    """Write the custody event of one finding on a locked item; returns its event id."""
    assert line.item_id is not None and record.id is not None
    item = ledger.lock_items(session, [line.item_id])[line.item_id]
    custody = ledger.custody_of(session, item, initial_holder(item))
    if status == LineStatus.received:
        event = received_event(record.direction, item.kind)
        assert event is not None
        to_party = _receiver_party(session, record)
        seal_state: SealState | None = SealState.intact if custody.seal_number else None
    else:
        event = EventType.discrepancy
        # A missing item stays the giver's liability; a damaged one is with the receiver.
        to_party = (
            custody.holder if status == LineStatus.missing else _receiver_party(session, record)
        )
        seal_state = SealState.broken if status == LineStatus.seal_damaged else None
    rule = states.transition(item.kind, event)
    if rule is None or item.state not in rule.sources:
        raise IllegalTransition("illegal_transition", item.state, event=event.value)
    draft = Draft(
        type=event,
        to_party=to_party,
        device_time=now,
        place_code=record.desk_code,
        seal_number=custody.seal_number,
        seal_state=seal_state,
        record_id=record.id,
        details={"record_id": record.id, "finding": status.value, "note": note},
    )
    return write(session, principal, item, custody, draft, now).event_id


def check_receivable(session: Session, record: HandoverRecord, item: Item) -> None:
    """Refuse (409) an item of another desk, or one whose state the record cannot receive.

    The error names the item's real desk and state (a state code: pages show its label).
    """
    if item.desk_code != record.desk_code:
        desk = session.get(Desk, item.desk_code)
        raise Conflict(
            "item_of_desk_elsewhere",
            field="item_number",
            number=item.number,
            desk=desk.name if desk else item.desk_code,
            desk_code=item.desk_code,
            state=item.state.value,
        )
    if item.state not in _sources(record.direction, item.kind):
        raise Conflict(
            "item_not_receivable",
            field="item_number",
            number=item.number,
            state=item.state.value,
        )


def confirm_line(
    session: Session,
    principal: Principal,
    record_id: int,
    number: str,
    status: LineStatus,
    now: dt.datetime,
    note: str | None = None,
) -> HandoverLine:
    """Record the receiver's finding for one item number (scanned or typed)."""
    record = get_record(session, record_id, lock=True)
    _require_receiver(session, principal, record)
    if record.status != RecordStatus.open:
        raise Conflict("record_closed")
    normalised = str(parse_s10(number))
    line = session.exec(
        select(HandoverLine).where(
            HandoverLine.record_id == record_id, HandoverLine.item_number == normalised
        )
    ).first()
    if line is None:
        # Found in the bag but not on the list: noted, custody unchanged. Only an item bound
        # to this desk and on its way to it may be noted; anything else is refused, unwritten.
        item = find_item(session, normalised)
        check_receivable(session, record, item)
        line = HandoverLine(
            record_id=record_id,
            item_id=item.id,
            item_number=normalised,
            expected=False,
            status=LineStatus.not_expected,
            confirmed_at=now,
            confirmed_by=actor_of(principal),
        )
        session.add(line)
        session.flush()
        return line
    if line.status != LineStatus.pending:
        raise Conflict("line_already_confirmed", status=line.status.value)
    line.event_id = _finding_event(session, principal, record, line, status, now, note)
    line.status = status
    line.confirmed_at = now
    line.confirmed_by = actor_of(principal)
    session.add(line)
    ledger.seal(session)
    session.flush()
    return line


def close_record(
    session: Session, principal: Principal, record_id: int, now: dt.datetime
) -> HandoverRecord:
    """Close: every unconfirmed item becomes missing; the record is immutable afterwards."""
    record = get_record(session, record_id, lock=True)
    _require_receiver(session, principal, record)
    if record.status != RecordStatus.open:
        raise Conflict("record_closed")
    pending = list(
        session.exec(
            select(HandoverLine)
            .where(HandoverLine.record_id == record_id, HandoverLine.status == LineStatus.pending)
            .order_by(col(HandoverLine.item_id))
        ).all()
    )
    ledger.lock_items(session, [ln.item_id for ln in pending if ln.item_id is not None])
    for line in pending:
        line.event_id = _finding_event(
            session, principal, record, line, LineStatus.missing, now, "unconfirmed at closing"
        )
        line.status = LineStatus.missing
        line.confirmed_at = now
        line.confirmed_by = actor_of(principal)
        session.add(line)
    record.status = RecordStatus.closed
    record.closed_at = now
    record.closed_by = actor_of(principal)
    session.add(record)
    ledger.seal(session)
    session.flush()
    return record


def acknowledge(
    session: Session, principal: Principal, record_id: int, signature_sha256: str, now: dt.datetime
) -> HandoverRecord:
    """A party signs the closed record (each party once)."""
    record = get_record(session, record_id, lock=True)
    authorise_read(session, principal, record)
    if record.status != RecordStatus.closed:
        raise Conflict("record_not_closed")
    if principal.role == Role.courier and principal.user_id == record.courier_id:
        if record.courier_ack_sha256:
            raise Conflict("already_acknowledged")
        record.courier_ack_sha256, record.courier_ack_at = signature_sha256, now
    elif principal.role == Role.clerk and principal.desk_code == record.desk_code:
        if record.clerk_ack_sha256:
            raise Conflict("already_acknowledged")
        record.clerk_ack_sha256, record.clerk_ack_at = signature_sha256, now
        record.clerk_ack_by = actor_of(principal)
    else:
        raise Forbidden("not_record_party")
    session.add(record)
    session.flush()
    return record


def appointment_dates(
    session: Session, settings: Settings, lines: list[HandoverLine]
) -> dict[int, dt.date]:
    """Result appointment date of each received dossier: receipt day + processing days."""
    cal = catalogue.work_calendar(session)
    tz = ZoneInfo(settings.timezone)
    out: dict[int, dt.date] = {}
    for line in lines:
        if line.item_id is None or line.status != LineStatus.received or not line.confirmed_at:
            continue
        item = session.get(Item, line.item_id)
        if item is None or item.kind != ItemKind.dossier:
            continue
        proc = session.get(Procedure, item.procedure_code)
        if proc is None:
            continue
        day = line.confirmed_at.astimezone(tz).date()
        out[line.item_id] = cal.add_working_days(day, proc.processing_days)
    return out


def _lines(session: Session, record: HandoverRecord) -> list[HandoverLine]:
    """The record's lines in the order they were added."""
    return list(
        session.exec(
            select(HandoverLine)
            .where(HandoverLine.record_id == record.id)
            .order_by(col(HandoverLine.id))
        ).all()
    )


def to_public(session: Session, settings: Settings, record: HandoverRecord) -> RecordPublic:
    """The API shape of a record with its lines."""
    lines = _lines(session, record)
    dates = appointment_dates(session, settings, lines)
    kinds = {
        i.id: i.kind
        for i in session.exec(
            select(Item).where(col(Item.id).in_([ln.item_id for ln in lines if ln.item_id]))
        ).all()
    }
    assert record.id is not None
    return RecordPublic(
        id=record.id,
        direction=record.direction,
        status=record.status,
        desk_code=record.desk_code,
        courier_username=_courier_name(session, record),
        opened_by=record.opened_by,
        opened_at=record.opened_at,
        closed_at=record.closed_at,
        fees_vnd=record.fees_vnd,
        courier_acknowledged=record.courier_ack_sha256 is not None,
        clerk_acknowledged=record.clerk_ack_sha256 is not None,
        lines=[
            LinePublic(
                item_number=ln.item_number,
                kind=kinds.get(ln.item_id) if ln.item_id else None,
                expected=ln.expected,
                status=ln.status,
                confirmed_at=ln.confirmed_at,
                confirmed_by=ln.confirmed_by,
                fees_vnd=ln.fees_vnd,
                appointment_date=dates.get(ln.item_id) if ln.item_id else None,
            )
            for ln in lines
        ],
    )


# --- The clerk's worklist: what is expected at a desk today -------------------------------

INCOMING_STATES = frozenset({ItemState.picked_up, ItemState.at_post_office})


@dataclass(frozen=True)
class ExpectedItem:
    """One item the desk expects: coming in from a courier, or a result to hand out."""

    number: str
    kind: ItemKind
    reference: str
    procedure_code: str
    procedure_name: str
    state: ItemState
    holder_name: str
    date: dt.date
    record_id: int | None  # the open record that lists it, when there is one
    pending: bool  # listed in an open record and not confirmed yet


@dataclass(frozen=True)
class Expected:
    """The desk's list: items coming in, results going out."""

    incoming: list[ExpectedItem]
    outgoing: list[ExpectedItem]


def _fold(text: str) -> str:
    """Lower case without tone or letter marks, for searching (``Đ`` is ``d``)."""
    text = text.casefold().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _holder_names(session: Session, holders: set[str]) -> dict[str, str]:
    """Full names of the courier and post office parties among ``holders``."""
    usernames = {h.split(":", 1)[1] for h in holders if h.startswith("courier:")}
    offices = {h.split(":", 1)[1] for h in holders if h.startswith("post_office:")}
    out: dict[str, str] = {}
    if usernames:
        for user in session.exec(
            select(StaffUser).where(col(StaffUser.username).in_(usernames))
        ).all():
            out[courier_party(user.username)] = user.full_name
    if offices:
        for office in session.exec(
            select(PostOffice).where(col(PostOffice.code).in_(offices))
        ).all():
            out[f"post_office:{office.code}"] = office.name
    return out


def expected_today(session: Session, desk_code: str, query: str = "", lang: str = "vi") -> Expected:
    """Items coming to ``desk_code`` (dossiers picked up or at a post office, and whatever an
    open courier record lists) and results ready there that no open record lists yet.

    ``query`` keeps the items whose number, booking reference or procedure (code or name,
    with or without marks) contains it. Items are ordered by holder then number, in
    Vietnamese dictionary order.
    """
    listed: dict[int, tuple[int, RecordDirection, LineStatus]] = {}
    for line, rec in session.exec(
        select(HandoverLine, HandoverRecord)
        .join(HandoverRecord, col(HandoverRecord.id) == col(HandoverLine.record_id))
        .where(HandoverRecord.status == RecordStatus.open, HandoverRecord.desk_code == desk_code)
    ).all():
        if line.item_id is not None and rec.id is not None:
            listed[line.item_id] = (rec.id, rec.direction, line.status)
    incoming_listed = [
        i
        for i, (_, d, st) in listed.items()
        if d == RecordDirection.courier_to_desk and st == LineStatus.pending
    ]
    rows = session.exec(
        select(Item, Booking, Procedure, ItemCustody)
        .join(Booking, col(Booking.id) == col(Item.booking_id))
        .join(Procedure, col(Procedure.code) == col(Item.procedure_code))
        .join(ItemCustody, col(ItemCustody.item_id) == col(Item.id), isouter=True)
        .where(
            Item.desk_code == desk_code,
            or_(
                (col(Item.kind) == ItemKind.dossier) & col(Item.state).in_(INCOMING_STATES),
                (col(Item.kind) == ItemKind.result) & (col(Item.state) == ItemState.ready_at_desk),
                col(Item.id).in_(incoming_listed or [-1]),
            ),
        )
    ).all()
    names = _holder_names(session, {c.holder for *_, c in rows if c is not None})
    needle = _fold(query.strip())
    incoming: list[ExpectedItem] = []
    outgoing: list[ExpectedItem] = []
    for item, booking, proc, custody in rows:
        assert item.id is not None
        where = listed.get(item.id)
        procedure_name = proc.name_en if lang == "en" else proc.name
        if needle and not any(
            needle in _fold(text)
            for text in (item.number, booking.reference, proc.code, proc.name, proc.name_en)
        ):
            continue
        holder = custody.holder if custody else initial_holder(item)
        entry = ExpectedItem(
            number=item.number,
            kind=item.kind,
            reference=booking.reference,
            procedure_code=proc.code,
            procedure_name=procedure_name,
            state=item.state,
            holder_name=names.get(holder, ""),
            date=booking.date,
            record_id=where[0] if where else None,
            pending=bool(where and where[2] == LineStatus.pending),
        )
        if item.kind == ItemKind.result and item.state == ItemState.ready_at_desk:
            if where is None:  # one open record at a time: never offered twice
                outgoing.append(entry)
        elif where is None or where[1] == RecordDirection.courier_to_desk:
            incoming.append(entry)
    incoming = sorted_vi(incoming, key=lambda e: f"{e.holder_name}\t{e.number}")
    outgoing.sort(key=lambda e: (e.date, e.number))
    return Expected(incoming, outgoing)


# --- The printed record and its verification ------------------------------------------------

RECORD_PREFIX = "BBGN-"
_NUMBER = re.compile(r"BBGN-(\d{1,10})")


def record_number(record_id: int) -> str:
    """The number printed on a record, e.g. BBGN-000012."""
    return f"{RECORD_PREFIX}{record_id:06d}"


def record_id_of(number: str) -> int | None:
    """The record id of a printed number, or None when it is not one."""
    match = _NUMBER.fullmatch(number.strip().upper())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Counts:
    """How many lines a record has, by finding."""

    total: int
    received: int
    missing: int
    seal_damaged: int
    not_expected: int
    pending: int


def counts(record: RecordPublic) -> Counts:
    """The record's lines counted by finding."""
    by = {s: sum(1 for ln in record.lines if ln.status == s) for s in LineStatus}
    return Counts(
        total=len(record.lines),
        received=by[LineStatus.received],
        missing=by[LineStatus.missing],
        seal_damaged=by[LineStatus.seal_damaged],
        not_expected=by[LineStatus.not_expected],
        pending=by[LineStatus.pending],
    )


def content_hash(record: RecordPublic) -> str:
    """SHA-256 of what the record says: number, parties, times, fees and each line's finding.

    Signatures come after closing and do not change what was handed over: they are not in it.
    """
    body = {
        "number": record_number(record.id),
        "direction": record.direction.value,
        "status": record.status.value,
        "desk_code": record.desk_code,
        "courier": record.courier_username,
        "opened_at": record.opened_at.astimezone(dt.UTC).isoformat(),
        "closed_at": record.closed_at.astimezone(dt.UTC).isoformat() if record.closed_at else None,
        "fees_vnd": record.fees_vnd,
        "lines": [
            [ln.item_number, ln.status.value, ln.expected, ln.fees_vnd] for ln in record.lines
        ],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PrintedLine:
    """One line as printed: the item, its procedure, seal, fee, finding and note."""

    number: str
    kind: ItemKind | None
    procedure_name: str
    seal_number: str | None
    fees_vnd: int
    status: LineStatus
    note: str | None
    appointment_date: dt.date | None
    delivery_date: dt.date | None


@dataclass(frozen=True)
class Party:
    """A person signing a record: full name, role, and where they work."""

    full_name: str
    place: str
    signed_at: dt.datetime | None


@dataclass(frozen=True)
class Printable:
    """Everything the printed record shows."""

    record: RecordPublic
    number: str
    content_hash: str
    desk_name: str
    courier: Party
    clerk: Party
    lines: list[PrintedLine]
    counts: Counts


def _actor_username(actor: str | None, role: Role) -> str | None:
    if actor and actor.startswith(f"{role.value}:"):
        return actor.split(":", 1)[1]
    return None


def printable(session: Session, settings: Settings, record: HandoverRecord) -> Printable:
    """The record with its parties by full name and each line's procedure, seal and note."""
    public = to_public(session, settings, record)
    desk = session.get(Desk, record.desk_code)
    desk_name = desk.name if desk else record.desk_code
    courier = session.get(StaffUser, record.courier_id)
    assert courier is not None
    post_office = session.get(PostOffice, courier.post_office_code or "")
    office = f"{post_office.name} ({post_office.code})" if post_office else ""
    # The clerk who signed, else who closed, else who opened or confirmed a line.
    lines = _lines(session, record)
    actors = [record.clerk_ack_by, record.closed_by, record.opened_by] + [
        ln.confirmed_by for ln in lines
    ]
    clerk_username = next((u for u in (_actor_username(a, Role.clerk) for a in actors) if u), None)
    clerk_user = (
        session.exec(select(StaffUser).where(StaffUser.username == clerk_username)).first()
        if clerk_username
        else None
    )
    items = {
        i.id: i
        for i in session.exec(
            select(Item).where(col(Item.id).in_([ln.item_id for ln in lines if ln.item_id]))
        ).all()
    }
    procs = {p.code: p for p in session.exec(select(Procedure)).all()}
    bookings = {
        b.id: b
        for b in session.exec(
            select(Booking).where(col(Booking.id).in_([i.booking_id for i in items.values()]))
        ).all()
    }
    custody = {
        c.item_id: c
        for c in session.exec(
            select(ItemCustody).where(col(ItemCustody.item_id).in_(list(items)))
        ).all()
    }
    notes: dict[str, str] = {}
    event_ids = [ln.event_id for ln in lines if ln.event_id]
    if event_ids:
        for ev in session.exec(
            select(CustodyEvent).where(col(CustodyEvent.event_id).in_(event_ids))
        ).all():
            note = json.loads(ev.details or "{}").get("note")
            if note:
                notes[ev.event_id] = str(note)
    dates = {ln.item_number: ln.appointment_date for ln in public.lines}
    printed = []
    for ln in lines:
        item = items.get(ln.item_id) if ln.item_id else None
        proc = procs.get(item.procedure_code) if item else None
        booking = bookings.get(item.booking_id) if item else None
        held = custody.get(item.id) if item and item.id else None
        printed.append(
            PrintedLine(
                number=ln.item_number,
                kind=item.kind if item else None,
                procedure_name=proc.name if proc else "",
                seal_number=held.seal_number if held else None,
                fees_vnd=ln.fees_vnd,
                status=ln.status,
                note=notes.get(ln.event_id or ""),
                appointment_date=dates.get(ln.item_number),
                delivery_date=booking.date
                if booking and item and item.kind == ItemKind.result
                else None,
            )
        )
    return Printable(
        record=public,
        number=record_number(public.id),
        content_hash=content_hash(public),
        desk_name=desk_name,
        courier=Party(courier.full_name, office, record.courier_ack_at),
        clerk=Party(
            clerk_user.full_name if clerk_user else "",
            f"{desk_name} ({record.desk_code})",
            record.clerk_ack_at,
        ),
        lines=printed,
        counts=counts(public),
    )


@dataclass(frozen=True)
class Verification:
    """What the public verification page may show: no names, no personal data."""

    number: str
    valid: bool
    opened_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    status: RecordStatus | None = None
    direction: RecordDirection | None = None
    counts: Counts | None = None
    content_hash: str | None = None


def verify(session: Session, settings: Settings, number: str, given_hash: str) -> Verification:
    """Check a printed record's number and hash against the stored record.

    An unknown number or a hash that does not match says only "not valid".
    """
    record_id = record_id_of(number)
    record = session.get(HandoverRecord, record_id) if record_id else None
    if record is None:
        return Verification(number=number, valid=False)
    public = to_public(session, settings, record)
    digest = content_hash(public)
    if not hmac.compare_digest(digest, given_hash.strip().lower()):
        return Verification(number=record_number(public.id), valid=False)
    return Verification(
        number=record_number(public.id),
        valid=True,
        opened_at=public.opened_at,
        closed_at=public.closed_at,
        status=public.status,
        direction=public.direction,
        counts=counts(public),
        content_hash=digest,
    )
