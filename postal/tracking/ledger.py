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
from typing import Any

from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from postal.booking.models import Item
from postal.tracking.models import GENESIS_HASH, CustodyEvent, ItemCustody, LedgerHead

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


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if hasattr(value, "value"):  # StrEnum
        return str(value.value)
    return value


def event_hash(event: CustodyEvent) -> str:
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


def lock_items_by_number(session: Session, numbers: Iterable[str]) -> dict[str, Item]:
    """Lock every item carrying one of ``numbers`` in id order; returns the newest per number.

    One statement for a whole batch. Numbers may be reissued, so older items with the same
    number are locked too (harmless: the order is still by id, as in ``lock_items``).
    """
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    query = (
        select(Item)
        .where(col(Item.number).in_(wanted))
        .order_by(col(Item.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    newest: dict[str, Item] = {}
    for item in session.exec(query).all():
        newest[item.number] = item  # ascending ids: the last one wins
    return newest


def custodies_of(session: Session, item_ids: Iterable[int]) -> dict[int, ItemCustody]:
    """The custody rows of (locked) items, read in one statement; items without one are absent."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    query = (
        select(ItemCustody)
        .where(col(ItemCustody.item_id).in_(ids))
        .execution_options(populate_existing=True)
    )
    return {row.item_id: row for row in session.exec(query).all()}


def custody_of(session: Session, item: Item, holder: str) -> ItemCustody:
    """The custody row of a (locked) item; a new one (not yet added) before its first event."""
    assert item.id is not None
    row = session.get(ItemCustody, item.id, populate_existing=True)
    return row if row is not None else ItemCustody(item_id=item.id, holder=holder)


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head row (created if missing) and return its (last_seq, last_hash).

    The lock is held until the transaction ends; Core statements keep the hold short.
    """
    table = LedgerHead.__table__  # type: ignore[attr-defined]
    query = sa_select(table.c.last_seq, table.c.last_hash).where(table.c.id == 1).with_for_update()
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


def append(session: Session, event: CustodyEvent, custody: ItemCustody) -> CustodyEvent:
    """Queue ``event`` for chaining; ``seal`` links and inserts the queue before the commit.

    Validation of a whole batch runs without the chain head lock; only ``seal`` (a handful of
    statements) and the commit run under it, so concurrent writers wait as little as possible.
    """
    pending: list[tuple[CustodyEvent, ItemCustody]] = session.info.setdefault(_PENDING, [])
    pending.append((event, custody))
    custody.event_count += 1
    return event


def pending_count(session: Session) -> int:
    """Events queued in this session and not yet sealed."""
    return len(session.info.get(_PENDING, []))


def seal(session: Session) -> None:
    """Lock the chain head, chain every queued event in order and insert them (no-op if none).

    Everything else the transaction wrote (item states, custody rows, outbox rows) is flushed
    before the head is locked, so the lock covers only the head read, one multi-row INSERT of
    the events, the custody hash links, the head update and the commit.
    """
    pending: list[tuple[CustodyEvent, ItemCustody]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()
    last_seq, last_hash = lock_head(session)
    rows: list[dict[str, Any]] = []
    for event, custody in pending:
        last_seq += 1
        event.seq = last_seq
        event.ledger_prev_hash = last_hash
        event.item_prev_hash = custody.last_hash
        event.hash = event_hash(event)
        last_hash = custody.last_hash = event.hash
        rows.append({name: getattr(event, name) for name in _COLUMNS})
        session.add(custody)
    events_table = CustodyEvent.__table__  # type: ignore[attr-defined]
    head = LedgerHead.__table__  # type: ignore[attr-defined]
    session.execute(sa_insert(events_table), rows)
    session.execute(
        sa_update(head).where(head.c.id == 1).values(last_seq=last_seq, last_hash=last_hash)
    )
    session.flush()


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


def _broken_link(
    ev: CustodyEvent, expected_seq: int, expected_prev: str, last_of_item: dict[int, str]
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


def verify(session: Session, batch: int = 5000) -> VerifyReport:
    """Recompute every hash and link in ledger order; stop at the first broken link."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    last_of_item: dict[int, str] = {}
    count = 0
    last_seq = 0
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
    if head_seq != count or head_hash != expected_prev:
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
