"""Citizen pages without JavaScript: book, confirmation, my booking, reschedule, cancel."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from postal.booking.models import Booking
from tests.booking.helpers import booking_body


def _form(session: Session, **overrides: str) -> dict[str, str]:
    return {k: str(v) for k, v in booking_body(session, **overrides).items()}


def test_form_is_vietnamese_with_english_switch(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text and "Đăng ký" in page.text
    assert 'name="procedure_code"' in page.text and 'name="commune_code"' in page.text
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Book" in english.text
    assert english.cookies.get("lang") == "en"


def test_invalid_form_shows_inline_messages_and_keeps_values(
    client: TestClient, session: Session
) -> None:
    r = client.post("/", data=_form(session, phone="123", id_number="99"))
    assert r.status_code == 422
    assert 'id="phone-error"' in r.text and "Số điện thoại không hợp lệ." in r.text
    assert 'id="id_number-error"' in r.text
    assert 'value="Nguyễn Văn An"' in r.text
    assert session.exec(select(func.count()).select_from(Booking)).one() == 0
    session.rollback()


def test_book_confirm_reschedule_and_cancel(client: TestClient, session: Session) -> None:
    r = client.post("/", data=_form(session), follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"].split("?")[0]
    confirmation = client.get(r.headers["location"])
    text = confirmation.text
    assert "Đăng ký thành công" in text
    assert re.search(r"HS-[0-9A-Z]{8}", text)
    # Each item number shows as a tracking link (and under its QR code).
    assert len(set(re.findall(r"EB\d{9}VN", text))) == 2
    assert "44.000 đ" in text and "Giấy tờ cần chuẩn bị" in text
    assert "001*******99" in text and "001084000999" not in text
    moved = client.post(f"{url}/reschedule", data={"date": "2026-12-09", "slot": "afternoon"})
    assert moved.status_code == 200 and "Đã đổi lịch hẹn." in moved.text
    assert "09/12/2026" in moved.text
    bad = client.post(f"{url}/reschedule", data={"date": "2026-12-13", "slot": "morning"})
    assert bad.status_code == 422 and 'id="date-error"' in bad.text
    # Cancelling takes a confirmation step.
    cancelled = client.post(f"{url}/cancel", data={"reason": "đổi ý", "confirm": "yes"})
    assert "Yêu cầu đã được huỷ." in cancelled.text and "Đã huỷ" in cancelled.text
    assert 'action="' + url + "/cancel" not in cancelled.text
    assert client.get("/my-booking/cz_unknown").status_code == 404


def test_staff_sign_in_sets_a_secure_session_cookie(client: TestClient, session: Session) -> None:
    from postal.auth.models import Role
    from postal.auth.service import create_user

    create_user(
        session,
        username="hoa",
        password="secret-pass-1",
        role=Role.clerk,
        full_name="Lê Thị Hoa",
        desk_code="MC-00004",
    )
    session.commit()
    assert client.post("/", data=_form(session), follow_redirects=False).status_code == 303
    assert client.get("/staff", follow_redirects=False).headers["location"] == "/staff/login"
    wrong = client.post("/staff/login", data={"username": "hoa", "password": "nope"})
    assert wrong.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in wrong.text
    ok = client.post(
        "/staff/login",
        data={"username": "hoa", "password": "secret-pass-1"},
        follow_redirects=False,
    )
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    home = client.get("/staff?date=2026-12-08")
    assert home.status_code == 200 and "1 yêu cầu" in home.text
    assert re.search(r"EB\d{9}VN", home.text)
    client.post("/staff/logout")
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_sign_in_returns_to_the_page_asked_for(client: TestClient, session: Session) -> None:
    from postal.auth.models import Role
    from postal.auth.service import create_user

    create_user(session, username="admin", password="secret-pass-1", role=Role.admin, full_name="A")
    session.commit()
    form = client.get("/staff/login?next=/dispatcher")
    assert 'name="next" value="/dispatcher"' in form.text
    ok = client.post(
        "/staff/login",
        data={"username": "admin", "password": "secret-pass-1", "next": "/dispatcher"},
        follow_redirects=False,
    )
    assert ok.headers["location"] == "/dispatcher"
    evil = client.post(
        "/staff/login",
        data={"username": "admin", "password": "secret-pass-1", "next": "//evil.example"},
        follow_redirects=False,
    )
    assert evil.headers["location"] == "/staff"
