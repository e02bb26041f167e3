"""The hash-chained ledger: lock, append, verify. The code only ever INSERTs custody events.

Each event's ``hash`` is SHA-256 over the canonical JSON of every other column, which include
the hash of the previous event of the same item and of the previous event in the ledger. Any
edited, inserted or deleted row breaks a link that ``verify`` names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import any_, bindparam, text
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session, col, select

from postal.booking.models import Booking, Item, ItemState
from postal.tracking import pgwrite
from postal.tracking.models import (
    GENESIS_HASH,
    CustodyEvent,
    EventType,
    ItemCustody,
    LedgerHead,
    SealState,
)

HASHED = (
    "seq",
    "event_id",
    "request_hash",
    "type",
    "item_id",
    "item_number",
    "state_before",
    "state_after",
    "from_party",
    "to_party",
    "actor",
    "device_time",
    "device_offset_minutes",
    "recorded_at",
    "lat",
    "lon",
    "accuracy_m",
    "place_code",
    "seal_number",
    "seal_state",
    "document_count",
    "proof",
    "details",
    "biz_step",
    "disposition",
    "upu_code",
    "corrects_event_id",
    "record_id",
    "item_prev_hash",
    "ledger_prev_hash",
)
_COLUMNS = (*HASHED, "hash")
_CUSTODY_COLUMNS = tuple(ItemCustody.model_fields)


@dataclass(slots=True)
class Entry:
    """An event on its way into the ledger: the columns of a ``CustodyEvent`` row.

    A plain object, not an ORM row: the seal inserts entries with one Core statement, and a
    batch builds many of them, which as ORM instances would cost more than the checks.
    """

    event_id: str
    request_hash: str
    type: EventType
    item_id: int
    item_number: str
    state_before: ItemState
    state_after: ItemState
    from_party: str
    to_party: str
    actor: str
    device_time: dt.datetime
    device_offset_minutes: int
    recorded_at: dt.datetime
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    place_code: str | None
    seal_number: str | None
    seal_state: SealState | None
    document_count: int | None
    proof: str
    details: str
    biz_step: str
    disposition: str
    upu_code: str
    corrects_event_id: str | None
    record_id: int | None
    seq: int = 0
    item_prev_hash: str = ""
    ledger_prev_hash: str = ""
    hash: str = ""


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if hasattr(value, "value"):  # StrEnum
        return str(value.value)
    return value


def event_hash(event: CustodyEvent | Entry) -> str:
    """SHA-256 (hex) of the canonical JSON of the event's hashed columns."""
    content = {name: _canonical(getattr(event, name)) for name in HASHED}
    text_ = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text_.encode()).hexdigest()


def lock_items(session: Session, item_ids: Iterable[int]) -> dict[int, Item]:
    """Lock item rows in id order (one order everywhere, so two writers never deadlock)."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    query = (
        select(Item)
        .where(col(Item.id).in_(ids))
        .order_by(col(Item.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {item.id: item for item in session.exec(query).all() if item.id is not None}


@dataclass
class Locked:
    """An item of a batch, locked, with its custody row (None before its first event) and booking.

    The batch changes ``item`` and ``custody`` in memory (no autoflush); ``seal_batch`` writes
    them with Core statements, not through the unit of work.
    """

    item: Item
    custody: ItemCustody | None
    booking: Booking | None


def lock_batch(session: Session, numbers: Iterable[str]) -> dict[str, Locked]:
    """Lock every item carrying one of ``numbers`` in id order; returns the newest per number.

    One statement reads the items with their custody rows and bookings. Numbers may be reissued,
    so older items with the same number are locked too (harmless: the order is still by id).
    The bookings stay in the session (``session.get`` finds them) while the result is held.
    """
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    query = _lock_batch_query(session.get_bind().dialect.name)
    newest: dict[str, Locked] = {}
    for item, custody, booking in session.execute(query, {"numbers": wanted}).all():
        newest[item.number] = Locked(item, custody, booking)  # ascending ids: the last wins
    return newest


def any_of(column: Any, name: str, dialect: str) -> Any:
    """``column`` among the list bound as ``name``: ``= ANY(array)`` on PostgreSQL, else IN."""
    # One statement text whatever the list's length, so PostgreSQL prepares and plans it once.
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


@cache
def _lock_batch_query(dialect: str) -> Executable:
    return (
        select(Item, ItemCustody, Booking)
        .outerjoin(ItemCustody, col(ItemCustody.item_id) == col(Item.id))
        .outerjoin(Booking, col(Booking.id) == col(Item.booking_id))
        .where(any_of(col(Item.number), "numbers", dialect))
        .order_by(col(Item.id))
        .with_for_update(of=Item)
        .execution_options(populate_existing=True)
    )


def custody_of(session: Session, item: Item, holder: str) -> ItemCustody:
    """The custody row of a (locked) item; a new one (not yet added) before its first event."""
    assert item.id is not None
    row = session.get(ItemCustody, item.id, populate_existing=True)
    return row if row is not None else ItemCustody(item_id=item.id, holder=holder)


@cache
def _head_query() -> Executable:
    """The chain head's locking read, built once (building it costs more than running it)."""
    table = LedgerHead.__table__  # type: ignore[attr-defined]
    return sa_select(table.c.last_seq, table.c.last_hash).where(table.c.id == 1).with_for_update()


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head row (created if missing) and return its (last_seq, last_hash).

    The lock is held until the transaction ends; Core statements keep the hold short.
    """
    table = LedgerHead.__table__  # type: ignore[attr-defined]
    query = _head_query()
    row = session.execute(query).first()
    if row is None:
        dialect = session.get_bind().dialect.name
        ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        session.execute(
            ins.values(id=1, last_seq=0, last_hash=GENESIS_HASH).on_conflict_do_nothing()
        )
        row = session.execute(query).one()
    return int(row[0]), str(row[1])


_PENDING = "ledger_pending"


def append(session: Session, event: Entry, custody: ItemCustody) -> Entry:
    """Queue ``event`` for chaining; ``seal`` links and inserts the queue before the commit.

    Validation of a whole batch runs without the chain head lock; only ``seal`` (a handful of
    statements) and the commit run under it, so concurrent writers wait as little as possible.
    """
    pending: list[tuple[Entry, ItemCustody]] = session.info.setdefault(_PENDING, [])
    pending.append((event, custody))
    custody.event_count += 1
    return event


def queued(session: Session, event_id: str) -> Entry | None:
    """The event ``event_id`` if this transaction queued it and has not sealed it yet."""
    pending: list[tuple[Entry, ItemCustody]] = session.info.get(_PENDING, [])
    for event, _ in pending:
        if event.event_id == event_id:
            return event
    return None


def pending_count(session: Session) -> int:
    """Events queued in this session and not yet sealed."""
    return len(session.info.get(_PENDING, []))


def seal(session: Session) -> None:
    """Lock the chain head, chain every queued event in order and insert them (no-op if none).

    Everything else the transaction wrote (item states, custody rows, outbox rows) is flushed
    before the head is locked, so the lock covers only the head read, one multi-row INSERT of
    the events, the custody hash links, the head update and the commit.
    """
    pending: list[tuple[Entry, ItemCustody]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()
    last_seq, last_hash, rows = _chain(session, pending)
    with session.no_autoflush:
        session.execute(sa_insert(CustodyEvent.__table__), rows)  # type: ignore[attr-defined]
        _write_head(session, last_seq, last_hash)
    for _, custody in pending:
        session.add(custody)
    session.flush()


def seal_batch(session: Session, items: Iterable[Item]) -> None:
    """Seal for rows read by ``lock_batch``: items and custody rows written with Core statements.

    Their in-memory changes are taken as rows and the instances expired (a later read reloads
    what was written), so the unit of work never writes them. Under the head lock run the
    events' INSERT, the custody upsert (with the new hash links) and the head update: on
    PostgreSQL one statement with the item states too (``pgwrite``), elsewhere one each.
    """
    pending: list[tuple[Entry, ItemCustody]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    moved = {event.item_id for event, _ in pending}
    states = [(it.id, it.state.value) for it in items if it.id is not None and it.id in moved]
    custodies: dict[int, dict[str, Any]] = {}
    for _, custody in pending:
        custodies[custody.item_id] = {n: getattr(custody, n) for n in _CUSTODY_COLUMNS}
    for obj in [*items, *(c for _, c in pending)]:
        if obj in session:
            session.expire(obj)
    session.flush()  # the rest of the transaction (used one-time codes, webhook outbox)
    dialect = session.get_bind().dialect.name
    statements = _batch_statements(dialect)
    if dialect != "postgresql":
        session.execute(statements.item_state, [{"b_id": i, "b_state": s} for i, s in states])
    last_seq, last_hash = lock_head(session)
    rows: list[dict[str, Any]] = []
    for event, _ in pending:
        row = custodies[event.item_id]
        last_seq += 1
        last_hash = row["last_hash"] = _link(event, last_seq, last_hash, row["last_hash"])
        rows.append({name: getattr(event, name) for name in _COLUMNS})
    if dialect == "postgresql":
        pgwrite.write_sealed(session, rows, list(custodies.values()), states, (last_seq, last_hash))
        return
    session.execute(statements.insert_events, rows)
    session.execute(statements.upsert_custody, list(custodies.values()))
    session.execute(statements.head, {"b_seq": last_seq, "b_hash": last_hash})


@dataclass(frozen=True)
class _Statements:
    item_state: Executable
    insert_events: Executable
    upsert_custody: Executable
    head: Executable


@cache
def _batch_statements(dialect: str) -> _Statements:
    """The seal's statements, built once per dialect (building them costs more than running)."""
    items = Item.__table__  # type: ignore[attr-defined]
    custody = ItemCustody.__table__  # type: ignore[attr-defined]
    head = LedgerHead.__table__  # type: ignore[attr-defined]
    ins = postgresql.insert(custody) if dialect == "postgresql" else sqlite.insert(custody)
    return _Statements(
        item_state=sa_update(items)
        .where(items.c.id == bindparam("b_id"))
        .values(state=bindparam("b_state")),
        insert_events=sa_insert(CustodyEvent.__table__),  # type: ignore[attr-defined]
        upsert_custody=ins.on_conflict_do_update(
            index_elements=[custody.c.item_id],
            set_={c.name: ins.excluded[c.name] for c in custody.c if c.name != "item_id"},
        ),
        head=sa_update(head)
        .where(head.c.id == 1)
        .values(last_seq=bindparam("b_seq"), last_hash=bindparam("b_hash")),
    )


def _link(event: Entry, seq: int, ledger_prev: str, item_prev: str) -> str:
    """Give ``event`` its place and links in the ledger; returns its hash."""
    event.seq = seq
    event.ledger_prev_hash = ledger_prev
    event.item_prev_hash = item_prev
    event.hash = event_hash(event)
    return event.hash


def _chain(
    session: Session, pending: list[tuple[Entry, ItemCustody]]
) -> tuple[int, str, list[dict[str, Any]]]:
    """Lock the head and link every queued event; returns the new head and the rows to insert."""
    last_seq, last_hash = lock_head(session)
    rows: list[dict[str, Any]] = []
    for event, custody in pending:
        last_seq += 1
        last_hash = custody.last_hash = _link(event, last_seq, last_hash, custody.last_hash)
        rows.append({name: getattr(event, name) for name in _COLUMNS})
    return last_seq, last_hash, rows


def _write_head(session: Session, last_seq: int, last_hash: str) -> None:
    head = LedgerHead.__table__  # type: ignore[attr-defined]
    session.execute(
        sa_update(head).where(head.c.id == 1).values(last_seq=last_seq, last_hash=last_hash)
    )


def discard(session: Session) -> None:
    """Forget queued events (after a rollback)."""
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a ledger check: ``ok``, how many events were read, the first broken link."""

    ok: bool
    events: int
    broken_seq: int | None = None
    broken_event_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the admin endpoint."""
        return {
            "ok": self.ok,
            "events": self.events,
            "broken_seq": self.broken_seq,
            "broken_event_id": self.broken_event_id,
            "reason": self.reason,
        }


class _ItemLinks(dict[int, str]):
    """Each item's last event hash seen so far; before a checkpoint, read from the ledger."""

    def __init__(self, session: Session, before_seq: int) -> None:
        super().__init__()
        self.session = session
        self.before_seq = before_seq

    def get(self, item_id: int, default: str = GENESIS_HASH) -> str:  # type: ignore[override]
        if item_id in self:
            return self[item_id]
        if self.before_seq == 0:
            return default
        found = self.session.exec(
            select(CustodyEvent.hash)
            .where(CustodyEvent.item_id == item_id, col(CustodyEvent.seq) <= self.before_seq)
            .order_by(col(CustodyEvent.seq).desc())
            .limit(1)
        ).first()
        return found or default


def _broken_link(
    ev: CustodyEvent, expected_seq: int, expected_prev: str, last_of_item: _ItemLinks
) -> str | None:
    """Why ``ev`` breaks the chain, or None when it is intact."""
    if ev.seq != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {ev.seq}"
    if ev.hash != event_hash(ev):
        return "content does not match its hash (row altered)"
    if ev.ledger_prev_hash != expected_prev:
        return "ledger link does not match the previous event's hash"
    if ev.item_prev_hash != last_of_item.get(ev.item_id, GENESIS_HASH):
        return "item link does not match the item's previous event"
    return None


def verify(
    session: Session, batch: int = 5000, after_seq: int = 0, after_hash: str = GENESIS_HASH
) -> VerifyReport:
    """Recompute every hash and link in ledger order; stop at the first broken link.

    From a checkpoint (``after_seq`` events already verified, the last with ``after_hash``)
    only the events after it are read; an item's link to an event before the checkpoint is
    checked against that event's stored hash. ``events`` counts the events read.
    """
    expected_prev = after_hash
    expected_seq = after_seq + 1
    last_of_item: _ItemLinks = _ItemLinks(session, after_seq)
    count = 0
    last_seq = after_seq
    while True:
        rows = session.exec(
            select(CustodyEvent)
            .where(col(CustodyEvent.seq) > last_seq)
            .order_by(col(CustodyEvent.seq))
            .limit(batch)
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            break
        for ev in rows:
            count += 1
            reason = _broken_link(ev, expected_seq, expected_prev, last_of_item)
            if reason is not None:
                return VerifyReport(False, count, ev.seq, ev.event_id, reason)
            last_of_item[ev.item_id] = ev.hash
            expected_prev = ev.hash
            expected_seq += 1
        last_seq = rows[-1].seq
        session.expunge_all()
    head = session.get(LedgerHead, 1, populate_existing=True)
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
    if head_seq != after_seq + count or head_hash != expected_prev:
        return VerifyReport(
            False, count, head_seq, None, "chain head does not match the last event (rows removed)"
        )
    return VerifyReport(True, count)


PG_APPEND_ONLY_SQL = (
    """
    CREATE OR REPLACE FUNCTION custody_event_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'custody_event is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER custody_event_no_update_delete
    BEFORE UPDATE OR DELETE ON custody_event
    FOR EACH ROW EXECUTE FUNCTION custody_event_append_only()
    """,
)


def install_pg_trigger(session: Session) -> None:
    """Create the append-only trigger (the migration runs the same SQL)."""
    for statement in PG_APPEND_ONLY_SQL:
        session.execute(text(statement))
