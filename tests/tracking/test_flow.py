"""The custody chain end to end through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, col, select

from postal.booking.models import BookingChannel, Item, ItemState
from postal.config import Settings
from postal.errors import Conflict, Forbidden, NotFound, ValidationFailed
from postal.ids import format_s10
from postal.tracking import handover, ledger
from postal.tracking.models import CustodyEvent, LineStatus, RecordDirection, RecordStatus
from postal.tracking.schemas import RecordOpen
from tests.conftest import NOW
from tests.tracking.helpers import SIGNATURE_ACK, at, event, pickup_body, record, world

T1 = NOW + dt.timedelta(days=1, hours=5)  # Tuesday 8 December, 12:00 local


def test_dossier_pickup_to_desk(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    [res] = record(session, settings, w.courier, pickup_body(session, w))
    assert (res.status, res.state) == ("recorded", ItemState.picked_up), res
    later = NOW + dt.timedelta(hours=2)
    [res] = record(
        session,
        settings,
        w.courier,
        event("arrive_post_office", w.dossier.number, at(8, 0, day=7)),
        now=later,
    )
    assert res.state == ItemState.at_post_office
    rec = handover.open_record(
        session,
        w.courier,
        RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code=w.booking.desk_code,
            item_numbers=[w.dossier.number],
        ),
        later,
    )
    session.commit()
    assert rec.fees_vnd == w.booking.postal_fee_vnd
    with pytest.raises(Forbidden):
        handover.confirm_line(
            session, w.other_clerk, rec.id or 0, w.dossier.number, LineStatus.received, later
        )
    line = handover.confirm_line(
        session, w.clerk, rec.id or 0, w.dossier.number, LineStatus.received, later
    )
    session.commit()
    assert line.status == LineStatus.received
    closed = handover.close_record(session, w.clerk, rec.id or 0, later)
    session.commit()
    assert closed.status == RecordStatus.closed
    with pytest.raises(Conflict):
        handover.confirm_line(
            session, w.clerk, rec.id or 0, w.dossier.number, LineStatus.missing, later
        )
    session.refresh(w.dossier)
    assert w.dossier.state == ItemState.received_at_desk
    rows = session.exec(select(CustodyEvent).order_by(col(CustodyEvent.seq))).all()
    assert [r.type.value for r in rows] == ["pickup", "arrive_post_office", "receive_at_desk"]
    assert ledger.verify(session).ok


def test_close_marks_unconfirmed_missing(session: Session, settings: Settings) -> None:
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
    session.commit()
    handover.close_record(session, w.clerk, rec.id or 0, NOW)
    session.commit()
    session.refresh(w.dossier)
    assert w.dossier.state == ItemState.discrepancy
    public = handover.to_public(session, settings, rec)
    assert [ln.status for ln in public.lines] == [LineStatus.missing]


def test_result_delivery_with_failed_attempts_then_return(
    session: Session, settings: Settings
) -> None:
    w = world(session, settings, BookingChannel.integration, form="result_delivery")
    assert w.result.state == ItemState.ready_at_desk
    rec = handover.open_record(
        session,
        w.clerk,
        RecordOpen(
            direction=RecordDirection.desk_to_courier,
            desk_code=w.booking.desk_code,
            courier_username="courier1",
            item_numbers=[w.result.number],
        ),
        NOW,
    )
    session.commit()
    with pytest.raises(Forbidden):  # only the named courier confirms
        handover.confirm_line(
            session, w.courier2, rec.id or 0, w.result.number, LineStatus.received, NOW
        )
    handover.confirm_line(
        session, w.courier, rec.id or 0, w.result.number, LineStatus.received, NOW
    )
    handover.close_record(session, w.courier, rec.id or 0, NOW)
    session.commit()
    # Not the holder: the second courier cannot report an attempt.
    [res] = record(
        session,
        settings,
        w.courier2,
        event("attempt_failed", w.result.number, at(9), reason="absent"),
        now=T1,
    )
    assert (res.status, res.code) == ("rejected", "not_item_holder")
    [res] = record(
        session,
        settings,
        w.courier,
        event("attempt_failed", w.result.number, at(9), reason="absent"),
        now=T1,
    )
    assert res.state == ItemState.attempt_failed
    assert res.next_attempt_on == dt.date(2026, 12, 10)  # two working days after Tue 8
    [res] = record(
        session,
        settings,
        w.courier,
        event("next_attempt", w.result.number, at(9, day=9)),
        now=NOW + dt.timedelta(days=2, hours=5),
    )
    assert (res.code, res.state) == ("attempt_not_due", ItemState.attempt_failed)
    later = NOW + dt.timedelta(days=3, hours=5)
    [res] = record(
        session,
        settings,
        w.courier,
        event("next_attempt", w.result.number, at(9, day=10)),
        now=later,
    )
    assert res.state == ItemState.with_courier
    [res] = record(
        session,
        settings,
        w.courier,
        event("attempt_failed", w.result.number, at(10, day=10), reason="refused"),
        now=later,
    )
    assert res.next_attempt_on is None
    [res] = record(
        session,
        settings,
        w.courier,
        event("next_attempt", w.result.number, at(11, day=10)),
        now=later,
    )
    assert res.code == "attempts_exhausted"
    back = handover.open_record(
        session,
        w.courier,
        RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code=w.booking.desk_code,
            item_numbers=[w.result.number],
        ),
        later,
    )
    handover.confirm_line(
        session, w.clerk, back.id or 0, w.result.number, LineStatus.received, later
    )
    session.commit()
    session.refresh(w.result)
    returned = session.get(Item, w.result.id)  # a fresh expression: mypy keeps no narrowing
    assert returned is not None and returned.state == ItemState.returned_to_desk
    assert ledger.verify(session).ok


def test_delivery_identity_check(session: Session, settings: Settings) -> None:
    w = world(session, settings, BookingChannel.integration, form="result_delivery")
    rec = handover.open_record(
        session,
        w.clerk,
        RecordOpen(
            direction=RecordDirection.desk_to_courier,
            desk_code=w.booking.desk_code,
            courier_username="courier1",
            item_numbers=[w.result.number],
        ),
        NOW,
    )
    handover.confirm_line(
        session, w.courier, rec.id or 0, w.result.number, LineStatus.received, NOW
    )
    session.commit()
    ack = SIGNATURE_ACK
    [res] = record(
        session,
        settings,
        w.courier,
        event(
            "deliver",
            w.result.number,
            at(9),
            recipient={"id_number": "001084000998"},
            acknowledgement=ack,
        ),
        now=T1,
    )
    assert (res.code, res.http_status) == ("identity_mismatch", 422)
    [res] = record(
        session,
        settings,
        w.courier,
        event(
            "deliver",
            w.result.number,
            at(9),
            recipient={"proxy_name": "Trần Bình"},
            acknowledgement=ack,
        ),
        now=T1,
    )
    assert res.code == "authorisation_ref_required"
    assert res.errors and {e["field"] for e in res.errors} == {
        "recipient.authorisation_ref",
        "recipient.proxy_id_number",
    }
    [res] = record(
        session,
        settings,
        w.courier,
        event(
            "deliver",
            w.result.number,
            at(9),
            recipient={"id_number": "001 084 000 999"},
            acknowledgement=ack,
        ),
        now=T1,
    )
    assert res.state == ItemState.delivered
    stored = session.exec(select(CustodyEvent).where(CustodyEvent.type == "deliver")).one()
    assert "001084000999" not in stored.details


def test_opening_refuses_bad_items(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    unknown = format_s10("EB", 99_999_990, "VN")
    wrong_digit = unknown[:10] + str((int(unknown[10]) + 1) % 10) + "VN"
    body = RecordOpen(
        direction=RecordDirection.courier_to_desk,
        desk_code=w.booking.desk_code,
        item_numbers=[w.dossier.number, unknown, wrong_digit],
    )
    with pytest.raises(ValidationFailed) as exc:
        handover.open_record(session, w.courier, body, NOW)
    assert [(e["field"], e["code"]) for e in exc.value.errors] == [
        ("item_numbers[1]", "unknown_item"),
        ("item_numbers[2]", "item_number_check_digit"),
    ]
    body = RecordOpen(
        direction=RecordDirection.courier_to_desk,
        desk_code=w.booking.desk_code,
        item_numbers=[w.dossier.number],
    )
    with pytest.raises(ValidationFailed) as exc:  # still with the citizen: not handable
        handover.open_record(session, w.courier, body, NOW)
    assert exc.value.errors[0]["code"] == "item_state_not_handable"
    with pytest.raises(NotFound):
        handover.get_record(session, 999)
