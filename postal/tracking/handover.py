"""Handover records (biên bản giao nhận): open, confirm item by item, close, acknowledge.

The giving party opens the record listing items it holds; the receiving party confirms each
item (received, missing, seal damaged) or finds one not listed (not expected). Each finding is
a custody event. Closing marks every unconfirmed item missing; a closed record never changes
except for the two acknowledgements, each given once.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from postal.auth.models import Role, StaffUser
from postal.auth.service import Principal
from postal.booking.models import Item, ItemState
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind, Procedure
from postal.config import Settings
from postal.errors import Conflict, FieldErrors, Forbidden, NotFound, PostalError, ValidationFailed
from postal.ids import parse_s10
from postal.tracking import ledger, states
from postal.tracking.events import Draft, IllegalTransition, initial_holder, write
from postal.tracking.items import actor_of, courier_party, desk_party, find_item, holds
from postal.tracking.models import (
    EventType,
    HandoverLine,
    HandoverRecord,
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
    """Its courier, a clerk of its desk, dispatchers and admins may read a record."""
    if principal.role in (Role.admin, Role.dispatcher):
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
        # Found in the bag but not on the list: noted, custody unchanged.
        item = find_item(session, normalised)
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


def to_public(session: Session, settings: Settings, record: HandoverRecord) -> RecordPublic:
    """The API shape of a record with its lines."""
    lines = list(
        session.exec(
            select(HandoverLine)
            .where(HandoverLine.record_id == record.id)
            .order_by(col(HandoverLine.id))
        ).all()
    )
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
