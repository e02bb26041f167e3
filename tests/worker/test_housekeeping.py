"""The periodic jobs' bodies and the database's own guards, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from postal.config import Settings
from postal.idempotency import IdempotencyRecord
from postal.notify import webhooks
from postal.notify.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from postal.planning.models import PlanOffice, PlanRun, PlanStatus
from postal.tracking import checkpoint
from postal.worker import housekeeping
from tests.conftest import NEXT_DAY, NOW
from tests.tracking.helpers import at, event, pickup_body, record, world


def test_the_ledger_is_verified_from_the_last_good_checkpoint(
    engine: Engine, session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    dossier, result = w.dossier.number, w.result.number  # verify() clears the session
    record(session, settings, w.courier, pickup_body(session, w))
    first = checkpoint.verify_since_checkpoint(session)
    assert first.ok and first.events == 1
    record(session, settings, w.courier, event("arrive_post_office", dossier, at(6, 50, day=7)))
    record(session, settings, w.clerk, event("result_ready", result, at(6, 55, day=7)))
    session.rollback()
    trigger = engine.dialect.name == "postgresql"  # the trigger refuses tampering itself
    with engine.begin() as conn:
        if trigger:
            conn.execute(text("ALTER TABLE custody_event DISABLE TRIGGER USER"))
        place = conn.execute(text("SELECT place_code FROM custody_event WHERE seq = 3")).scalar()
        conn.execute(text("UPDATE custody_event SET place_code = 'X-9' WHERE seq = 3"))
    broken = checkpoint.verify_since_checkpoint(session)
    assert not broken.ok and broken.broken_seq == 3 and broken.events == 2
    # The last good checkpoint stays where it was: every run reports the break again.
    assert housekeeping.verify_ledger(engine) is False
    good = checkpoint.last_good(session)
    assert good is not None and good.last_seq == 1
    session.rollback()
    with engine.begin() as conn:
        conn.execute(text("UPDATE custody_event SET place_code = :p WHERE seq = 3"), {"p": place})
        if trigger:
            conn.execute(text("ALTER TABLE custody_event ENABLE TRIGGER USER"))
    # Only the two events after the checkpoint are read; the dossier's second event links to
    # its first, before the checkpoint, and that link is checked too.
    again = checkpoint.verify_since_checkpoint(session)
    assert again.ok and again.events == 2
    assert checkpoint.verify_since_checkpoint(session).events == 0


def test_purge_keeps_what_is_inside_its_retention(
    engine: Engine, session: Session, settings: Settings
) -> None:
    old = NOW - dt.timedelta(days=max(settings.idempotency_retention_days,
                                      settings.outbox_retention_days) + 1)  # fmt: skip
    for key, created in (("old", old), ("new", NOW)):
        session.add(
            IdempotencyRecord(
                scope="s", key=key, request_hash="f", status_code=201, body="{}", created_at=created
            )
        )
    endpoint = webhooks.add_endpoint(session, "http://127.0.0.1:9/hook", "secret")
    assert endpoint.id is not None
    for key, delivered in (("old", old), ("new", NOW), ("pending", None)):
        delivery = WebhookDelivery(
            delivery_id=f"delivery-{key}", endpoint_id=endpoint.id,
            event_type="t", body="{}",
            status=DeliveryStatus.delivered if delivered else DeliveryStatus.pending,
            next_attempt_at=old, created_at=old, delivered_at=delivered,
        )  # fmt: skip
        session.add(delivery)
        session.flush()
        assert delivery.id is not None
        session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=old, status_code=200))
    session.commit()
    counts = housekeeping.purge(engine, settings, NOW)
    assert counts["idempotency_record"] == 1
    assert counts["webhook_delivery"] == 1 and counts["webhook_attempt"] == 1
    assert [r.key for r in session.exec(select(IdempotencyRecord)).all()] == ["new"]
    left = session.exec(select(WebhookDelivery)).all()
    # The recent delivery and the one still pending stay.
    assert sorted(str(d.status) for d in left) == ["delivered", "pending"]


def test_the_database_allows_one_active_plan_per_office_and_day(
    engine: Engine, session: Session
) -> None:
    plans = [PlanRun(date=NEXT_DAY, post_office_codes="115100", status=PlanStatus.queued)
             for _ in range(3)]  # fmt: skip
    session.add_all(plans)
    session.flush()
    session.add(PlanOffice(plan_id=plans[0].id or 0, date=NEXT_DAY, post_office_code="115100"))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(PlanOffice(plan_id=plans[1].id or 0, date=NEXT_DAY, post_office_code="115100"))
        session.flush()
    # Finished plans do not count: the office takes a new plan once the first is inactive.
    first = session.exec(select(PlanOffice)).one()
    first.active = False
    session.add(first)
    session.add(PlanOffice(plan_id=plans[2].id or 0, date=NEXT_DAY, post_office_code="115100"))
    session.commit()


def test_postal_worker_refuses_sqlite(sqlite_engine: Engine) -> None:
    from postal.worker.run import run_worker
    from tests.conftest import make_settings

    with pytest.raises(ValueError, match="database_url: `postal worker` needs PostgreSQL"):
        run_worker(make_settings("sqlite://"), sqlite_engine)
