"""The desk clerk's page and the printed handover record: refusing foreign or wrong-state
items, never offering an item twice, today's expected list (search, confirm selected), the
official PDF and its public verification page."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, col, select

from postal.auth.models import Role, StaffUser
from postal.auth.service import create_user
from postal.booking.models import Booking, Item, ItemState
from postal.catalogue.models import Procedure
from postal.config import Settings
from postal.errors import Conflict
from postal.tracking import handover
from postal.tracking.models import HandoverLine, LineStatus, RecordDirection
from postal.tracking.schemas import RecordOpen
from tests.conftest import NOW
from tests.tracking.helpers import World, book_dossier, pickup_body, record, world

COURIER_NAME = "Bưu tá Nguyễn Văn Tâm"
CLERK_NAME = "Cán bộ một cửa Lê Thị Hoa"
FOREIGN_DESK = "Bộ phận Một cửa Phường Ngọc Hà"


def _world(session: Session, settings: Settings) -> World:
    w = world(session, settings)
    for username, name in (("courier1", COURIER_NAME), ("clerk1", CLERK_NAME)):
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).one()
        user.full_name = name
        session.add(user)
    session.commit()
    return w


def _book(session: Session, settings: Settings, **overrides: Any) -> Item:
    """Another dossier booking (MC-00004 unless told): its dossier item."""
    return book_dossier(session, settings, **overrides)[1]


def _pick_up(session: Session, settings: Settings, w: World, item: Item) -> None:
    booking = session.get(Booking, item.booking_id)
    other = SimpleNamespace(booking=booking, dossier=item)
    [res] = record(session, settings, w.courier, pickup_body(session, other))  # type: ignore[arg-type]
    assert res.status == "recorded", res


def _open(session: Session, w: World, *items: Item) -> int:
    rec = handover.open_record(
        session,
        w.courier,
        RecordOpen(
            direction=RecordDirection.courier_to_desk,
            desk_code="MC-00004",
            item_numbers=[i.number for i in items],
        ),
        NOW,
    )
    session.commit()
    assert rec.id is not None
    return rec.id


def _login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/staff/login",
        data={"username": username, "password": "password123"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _lines(session: Session, record_id: int) -> list[tuple[str, LineStatus]]:
    session.expire_all()
    rows = session.exec(
        select(HandoverLine)
        .where(HandoverLine.record_id == record_id)
        .order_by(col(HandoverLine.id))
    ).all()
    session.commit()
    return [(ln.item_number, ln.status) for ln in rows]


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _checkbox(number: str) -> str:
    return f'name="item_numbers" value="{number}"'


def test_foreign_or_wrong_state_item_is_refused_in_red_naming_desk_and_state(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    _pick_up(session, settings, w, w.dossier)
    rid = _open(session, w, w.dossier)
    foreign = _book(session, settings, desk_code="MC-00008", commune_code="00008")
    own_booked = _book(session, settings)
    # Plain values: a rollback expires the rows, and reading them again would open a
    # transaction on the connection the app shares (in-memory SQLite).
    foreign_no, own_no, dossier_no, foreign_id = (
        foreign.number,
        own_booked.number,
        w.dossier.number,
        foreign.id,
    )

    # In the domain: refused with the item's real desk and state, nothing written.
    with pytest.raises(Conflict) as exc:
        handover.confirm_line(session, w.clerk, rid, foreign_no, LineStatus.received, NOW)
    session.rollback()
    assert exc.value.code == "item_of_desk_elsewhere"
    assert exc.value.params["desk"] == FOREIGN_DESK
    assert exc.value.params["state"] == "booked"
    with pytest.raises(Conflict) as exc:
        handover.confirm_line(session, w.clerk, rid, own_no, LineStatus.received, NOW)
    session.rollback()
    assert exc.value.code == "item_not_receivable"

    _login(client, "clerk1")
    page = client.post(f"/desk/records/{rid}/lines", data={"item_number": foreign_no})
    assert page.status_code == 409
    alert = re.search(r'<div class="alert" role="alert" id="error">([^<]*)</div>', page.text)
    assert alert is not None, page.text
    assert FOREIGN_DESK in alert.group(1) and "MC-00008" in alert.group(1)
    assert "Chờ bưu tá đến nhận" in alert.group(1)  # the state, by its label
    assert 'role="status"' not in page.text and "Đã xác nhận bưu gửi" not in page.text
    assert "Không có trong biên bản" not in page.text
    english = client.post(f"/desk/records/{rid}/lines?lang=en", data={"item_number": foreign_no})
    assert english.status_code == 409
    assert f"belongs to {FOREIGN_DESK} (MC-00008)" in english.text
    assert "“Waiting for the courier”" in english.text
    wrong_state = client.post(f"/desk/records/{rid}/lines?lang=vi", data={"item_number": own_no})
    assert wrong_state.status_code == 409
    assert 'role="alert"' in wrong_state.text and "Chờ bưu tá đến nhận" in wrong_state.text
    assert _lines(session, rid) == [(dossier_no, LineStatus.pending)]
    session.expire_all()
    assert session.get(Item, foreign_id).state == ItemState.booked  # type: ignore[union-attr]
    session.commit()


def test_items_in_an_open_record_are_not_offered_again(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    _login(client, "clerk1")
    assert client.post("/desk/ready", data={"item_number": w.result.number}).status_code == 200
    page = client.get("/desk")
    assert _checkbox(w.result.number) in page.text
    opened = client.post(
        "/desk/handover",
        data={"item_numbers": w.result.number, "courier_username": "courier1"},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    for path in ("/desk", opened.headers["location"]):
        again = client.get(path)
        assert _checkbox(w.result.number) not in again.text
        assert 'id="nothing-outgoing"' in again.text
    assert handover.expected_today(session, "MC-00004").outgoing == []
    session.commit()
    twice = client.post(
        "/desk/handover", data={"item_numbers": w.result.number, "courier_username": "courier1"}
    )
    assert twice.status_code == 422 and 'role="alert"' in twice.text
    assert "Bưu gửi đã có trong một biên bản đang mở." in twice.text


def test_expected_list_search_select_and_confirm_with_one_missing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    second = _book(session, settings)
    loose = _book(session, settings)  # picked up, no record from the courier yet
    for item in (w.dossier, second, loose):
        _pick_up(session, settings, w, item)
    rid = _open(session, w, w.dossier, second)
    ref = session.get(Booking, second.booking_id).reference  # type: ignore[union-attr]
    proc = session.get(Procedure, second.procedure_code)
    assert proc is not None
    # Plain values: the app shares the in-memory SQLite connection with this session.
    first_no, second_no, loose_no, word = (
        w.dossier.number,
        second.number,
        loose.number,
        proc.name.split()[0].lower(),  # a word of the procedure, any case
    )
    session.commit()

    _login(client, "clerk1")
    page = client.get("/desk")
    incoming = page.text.split('id="incoming"')[1].split("</ul>")[0]
    for number in (first_no, second_no, loose_no):
        assert f'data-item="{number}"' in incoming
    assert _checkbox(first_no) in incoming and _checkbox(second_no) in incoming
    assert _checkbox(loose_no) not in incoming  # nothing to confirm it against yet
    assert "Bưu tá chưa lập biên bản" in incoming and COURIER_NAME in incoming
    assert 'data-select-all id="select-all-incoming"' in page.text
    # The sign-out of the shared staff menu is on the page.
    assert 'id="staff-menu"' in page.text and 'action="/staff/logout"' in page.text

    found = client.get("/desk", params={"q": ref.lower()})
    listed = re.findall(r'data-item="([A-Z0-9]+)"', found.text)
    assert listed == [second_no]
    assert set(
        re.findall(
            r'data-item="([A-Z0-9]+)"', client.get("/desk", params={"q": second_no[2:8]}).text
        )
    ) == {second_no}
    assert second_no in client.get("/desk", params={"q": word}).text
    assert 'id="nothing-found"' in client.get("/desk", params={"q": "khong-co-gi"}).text

    done = client.post(
        "/desk/confirm",
        data={
            "item_numbers": [first_no, second_no],
            f"finding_{second_no}": "missing",
            f"note_{second_no}": "Bưu tá không mang theo",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/desk/records/{rid}?done=many&n=2"
    assert _lines(session, rid) == [
        (first_no, LineStatus.received),
        (second_no, LineStatus.missing),
    ]
    shown = client.get(done.headers["location"])
    assert "Đã xác nhận 2 bưu gửi." in shown.text
    assert 'id="staff-menu"' in shown.text and 'action="/staff/logout"' in shown.text
    # A ticked item in no open record: refused in red, and nothing else is written either.
    refused = client.post("/desk/confirm", data={"item_numbers": [loose_no]})
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    assert loose_no in refused.text


def test_couriers_are_offered_in_vietnamese_dictionary_order(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    office = [w.booking.post_office_code]
    # Code point order (and user names) put Hà before Đinh; a dictionary puts Đ after D.
    for username, name in (
        ("a_ha", "Hà Văn Minh"),
        ("b_dinh", "Đinh Văn Bảo"),
        ("c_dung", "Dương Thị Lan"),
    ):
        create_user(
            session,
            username=username,
            password="password123",
            role=Role.courier,
            full_name=name,
            post_office_codes=office,
        )
    session.commit()
    _login(client, "clerk1")
    client.post("/desk/ready", data={"item_number": w.result.number})
    page = client.get("/desk").text
    options = re.findall(
        r'<option value="[^"]+">([^<(]+) \(', page.split('id="courier_username"')[1]
    )
    names = [o.strip() for o in options]
    assert names.index("Dương Thị Lan") < names.index("Đinh Văn Bảo") < names.index("Hà Văn Minh")


def test_printed_record_is_official_and_verifiable(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    second = _book(session, settings)
    for item in (w.dossier, second):
        _pick_up(session, settings, w, item)
    rid = _open(session, w, w.dossier, second)
    _login(client, "clerk1")
    client.post(f"/desk/records/{rid}/lines", data={"item_number": w.dossier.number})
    client.post(
        f"/desk/records/{rid}/lines",
        data={"item_number": second.number, "status": "seal_damaged", "note": "Rách góc"},
    )
    client.post(f"/desk/records/{rid}/close")
    client.post(f"/desk/records/{rid}/sign", data={"typed_name": CLERK_NAME})

    response = client.get(f"/api/v1/handover-records/{rid}/pdf")
    assert response.status_code == 200
    text = _pdf_text(response.content)
    flat = " ".join(text.split())
    for expected in (
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BIÊN BẢN GIAO NHẬN HỒ SƠ",
        f"Số: BBGN-{rid:06d}",
        COURIER_NAME,
        CLERK_NAME,
        "Nhân viên bưu chính (bưu tá)",
        "Cán bộ một cửa",
        "Bộ phận Một cửa Phường Ba Đình (MC-00004)",
        "Bưu cục",
        "Số niêm phong",
        "Đã nhận",
        "Hỏng niêm phong: Rách góc",
        "BÊN GIAO",
        "BÊN NHẬN",
        "(Ký, ghi rõ họ tên)",
        "đã nhận 1, thiếu 0, hỏng niêm phong 1",
    ):
        assert expected in flat, (expected, flat)
    assert "Ngày hẹn trả" not in flat  # a dossier has no "result due" column of its own
    assert "courier1" not in flat and "clerk1" not in flat  # people by full name only
    digest = re.search(r"\b[0-9a-f]{64}\b", text)
    assert digest is not None
    # The verification page (the QR code's target) is public and shows no personal data.
    client.cookies.clear()
    ok = client.get(f"/verify/handover/BBGN-{rid:06d}", params={"h": digest.group(0)})
    assert ok.status_code == 200
    assert 'data-valid="true"' in ok.text and f"BBGN-{rid:06d}" in ok.text
    assert digest.group(0) in ok.text and "Tổng cộng 2 bưu gửi" in ok.text
    for private in (COURIER_NAME, CLERK_NAME, "Nguyễn Văn An", w.dossier.number):
        assert private not in ok.text
    tampered = digest.group(0)[:-1] + ("0" if digest.group(0)[-1] != "0" else "1")
    bad = client.get(f"/verify/handover/BBGN-{rid:06d}", params={"h": tampered})
    assert bad.status_code == 404 and 'data-valid="false"' in bad.text
    assert "Không hợp lệ" in bad.text and digest.group(0) not in bad.text
    assert client.get("/verify/handover/BBGN-999999?h=" + "0" * 64).status_code == 404
    english = client.get(f"/verify/handover/BBGN-{rid:06d}", params={"h": tampered, "lang": "en"})
    assert "Not valid" in english.text


def test_printed_result_record_has_the_result_columns(
    client: TestClient, session: Session, settings: Settings
) -> None:
    w = _world(session, settings)
    _login(client, "clerk1")
    client.post("/desk/ready", data={"item_number": w.result.number})
    opened = client.post(
        "/desk/handover",
        data={"item_numbers": w.result.number, "courier_username": "courier1"},
        follow_redirects=False,
    )
    rid = int(opened.headers["location"].split("/")[-1].split("?")[0])
    flat = " ".join(_pdf_text(client.get(f"/api/v1/handover-records/{rid}/pdf").content).split())
    assert "BIÊN BẢN GIAO NHẬN KẾT QUẢ" in flat and "Ngày giao dân" in flat
    assert "Số niêm phong" not in flat and "Chưa xác nhận" in flat
    giver = flat.index("Bên giao")
    assert flat.index(CLERK_NAME, giver) < flat.index(COURIER_NAME, giver)  # the desk gives
