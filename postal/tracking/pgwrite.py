"""PostgreSQL: every write of a sealed batch in one statement, one round trip under the head lock.

Data-modifying CTEs insert the events, upsert the custody rows and move the items, and the main
statement advances the chain head; each column travels as one typed array through ``unnest``.
The text is constant, so the driver prepares it once per connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from postal.booking.models import Item
from postal.tracking.models import CustodyEvent, ItemCustody


@dataclass(frozen=True)
class _Plan:
    sql: str
    events: list[tuple[str, Callable[[Any], Any] | None]]
    custody: list[tuple[str, Callable[[Any], Any] | None]]


def _q(name: str) -> str:
    return f'"{name}"'


def _array_type(column: Any, dialect: Dialect) -> str:
    """The array type of a column's parameter (strings as TEXT).

    A cast to VARCHAR(n) would silently cut a long value; from TEXT the INSERT refuses it, as
    a plain INSERT would.
    """
    name = str(column.type.compile(dialect=dialect))
    return "TEXT[]" if name.startswith("VARCHAR") else f"{name}[]"


def _columns(table: Table, prefix: str, dialect: Dialect) -> tuple[str, str]:
    """The quoted column list and the ``unnest`` of one typed array parameter per column."""
    names = ", ".join(_q(c.name) for c in table.c)
    arrays = ", ".join(f"CAST(%({prefix}{c.name})s AS {_array_type(c, dialect)})" for c in table.c)
    return names, arrays


def _processors(table: Table, dialect: Dialect) -> list[tuple[str, Callable[[Any], Any] | None]]:
    out: list[tuple[str, Callable[[Any], Any] | None]] = []
    for column in table.c:
        assert isinstance(column, Column)
        out.append((column.name, column.type.bind_processor(dialect)))
    return out


@cache
def _plan(dialect: Dialect) -> _Plan:
    events: Table = CustodyEvent.__table__  # type: ignore[attr-defined]
    custody: Table = ItemCustody.__table__  # type: ignore[attr-defined]
    items: Table = Item.__table__  # type: ignore[attr-defined]
    ev_names, ev_arrays = _columns(events, "e_", dialect)
    cu_names, cu_arrays = _columns(custody, "c_", dialect)
    updates = ", ".join(
        f"{_q(c.name)} = EXCLUDED.{_q(c.name)}" for c in custody.c if c.name != "item_id"
    )
    state_type = _array_type(items.c.state, dialect)
    sql = (
        f"WITH ev AS (INSERT INTO {_q(events.name)} ({ev_names}) "
        f"SELECT * FROM unnest({ev_arrays})), "
        f"cu AS (INSERT INTO {_q(custody.name)} ({cu_names}) SELECT * FROM unnest({cu_arrays}) "
        f"ON CONFLICT (item_id) DO UPDATE SET {updates}), "
        f"it AS (UPDATE {_q(items.name)} SET state = u.state FROM unnest("
        f"CAST(%(i_id)s AS INTEGER[]), CAST(%(i_state)s AS {state_type})) AS u(id, state) "
        f"WHERE {_q(items.name)}.id = u.id) "
        "UPDATE ledger_head SET last_seq = %(h_seq)s, last_hash = %(h_hash)s WHERE id = 1"
    )
    return _Plan(sql, _processors(events, dialect), _processors(custody, dialect))


def _arrays(
    prefix: str,
    rows: list[dict[str, Any]],
    processors: list[tuple[str, Callable[[Any], Any] | None]],
) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, proc in processors:
        values = [row[name] for row in rows]
        out[prefix + name] = [proc(v) for v in values] if proc else values
    return out


def write_sealed(
    session: Session,
    events: list[dict[str, Any]],
    custody: list[dict[str, Any]],
    item_states: list[tuple[int, str]],
    head: tuple[int, str],
) -> None:
    """Insert ``events``, upsert ``custody``, set the item states and the head, in one statement."""
    connection = session.connection()
    plan = _plan(connection.dialect)
    params: dict[str, Any] = {
        **_arrays("e_", events, plan.events),
        **_arrays("c_", custody, plan.custody),
        "i_id": [i for i, _ in item_states],
        "i_state": [s for _, s in item_states],
        "h_seq": head[0],
        "h_hash": head[1],
    }
    connection.exec_driver_sql(plan.sql, params)
