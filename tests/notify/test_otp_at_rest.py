"""One-time codes at rest: the outbox row holds no code; the sender makes it and keeps a hash."""

from __future__ import annotations

import json
import re

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select, text

from postal.notify.models import Notification, NotificationStatus
from postal.notify.outbox import deliver_message
from postal.notify.service import to_public
from tests.conftest import NOW
from tests.notify.conftest import Gateway
from tests.notify.test_delivery import _settings
from tests.tracking.helpers import TSETTINGS, pickup_body, record, world


def _sent_code(gateway: Gateway, index: int = -1) -> str:
    match = re.search(r"\b(\d{6})\b", gateway.json(index)["message"])
    assert match, gateway.json(index)
    return match.group(1)


def _rows_holding(session: Session, needle: str) -> list[str]:
    """Every table and column whose text contains ``needle`` (the database does the search:
    the loaded reference data is large)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            cast = f'CAST("{column.name}" AS TEXT)'
            query = text(f'SELECT 1 FROM "{table.name}" WHERE {cast} LIKE :pattern LIMIT 1')
            if session.execute(query, {"pattern": f"%{needle}%"}).first() is not None:
                found.append(f"{table.name}.{column.name}")
    return found


def test_otp_outbox_row_holds_no_code(engine: Engine, gateway: Gateway) -> None:
    from postal.tracking import events

    settings = _settings(engine, gateway)
    with Session(engine, expire_on_commit=False) as session:
        w = world(session, settings)
        events.request_otp(session, w.courier, TSETTINGS, w.dossier.number, NOW)
        session.commit()
        row = session.exec(select(Notification).where(Notification.template == "otp")).one()
        session.commit()
        assert row.id is not None and "otp-challenge:" in (row.dedup_key or "")
        assert not re.search(r"\b\d{6}\b", row.body) and "••••••" in row.body
        assert json.loads(row.params)["otp"] == "••••••"
        # First try fails at the gateway; the retry carries the same code, which works.
        gateway.replies.append((503, "overloaded"))
        assert deliver_message(engine, settings, row.id, NOW) == "retry"
        session.expire_all()
        due = session.get(Notification, row.id)
        assert due is not None
        session.commit()
        assert deliver_message(engine, settings, row.id, due.next_attempt_at) == "sent"
        code = _sent_code(gateway, 0)
        assert _sent_code(gateway, 1) == code
        assert gateway.json(1)["message"].startswith(f"Mã xác nhận {code} ")
        session.expire_all()
        assert _rows_holding(session, code) == []
        sent = session.get(Notification, row.id)
        assert sent is not None and sent.status == NotificationStatus.sent
        staff_view = to_public(sent, w.booking.reference).model_dump_json()
        session.commit()
        assert code not in staff_view
        wrong = str((int(code) + 1) % 1_000_000).zfill(6)
        bad = pickup_body(session, w, acknowledgement={"method": "otp", "otp_code": wrong})
        [res] = record(session, settings, w.courier, bad)
        assert res.code == "otp_invalid"
        ok = pickup_body(session, w, acknowledgement={"method": "otp", "otp_code": code})
        [res] = record(session, settings, w.courier, ok)
        assert res.status == "recorded", res
