"""Delivering the outbox through real local servers: SMS and Zalo gateways over HTTP, SMTP."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from postal.config import Settings
from postal.notify.channels import configured_channels
from postal.notify.models import ContactChannel, Notification, NotificationStatus
from postal.notify.outbox import deliver_message, due_messages, enqueue_message
from tests.conftest import NOW, make_settings
from tests.notify.conftest import Gateway, Mailbox

PHONE = "+84912345678"
OTP = {"otp": "654321", "number": "EB123456785VN", "minutes": 10}


def _settings(
    engine: Engine,
    gateway: Gateway | None = None,
    smtp: Mailbox | None = None,
    zalo: bool = False,
    **overrides: Any,
) -> Settings:
    values: dict[str, Any] = {"message_timeout_s": 0.5}
    if gateway is not None:
        values.update(
            sms_url=f"{gateway.url}/sms",
            sms_username="postal",
            sms_password="s3cret",
            sms_brandname="BUUDIEN",
        )
        if zalo:
            values.update(
                zalo_url=f"{gateway.url}/zns",
                zalo_access_token="zalo-token",
                zalo_templates={"otp": "284011"},
            )
    if smtp is not None:
        values.update(
            smtp_host=smtp.host, smtp_port=smtp.port, smtp_from="noreply@buudien.vn",
            smtp_starttls=False,
        )  # fmt: skip
    values.update(overrides)
    return make_settings(str(engine.url), **values)


def _enqueue(
    engine: Engine,
    template: str = "otp",
    params: dict[str, Any] | None = None,
    channel: ContactChannel = ContactChannel.sms,
    email: str | None = None,
    lang: str = "vi",
) -> int:
    with Session(engine) as session:
        new_id = enqueue_message(
            session, template, params or OTP, now=NOW, phone=PHONE, email=email,
            channel=channel, lang=lang,
        )  # fmt: skip
        session.commit()
    assert new_id is not None
    return new_id


def _row(engine: Engine, message_id: int) -> Notification:
    with Session(engine) as session:
        row = session.get(Notification, message_id)
        assert row is not None
        session.expunge(row)
        return row


def test_sms_gateway_delivers_with_idempotency_key(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)
    message_id = _enqueue(engine)
    assert deliver_message(engine, settings, message_id, NOW) == "sent"
    row = _row(engine, message_id)
    assert (row.status, row.sent_via, row.attempts, row.sent_at) == (
        NotificationStatus.sent, "sms", 1, NOW,
    )  # fmt: skip
    [request] = gateway.requests
    body = gateway.json()
    assert request["path"] == "/sms"
    assert body["to"] == PHONE and body["brandname"] == "BUUDIEN"
    assert body["message"].startswith("Mã xác nhận 654321 cho bưu gửi EB123456785VN")
    assert "hiệu lực 10 phút" in body["message"]  # the diacritics arrive intact
    assert body["tracking_id"] == row.message_id
    assert request["headers"]["Idempotency-Key"] == row.message_id
    expected = base64.b64encode(b"postal:s3cret").decode()
    assert request["headers"]["Authorization"] == f"Basic {expected}"


def test_zalo_zns_delivers_template_and_parameters(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway, zalo=True)
    message_id = _enqueue(engine, channel=ContactChannel.zalo)
    assert deliver_message(engine, settings, message_id, NOW) == "sent"
    row = _row(engine, message_id)
    assert row.sent_via == "zalo"
    [request] = gateway.requests
    assert request["path"] == "/zns"
    assert request["headers"]["access_token"] == "zalo-token"
    assert request["headers"]["Idempotency-Key"] == row.message_id
    assert gateway.json() == {
        "phone": "84912345678",
        "template_id": "284011",
        "template_data": {"otp": "654321", "number": "EB123456785VN", "minutes": "10"},
        "tracking_id": row.message_id,
    }


def test_zalo_error_in_a_200_reply_is_a_refusal(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway, zalo=True)
    gateway.replies.append((200, '{"error": -124, "message": "Số điện thoại không hợp lệ"}'))
    message_id = _enqueue(engine, channel=ContactChannel.zalo)
    assert deliver_message(engine, settings, message_id, NOW) == "dead"
    assert "Số điện thoại không hợp lệ" in (_row(engine, message_id).last_error or "")


def test_email_by_smtp(engine: Engine, smtp: Mailbox) -> None:
    settings = _settings(engine, smtp=smtp)
    message_id = _enqueue(engine, channel=ContactChannel.email, email="an.nguyen@example.vn")
    assert deliver_message(engine, settings, message_id, NOW) == "sent"
    row = _row(engine, message_id)
    assert row.sent_via == "email"
    [mail] = smtp.messages
    assert smtp.recipients == [["an.nguyen@example.vn"]]
    assert mail["Message-ID"] == f"<{row.message_id}@buudien.vn>"
    assert mail["From"] == "noreply@buudien.vn"
    assert str(mail["Subject"]).startswith("Mã xác nhận 654321")
    content = mail.get_content()
    assert "Mã xác nhận 654321 cho bưu gửi EB123456785VN, hiệu lực 10 phút" in content


def test_smtp_refusal_is_dead_with_reason_but_no_address(engine: Engine, smtp: Mailbox) -> None:
    smtp.refuse = "550 5.1.1 mailbox unavailable"
    settings = _settings(engine, smtp=smtp)
    message_id = _enqueue(engine, channel=ContactChannel.email, email="an.nguyen@example.vn")
    assert deliver_message(engine, settings, message_id, NOW) == "dead"
    error = _row(engine, message_id).last_error or ""
    assert "550" in error and "mailbox unavailable" in error
    assert "an.nguyen" not in error


def test_gateway_4xx_dead_letters_with_the_gateway_reason(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)
    gateway.replies.append((400, '{"error": "Brandname chưa được đăng ký"}'))
    message_id = _enqueue(engine)
    assert deliver_message(engine, settings, message_id, NOW) == "dead"
    row = _row(engine, message_id)
    assert row.status == NotificationStatus.dead and row.attempts == 1
    assert row.last_error is not None and "HTTP 400" in row.last_error
    assert "Brandname chưa được đăng ký" in row.last_error
    with Session(engine) as session:
        assert due_messages(session, NOW + dt.timedelta(days=1), 10) == []


def test_gateway_5xx_is_retried_later_then_sent(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)
    gateway.replies.append((503, "overloaded"))
    message_id = _enqueue(engine)
    assert deliver_message(engine, settings, message_id, NOW) == "retry"
    row = _row(engine, message_id)
    assert row.status == NotificationStatus.pending and row.attempts == 1
    assert row.last_error == "HTTP 503: overloaded"
    # Jittered exponential back-off: between half and all of the 30 s base delay.
    assert NOW + dt.timedelta(seconds=15) <= row.next_attempt_at <= NOW + dt.timedelta(seconds=30)
    with Session(engine) as session:
        assert due_messages(session, NOW, 10) == []
        assert due_messages(session, row.next_attempt_at, 10) == [message_id]
    assert deliver_message(engine, settings, message_id, NOW) == "skipped"  # not due yet
    assert deliver_message(engine, settings, message_id, row.next_attempt_at) == "sent"
    keys = [r["headers"]["Idempotency-Key"] for r in gateway.requests]
    assert keys == [row.message_id, row.message_id]  # the re-send is recognisable


def test_timeout_is_retried(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway, message_timeout_s=0.3)
    gateway.replies.append((0, ""))  # hang
    message_id = _enqueue(engine)
    assert deliver_message(engine, settings, message_id, NOW) == "retry"
    assert "timeout" in (_row(engine, message_id).last_error or "")


def test_dead_after_max_attempts(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway, message_max_attempts=3)
    gateway.default = (500, "internal error")
    message_id = _enqueue(engine)
    outcomes = []
    when = NOW
    for _ in range(4):
        outcomes.append(deliver_message(engine, settings, message_id, when))
        when = _row(engine, message_id).next_attempt_at
    assert outcomes == ["retry", "retry", "dead", "skipped"]
    row = _row(engine, message_id)
    assert row.status == NotificationStatus.dead and row.attempts == 3
    assert row.last_error == "HTTP 500: internal error"
    assert len(gateway.requests) == 3


def test_unconfigured_channel_waits_and_is_not_dropped(engine: Engine, gateway: Gateway) -> None:
    bare = make_settings(str(engine.url))
    assert configured_channels(bare) == frozenset()
    message_id = _enqueue(engine, channel=ContactChannel.zalo)
    assert deliver_message(engine, bare, message_id, NOW) == "waiting"
    row = _row(engine, message_id)
    assert row.status == NotificationStatus.pending and row.attempts == 0
    assert row.next_attempt_at == NOW + dt.timedelta(seconds=bare.message_unconfigured_wait_s)
    assert "no configured channel" in (row.last_error or "")
    # Once SMS is configured, the waiting message goes (by SMS: Zalo still is not).
    later = row.next_attempt_at
    assert deliver_message(engine, _settings(engine, gateway), message_id, later) == "sent"
    assert _row(engine, message_id).sent_via == "sms"
    assert len(gateway.requests) == 1


def test_preference_falls_back_to_sms(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)  # SMS only
    by_email = _enqueue(engine, channel=ContactChannel.email, email="an@example.vn")
    by_zalo = _enqueue(engine, channel=ContactChannel.zalo)
    assert deliver_message(engine, settings, by_email, NOW) == "sent"
    assert deliver_message(engine, settings, by_zalo, NOW) == "sent"
    assert [_row(engine, i).sent_via for i in (by_email, by_zalo)] == ["sms", "sms"]
    # Zalo configured but without a ZNS template for this message: SMS too.
    zalo = _settings(engine, gateway, zalo=True)
    params = {"reference": "HS-1", "number": "EB1", "picked_up_at": "09:00", "desk_name": "MC"}
    picked = _enqueue(engine, "picked_up", params, channel=ContactChannel.zalo)
    assert deliver_message(engine, zalo, picked, NOW) == "sent"
    assert _row(engine, picked).sent_via == "sms"


def test_duplicate_deliver_sends_once(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)
    message_id = _enqueue(engine)
    assert deliver_message(engine, settings, message_id, NOW) == "sent"
    assert deliver_message(engine, settings, message_id, NOW) == "skipped"
    assert deliver_message(engine, settings, message_id, NOW + dt.timedelta(hours=1)) == "skipped"
    assert len(gateway.requests) == 1


def test_concurrent_deliveries_send_once(pg_engine: Engine, gateway: Gateway) -> None:
    """Two workers given the same message at once (PostgreSQL, real row locks)."""
    settings = _settings(pg_engine, gateway)
    gateway.delay_s = 0.2
    message_id = _enqueue(pg_engine)
    outcomes: list[str] = []
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        outcomes.append(deliver_message(pg_engine, settings, message_id, NOW))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["sent", "skipped", "skipped"]
    assert len(gateway.requests) == 1


def test_sender_dead_after_claim_is_taken_again(engine: Engine, gateway: Gateway) -> None:
    """A worker killed between its claim and its record leaves the row 'sending': after the
    claim timeout it is delivered again, with the same idempotency key."""
    settings = _settings(engine, gateway)
    message_id = _enqueue(engine)
    with Session(engine) as session:
        row = session.get(Notification, message_id)
        assert row is not None
        row.status, row.claimed_at = NotificationStatus.sending, NOW
        session.add(row)
        session.commit()
    assert deliver_message(engine, settings, message_id, NOW) == "skipped"  # still leased
    later = NOW + dt.timedelta(seconds=settings.message_claim_timeout_s)
    with Session(engine) as session:
        timeout = settings.message_claim_timeout_s
        assert due_messages(session, NOW, 10, claim_timeout_s=timeout) == []
        assert due_messages(session, later, 10, claim_timeout_s=timeout) == [message_id]
    assert deliver_message(engine, settings, message_id, later) == "sent"
    assert gateway.requests[0]["headers"]["Idempotency-Key"] == _row(engine, message_id).message_id


def test_english_message(engine: Engine, gateway: Gateway) -> None:
    settings = _settings(engine, gateway)
    message_id = _enqueue(engine, lang="en")
    assert deliver_message(engine, settings, message_id, NOW) == "sent"
    assert gateway.json()["message"].startswith("Your one-time code 654321")
    with Session(engine) as session:
        assert session.exec(select(Notification.lang)).all() == ["en"]
