"""The staff's outbox API and page, the booking's contact preference, and webhooks."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import create_user, login
from postal.config import Settings
from postal.notify import webhooks
from postal.notify.models import (
    ContactChannel,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    WebhookDelivery,
)
from tests.booking.helpers import booking_body
from tests.conftest import NOW
from tests.notify.conftest import Gateway
from tests.tracking.helpers import world


def _auth(session: Session, username: str) -> dict[str, str]:
    token, _ = login(session, username, "password123", 12)
    session.commit()
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _mark(session: Session, status: NotificationStatus) -> Notification:
    row = session.exec(select(Notification)).one()
    row.status, row.attempts, row.last_error = status, 8, "HTTP 500: gateway down"
    session.add(row)
    session.commit()
    return row


def test_messages_api_roles_masking_and_resend(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = world(session, settings)  # writes the booking confirmation
    create_user(
        session, username="disp1", password="password123", role=Role.dispatcher,
        full_name="Disp", post_office_codes=[w.booking.post_office_code],
    )  # fmt: skip
    other = "116500" if w.booking.post_office_code != "116500" else "115100"
    session.commit()
    row = _mark(session, NotificationStatus.dead)
    admin, courier = _auth(session, "admin1"), _auth(session, "courier1")
    dispatcher = _auth(session, "disp1")

    page = client.get("/api/v1/messages", params={"status": "dead"}, headers=admin).json()
    [item] = page["items"]
    assert item["id"] == row.id and item["template"] == "booking_confirmed"
    assert item["booking_reference"] == w.booking.reference
    assert item["last_error"] == "HTTP 500: gateway down"
    assert "912345678" not in json.dumps(page) and "body" not in item  # masked, no text
    assert client.get("/api/v1/messages", headers=dispatcher).json()["items"][0]["id"] == row.id
    assert client.get("/api/v1/messages", params={"status": "sent"}, headers=admin).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert client.get("/api/v1/messages", headers=courier).status_code == 403
    assert client.get("/api/v1/messages").status_code == 401
    bad = client.get("/api/v1/messages", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"

    for path in ("/api/v1/messages/0/resend", f"/api/v1/messages/{2**31}/resend"):
        assert client.post(path, headers=admin).status_code == 422
    missing = client.post("/api/v1/messages/999999/resend", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_message")
    assert client.post(f"/api/v1/messages/{row.id}/resend", headers=courier).status_code == 403

    first = client.post(f"/api/v1/messages/{row.id}/resend", headers=dispatcher)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["attempts"]) == ("pending", 0)
    again = client.post(f"/api/v1/messages/{row.id}/resend", headers=admin)
    assert again.status_code == 200 and again.json()["status"] == "pending"  # idempotent
    session.expire_all()
    _mark(session, NotificationStatus.sent)
    sent = client.post(f"/api/v1/messages/{row.id}/resend", headers=admin)
    assert (sent.status_code, sent.json()["code"]) == (409, "message_already_sent")

    # A dispatcher of another post office sees nothing of it, and cannot re-send it.
    create_user(
        session, username="disp2", password="password123", role=Role.dispatcher,
        full_name="Disp2", post_office_codes=[other],
    )  # fmt: skip
    session.commit()
    stranger = _auth(session, "disp2")
    assert client.get("/api/v1/messages", headers=stranger).json()["items"] == []
    hidden = client.post(f"/api/v1/messages/{row.id}/resend", headers=stranger)
    assert hidden.status_code == 404


def test_staff_page_lists_dead_messages_with_a_resend_button(
    client: TestClient, session: Session, settings: Settings
) -> None:
    world(session, settings)
    row = _mark(session, NotificationStatus.dead)
    assert client.get("/staff/messages", follow_redirects=False).status_code == 303
    reply = client.post(
        "/staff/login", data={"username": "admin1", "password": "password123"},
        follow_redirects=False,
    )  # fmt: skip
    assert reply.status_code == 303
    page = client.get("/staff/messages?lang=vi")
    assert page.status_code == 200
    assert f'action="/staff/messages/{row.id}/resend"' in page.text
    assert "HTTP 500: gateway down" in page.text and "912345678" not in page.text
    assert "Kênh chưa được cấu hình" in page.text  # no channel is configured in the tests
    done = client.post(f"/staff/messages/{row.id}/resend", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("done=resent")
    session.expire_all()
    assert session.get(Notification, row.id).status == NotificationStatus.pending  # type: ignore[union-attr]
    session.commit()
    client.cookies.clear()
    client.post("/staff/login", data={"username": "courier1", "password": "password123"})
    assert client.get("/staff/messages", follow_redirects=False).status_code == 303


def test_booking_contact_preference_is_validated(client: TestClient, session: Session) -> None:
    no_email = client.post(
        "/api/v1/bookings", json=booking_body(session, contact_channel="email"),
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert no_email.status_code == 422
    assert [(e["field"], e["code"]) for e in no_email.json()["errors"]] == [
        ("email", "email_required")
    ]
    bad = client.post("/api/v1/bookings", json=booking_body(session, email="an@@x"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    assert bad.json()["code"] == "invalid_email"
    wrong = client.post("/api/v1/bookings", json=booking_body(session, contact_channel="fax"))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "contact_channel"
    ok = client.post(
        "/api/v1/bookings",
        json=booking_body(
            session, contact_channel="email", email="an.nguyen@example.vn", lang="en"
        ),
    )
    assert ok.status_code == 201, ok.text
    assert (
        ok.json()["contact_channel"] == "email" and ok.json()["email_masked"] == "a***@example.vn"
    )
    row = session.exec(select(Notification)).one()
    session.commit()
    assert (row.channel, row.email, row.lang) == (
        ContactChannel.email,
        "an.nguyen@example.vn",
        "en",
    )
    assert row.body.startswith("The post confirms booking")


def test_booking_form_takes_email_and_channel(client: TestClient, session: Session) -> None:
    form = {k: str(v) for k, v in booking_body(session).items()}
    page = client.get("/")
    assert 'name="contact_channel"' in page.text and 'name="email"' in page.text
    refused = client.post("/", data={**form, "contact_channel": "email"})
    assert refused.status_code == 422 and 'id="email-error"' in refused.text
    done = client.post(
        "/", data={**form, "contact_channel": "zalo", "email": ""}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    row = session.exec(select(Notification)).one()
    session.commit()
    assert row.channel == ContactChannel.zalo and row.lang == "vi"


def test_webhooks_signed_dead_lettered_and_resent(
    client: TestClient, session: Session, settings: Settings, engine: Engine, gateway: Gateway
) -> None:
    webhooks.add_endpoint(session, f"{gateway.url}/hook", "hook-secret")
    webhooks.enqueue(session, "item.delivered", {"item_number": "EB123456785VN"}, NOW)
    session.commit()
    w = world(session, settings)
    delivery = session.exec(select(WebhookDelivery)).one()
    session.commit()
    assert delivery.id is not None
    gateway.replies.append((410, "endpoint retired"))
    assert webhooks.deliver_webhook(engine, settings, delivery.id, NOW) == "dead"
    session.refresh(delivery)
    session.commit()
    assert delivery.status == DeliveryStatus.dead
    assert delivery.last_error == "HTTP 410: endpoint retired"

    admin = _auth(session, "admin1")
    listed = client.get("/api/v1/webhook-deliveries", params={"status": "dead"}, headers=admin)
    assert [d["id"] for d in listed.json()["items"]] == [delivery.id]
    courier = _auth(session, "courier1")
    assert client.get("/api/v1/webhook-deliveries", headers=courier).status_code == 403
    resent = client.post(f"/api/v1/webhook-deliveries/{delivery.id}/resend", headers=admin)
    assert resent.status_code == 200 and resent.json()["status"] == "pending"

    assert webhooks.deliver_webhook(engine, settings, delivery.id, NOW) == "sent"
    request = gateway.requests[-1]
    assert request["headers"]["X-Postal-Delivery"] == delivery.delivery_id
    assert request["headers"]["Idempotency-Key"] == delivery.delivery_id
    assert webhooks.verify_signature(
        "hook-secret", request["headers"]["X-Postal-Signature"], request["body"],
        int(NOW.timestamp()),
    )  # fmt: skip
    assert json.loads(request["body"]) == {"item_number": "EB123456785VN"}
    again = client.post(f"/api/v1/webhook-deliveries/{delivery.id}/resend", headers=admin)
    assert (again.status_code, again.json()["code"]) == (409, "webhook_already_delivered")
    assert w.booking.reference
