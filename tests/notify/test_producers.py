"""Who writes which message: booking, custody events, OTP, reminders, courier on the way."""

from __future__ import annotations

import datetime as dt
import json

from sqlmodel import Session, col, select

from postal.booking.models import BookingChannel
from postal.config import Settings
from postal.notify.citizen import enqueue_courier_on_way, enqueue_reminders
from postal.notify.models import Notification
from postal.planning.models import PlannedRoute, PlannedStop, PlanRun, PlanStatus, StopPlace
from postal.tracking import events, handover
from postal.tracking.models import LineStatus, RecordDirection
from postal.tracking.schemas import RecordOpen
from tests.conftest import NEXT_DAY, NOW
from tests.tracking.helpers import SIGNATURE_ACK, TSETTINGS, at, event, pickup_body, record, world


def _messages(session: Session, template: str) -> list[Notification]:
    rows = list(
        session.exec(
            select(Notification)
            .where(Notification.template == template)
            .order_by(col(Notification.id))
        ).all()
    )
    session.commit()
    return rows


def test_booking_confirmation_and_reminders(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    [confirmed] = _messages(session, "booking_confirmed")
    assert confirmed.booking_id == w.booking.id and confirmed.recipient == w.booking.phone
    params = json.loads(confirmed.params)
    assert params["reference"] == w.booking.reference and params["slot"] == "morning"
    assert params["item_numbers"] == [w.dossier.number, w.result.number]
    assert params["documents"] and "Giấy tờ cần chuẩn bị" in confirmed.body
    assert NEXT_DAY.strftime("%d/%m/%Y") in confirmed.body
    assert enqueue_reminders(session, NEXT_DAY, NOW) == 1
    assert enqueue_reminders(session, NEXT_DAY, NOW) == 0  # idempotent per booking and day
    assert enqueue_reminders(session, NEXT_DAY + dt.timedelta(days=1), NOW) == 0
    session.commit()
    [reminder] = _messages(session, "reminder")
    assert reminder.body.startswith("Nhắc lịch: ngày mai")


def test_custody_events_and_otp_tell_the_citizen(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    events.request_otp(session, w.courier, TSETTINGS, w.dossier.number, NOW)
    session.commit()
    [otp] = _messages(session, "otp")
    assert otp.body.startswith("Mã xác nhận ") and w.dossier.number in otp.body
    record(session, settings, w.courier, pickup_body(session, w))
    [picked] = _messages(session, "picked_up")
    assert w.dossier.number in picked.body and "06:40 07/12/2026" in picked.body


def test_a_failed_pickup_tells_the_citizen_when_the_courier_comes_again(
    session: Session, settings: Settings
) -> None:
    w = world(session, settings)
    [res] = record(
        session, settings, w.courier,
        event("attempt_failed", w.dossier.number, at(6, 35, day=7), reason="absent"),
    )  # fmt: skip
    assert res.status == "recorded", res
    [failed] = _messages(session, "failed_pickup")
    assert failed.body.startswith(f"Bưu tá chưa nhận được hồ sơ {w.dossier.number}")
    assert "Bưu điện sẽ đến nhận lại vào ngày 09/12/2026" in failed.body
    assert _messages(session, "failed_attempt") == []  # not the delivery's wording


def test_failed_attempt_and_delivery_tell_the_citizen(session: Session, settings: Settings) -> None:
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
    handover.close_record(session, w.courier, rec.id or 0, NOW)
    session.commit()
    tuesday = NOW + dt.timedelta(days=1, hours=5)
    [res] = record(
        session, settings, w.courier,
        event("attempt_failed", w.result.number, at(9), reason="absent"), now=tuesday,
    )  # fmt: skip
    assert res.status == "recorded"
    [failed] = _messages(session, "failed_attempt")
    assert "Bưu điện sẽ giao lại vào ngày 10/12/2026" in failed.body
    thursday = NOW + dt.timedelta(days=3, hours=5)
    record(session, settings, w.courier, event("next_attempt", w.result.number, at(9, day=10)),
           now=thursday)  # fmt: skip
    [res] = record(
        session, settings, w.courier,
        event(
            "deliver", w.result.number, at(10, day=10),
            recipient={"id_number": "001084000999"},
            acknowledgement=SIGNATURE_ACK,
        ),
        now=thursday,
    )  # fmt: skip
    assert res.status == "recorded", res
    [delivered] = _messages(session, "delivered")
    assert "đã được giao thành công lúc 10:00 10/12/2026" in delivered.body


def test_courier_on_way_from_a_locked_route(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    plan = PlanRun(
        date=NEXT_DAY, post_office_codes=w.booking.post_office_code, status=PlanStatus.done,
        created_at=NOW,
    )  # fmt: skip
    session.add(plan)
    session.flush()
    assert plan.id is not None
    start = dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hà Nội
    route = PlannedRoute(
        plan_id=plan.id, post_office_code=w.booking.post_office_code, courier_label="A",
        color="#000", start_at=start, end_at=start + dt.timedelta(hours=4), distance_m=1000,
        duration_s=3600, stop_count=1,
    )  # fmt: skip
    session.add(route)
    session.flush()
    assert route.id is not None
    arrival = start + dt.timedelta(hours=2)  # 10:00 local
    session.add(
        PlannedStop(
            route_id=route.id,
            plan_id=plan.id,
            sequence=1,
            kind="pickup",
            place=StopPlace.citizen,
            item_number=w.dossier.number,
            booking_reference=w.booking.reference,
            desk_code=w.booking.desk_code,
            lat=21.04,
            lon=105.83,
            arrival_at=arrival,
            start_at=arrival,
            departure_at=arrival + dt.timedelta(minutes=7),
            window_start=start + dt.timedelta(hours=1, minutes=45),
            window_end=None,
            load_after=1,
        )
    )
    session.flush()
    assert enqueue_courier_on_way(session, route.id, NOW) == 1
    assert enqueue_courier_on_way(session, route.id, NOW) == 0  # locking again tells no one twice
    session.commit()
    [message] = _messages(session, "courier_on_way")
    assert "từ 09:45 đến 10:30 ngày 08/12/2026" in message.body
    assert json.loads(message.params)["item_numbers"] == [w.dossier.number]
