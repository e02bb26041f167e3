"""Tamper evidence, the append-only trigger, concurrent claims and webhooks."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from postal.config import Settings
from postal.notify import webhooks
from postal.notify.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from postal.tracking import handover, ledger
from postal.tracking.cli import app as cli
from postal.tracking.models import LineStatus, RecordDirection
from postal.tracking.schemas import RecordOpen
from tests.conftest import NOW, make_settings
from tests.tracking.helpers import at, event, pickup_body, record, world


def _three_events(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    record(session, settings, w.courier, pickup_body(session, w))
    record(
        session,
        settings,
        w.courier,
        event("arrive_post_office", w.dossier.number, at(6, 50, day=7)),
    )
    w2_result = w.result
    record(session, settings, w.clerk, event("result_ready", w2_result.number, at(6, 55, day=7)))


def test_verify_reports_a_direct_update(
    engine: Engine, session: Session, settings: Settings
) -> None:
    _three_events(session, settings)
    runner = CliRunner()
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        ok = ledger.verify(session)
    else:
        result = runner.invoke(cli, ["verify", "--database-url", url])
        assert result.exit_code == 0, result.output
        ok = ledger.verify(session)
    assert ok.ok and ok.events == 3
    session.rollback()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
                conn.execute(text("UPDATE custody_event SET seal_number = 'S-9' WHERE seq = 2"))
            conn.execute(text("ALTER TABLE custody_event DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE custody_event SET document_count = 7 WHERE seq = 2"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE custody_event ENABLE TRIGGER USER"))
    report = ledger.verify(session)
    assert (report.ok, report.broken_seq) == (False, 2)
    assert "altered" in (report.reason or "")
    if engine.dialect.name == "postgresql":
        result = runner.invoke(cli, ["verify", "--database-url", url])
        assert result.exit_code == 1
        assert "seq 2" in result.output


def test_verify_reports_a_deleted_tail(
    engine: Engine, session: Session, settings: Settings
) -> None:
    _three_events(session, settings)
    session.rollback()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE custody_event DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM custody_event WHERE seq = 3"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE custody_event ENABLE TRIGGER USER"))
    report = ledger.verify(session)
    assert not report.ok and "head" in (report.reason or "")


@pytest.mark.postgres
def test_two_couriers_claim_at_once(pg_engine: Engine) -> None:
    settings = make_settings(pg_engine.url.render_as_string(hide_password=False))
    with Session(pg_engine, expire_on_commit=False) as session:
        w = world(session, settings)
        bodies = [pickup_body(session, w), pickup_body(session, w)]
    barrier = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def claim(k: int) -> None:
        with Session(pg_engine, expire_on_commit=False) as s:
            barrier.wait()
            courier = w.courier if k == 0 else w.courier2
            outcomes[k] = record(s, settings, courier, bodies[k])[0]

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted((r.status, r.code) for r in outcomes)
    assert statuses == [("recorded", None), ("rejected", "illegal_transition")]
    with Session(pg_engine) as session:
        assert ledger.verify(session).ok


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP receiver that fails its first request, then accepts."""
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(500 if len(received) == 1 else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_webhook_outbox_retries_and_signs(
    session: Session, settings: Settings, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    webhooks.add_endpoint(session, url, "hook-secret")
    session.commit()
    w = world(session, settings)
    record(session, settings, w.courier, pickup_body(session, w))
    rec = handover.open_record(
        session,
        w.courier,
        RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code=w.booking.desk_code,
            item_numbers=[w.dossier.number],
        ),
        NOW,
    )
    handover.confirm_line(session, w.clerk, rec.id or 0, w.dossier.number, LineStatus.received, NOW)
    session.commit()
    [delivery] = session.exec(select(WebhookDelivery)).all()
    assert delivery.event_type == "item.received_at_desk"
    assert delivery.id is not None
    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with httpx.Client() as http:
        assert webhooks.due_webhooks(session, NOW, 10) == [delivery.id]
        session.commit()
        first = webhooks.deliver_webhook(engine, settings, delivery.id, NOW, http)
        assert first == "retry"
        assert webhooks.due_webhooks(session, NOW, 10) == []  # not due yet
        session.commit()
        assert webhooks.deliver_webhook(engine, settings, delivery.id, NOW, http) == "skipped"
        session.refresh(delivery)
        later = delivery.next_attempt_at
        session.commit()
        assert later > NOW
        assert webhooks.deliver_webhook(engine, settings, delivery.id, later, http) == "sent"
    assert len(received) == 2
    headers, body = received[1]["headers"], received[1]["body"]
    assert headers["X-Postal-Event"] == "item.received_at_desk"
    assert webhooks.verify_signature(
        "hook-secret", headers["X-Postal-Signature"], body, int(later.timestamp())
    )
    assert not webhooks.verify_signature(
        "hook-secret", headers["X-Postal-Signature"], body, int(later.timestamp()) + 3600
    )
    assert json.loads(body)["item_number"] == w.dossier.number
    session.refresh(delivery)
    assert delivery.status == DeliveryStatus.delivered and delivery.attempts == 2
    assert received[1]["headers"]["Idempotency-Key"] == delivery.delivery_id
    log = session.exec(select(WebhookAttempt).order_by(col(WebhookAttempt.id))).all()
    assert [a.status_code for a in log] == [500, 204]
