"""The citizen pages without a browser: every field error at once, cancel confirmation,
reschedule errors on the changed field, progress, find-booking, tracking links, the fee while
filling the form, QR and print, help line, dictionary order, English names."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from postal.booking.models import Booking, Item, ItemState, SlotLoad
from postal.booking.names import document_names_en
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind, PostOffice
from postal.collation import sort_key
from postal.config import REPO_ROOT
from postal.ids import parse_s10
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY

SUNDAY = "2026-12-13"
HOTLINE = "1900 54 54 81"


def _form(session: Session, **overrides: str) -> dict[str, str]:
    return {k: str(v) for k, v in booking_body(session, **overrides).items()}


def _book(client: TestClient, session: Session, **overrides: str) -> str:
    r = client.post("/", data=_form(session, **overrides), follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).split("?")[0]


def _fill(session: Session, office: PostOffice, slot: str) -> None:
    """Every place of the office's half day on NEXT_DAY taken."""
    load = SlotLoad(
        post_office_code=office.code,
        date=NEXT_DAY,
        slot=slot,  # type: ignore[arg-type]
        booked=office.slot_capacity,
    )
    session.add(load)
    session.commit()


def _options(html: str, select_id: str) -> list[str]:
    block = html.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return [unescape(t) for t in re.findall(r'<option value="[^"]+"[^>]*>([^<]+)</option>', block)]


def test_every_field_error_shows_at_once_with_a_summary(
    client: TestClient, session: Session
) -> None:
    # A missing name, a malformed phone and ID number and a Sunday: one round, four messages.
    r = client.post(
        "/", data=_form(session, citizen_name="", phone="123", id_number="99", date=SUNDAY)
    )
    assert r.status_code == 422
    for field in ("citizen_name", "phone", "id_number", "date"):
        assert f'id="{field}-error"' in r.text, field
        assert f'<a href="#{field}">' in r.text, field
    assert "Có 4 mục cần sửa:" in r.text
    assert "Số điện thoại không hợp lệ." in r.text and "Vui lòng nhập trường này." in r.text
    assert "không phải ngày làm việc" in r.text
    # The form leaves checking to the server and keeps its input hints.
    assert "novalidate" in r.text and 'inputmode="tel"' in r.text and 'autocomplete="tel"' in r.text
    # A missing radio choice is linked to its first button.
    r = client.post("/", data={k: v for k, v in _form(session).items() if k != "slot"})
    assert '<a href="#slot-morning">' in r.text and 'id="slot-morning"' in r.text


def test_cancel_takes_a_confirmation_step(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    page = client.get(url)
    assert f'href="{url}/cancel"' in page.text and f'action="{url}/cancel' not in page.text
    confirm = client.get(f"{url}/cancel")
    assert confirm.status_code == 200 and "Bạn chắc chắn muốn huỷ?" in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text and f'href="{url}"' in confirm.text
    # A post without the confirmation (one tap on an old form) only shows the question.
    unconfirmed = client.post(f"{url}/cancel", data={"reason": "x"})
    assert "Bạn chắc chắn muốn huỷ?" in unconfirmed.text
    assert "Đã huỷ" not in client.get(url).text
    done = client.post(f"{url}/cancel", data={"confirm": "yes"})
    assert "Yêu cầu đã được huỷ." in done.text and "Đã huỷ" in done.text


def test_a_refused_reschedule_shows_on_the_changed_field_and_keeps_the_choice(
    client: TestClient, session: Session
) -> None:
    url = _book(client, session)
    bad = client.post(f"{url}/reschedule", data={"date": SUNDAY, "slot": "afternoon"})
    assert bad.status_code == 422
    assert 'id="date-error"' in bad.text and f'value="{SUNDAY}"' in bad.text
    assert re.search(r'id="slot-afternoon" value="afternoon" checked', bad.text)
    # Only the half day changed, and it is full: the message sits on the half day.
    booking = session.exec(select(Booking)).one()
    office = catalogue.serving_post_office(session, booking.commune_code)
    assert office is not None
    _fill(session, office, "afternoon")
    full = client.post(
        f"{url}/reschedule", data={"date": NEXT_DAY.isoformat(), "slot": "afternoon"}
    )
    assert full.status_code == 409
    assert 'id="slot-error"' in full.text and 'id="date-error"' not in full.text
    assert re.search(r'id="slot-afternoon" value="afternoon" checked', full.text)


def _set_states(session: Session, dossier: ItemState | None, result: ItemState | None) -> None:
    for item in session.exec(select(Item)).all():
        state = dossier if item.kind == ItemKind.dossier else result
        if state is not None:
            item.state = state
            session.add(item)
    session.commit()


def test_the_status_follows_the_items(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    token = url.rsplit("/", 1)[1]
    steps = [
        (ItemState.booked, ItemState.awaiting_result, "booked", "Đã đặt lịch"),
        (ItemState.picked_up, None, "picked_up", "Bưu tá đã nhận hồ sơ"),
        (ItemState.received_at_desk, None, "at_desk", "Một cửa đã tiếp nhận hồ sơ"),
        (None, ItemState.ready_at_desk, "result_ready", "Kết quả đã sẵn sàng"),
        (None, ItemState.with_courier, "out_for_delivery", "Bưu tá đang mang kết quả đến"),
        (None, ItemState.attempt_failed, "attempt_failed", "Phát kết quả không thành công"),
        (None, ItemState.returned_to_desk, "returned_to_desk", "Kết quả đã được trả về Một cửa"),
        (None, ItemState.delivered, "delivered", "Đã giao kết quả"),
    ]
    for dossier, result, progress, text in steps:
        _set_states(session, dossier, result)
        page = client.get(url)
        status = page.text.split('id="status"', 1)[1].split("</dd>", 1)[0]
        assert f'data-progress="{progress}"' in status and text in status, progress
        reference = re.search(r"HS-[0-9A-Z]{8}", page.text)
        assert reference
        api = client.get(
            f"/api/v1/bookings/{reference.group(0)}", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 200 and api.json()["progress"] == progress
        # Once anything moved, the citizen can no longer reschedule or cancel here.
        assert ("/reschedule" in page.text) == (progress == "booked")


def test_find_booking_by_reference_and_phone(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    reference = re.search(r"HS-[0-9A-Z]{8}", client.get(url).text)
    assert reference
    ref = reference.group(0)
    form = client.get("/find-booking")
    assert form.status_code == 200 and 'name="reference"' in form.text and "novalidate" in form.text
    wrong_phone = client.post("/find-booking", data={"reference": ref, "phone": "0987654321"})
    wrong_ref = client.post(
        "/find-booking", data={"reference": "HS-00000000", "phone": "0912345678"}
    )
    assert wrong_phone.status_code == wrong_ref.status_code == 404

    # One answer: the pages differ only in the values typed back into the form.
    def answer(text: str) -> str:
        return re.sub(r' value="[^"]*"', "", text)

    assert answer(wrong_phone.text) == answer(wrong_ref.text)
    assert "Không tìm thấy yêu cầu với mã và số điện thoại này." in wrong_phone.text
    found = client.post(
        "/find-booking",
        data={"reference": ref.lower(), "phone": "+84 912 345 678"},
        follow_redirects=False,
    )
    assert found.status_code == 303
    new_url = str(found.headers["location"]).split("?")[0]
    assert new_url != url and new_url.startswith("/my-booking/")
    assert ref in client.get(new_url).text
    # The lost link no longer opens the booking; its 404 page points to this search.
    lost = client.get(url)
    assert lost.status_code == 404 and 'href="/find-booking"' in lost.text


def test_find_booking_is_rate_limited_per_reference(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    reference = re.search(r"HS-[0-9A-Z]{8}", client.get(url).text)
    assert reference
    answers = [
        client.post(
            "/find-booking", data={"reference": reference.group(0), "phone": f"09123456{i:02d}"}
        ).status_code
        for i in range(7)
    ]
    assert answers[:5] == [404] * 5 and answers[5:] == [429, 429]
    # Even the right phone waits now.
    right = client.post(
        "/find-booking", data={"reference": reference.group(0), "phone": "0912345678"}
    )
    assert right.status_code == 429 and "quá nhiều lần" in right.text


def test_item_numbers_link_to_tracking_and_tracking_is_linked(
    client: TestClient, session: Session
) -> None:
    url = _book(client, session)
    page = client.get(f"{url}?new=1")
    numbers = set(re.findall(r"EB\d{9}VN", page.text))
    assert len(numbers) == 2
    for number in numbers:
        assert f'href="/track?number={number}"' in page.text
    for path in ("/", url, "/find-booking", "/track"):
        assert 'href="/track"' in client.get(path).text, path


def test_fee_and_free_places_while_filling_the_form(client: TestClient, session: Session) -> None:
    assert 'data-quote-url="/book/quote"' in client.get("/").text
    query = {
        "service_form": "both",
        "desk_code": "MC-00004",
        "commune_code": "00004",
        "date": NEXT_DAY.isoformat(),
    }
    quote = client.get("/book/quote", params=query).json()
    assert quote["fee"]["postal_fee_vnd"] == 44000 and "44.000" in quote["fee"]["text"]
    office = catalogue.serving_post_office(session, "00004")
    assert office is not None
    slots = {s["slot"]: s for s in quote["slots"]}
    assert slots["morning"]["open"] and slots["morning"]["places_left"] == office.slot_capacity
    _fill(session, office, "morning")
    slots = {s["slot"]: s for s in client.get("/book/quote", params=query).json()["slots"]}
    assert not slots["morning"]["open"] and "kín lịch" in slots["morning"]["text"]
    assert slots["afternoon"]["open"]
    sunday = client.get("/book/quote", params=query | {"date": SUNDAY}).json()
    assert not any(s["open"] for s in sunday["slots"])
    assert client.get("/book/quote", params={"date": "soon"}).json() == {"fee": None, "slots": []}


def test_confirmation_has_qr_codes_print_and_help(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    page = client.get(f"{url}?new=1").text
    assert page.count('<svg class="qr"') == 2 and 'id="print"' in page
    assert "/static/citizen.css" in page and "/static/citizen.js" in page
    assert "<script>" not in page and "style=" not in page and " onclick" not in page
    for path in ("/", url, "/find-booking", "/track", f"{url}/cancel"):
        assert HOTLINE in client.get(path).text, path


def test_lists_follow_vietnamese_dictionary_order(client: TestClient) -> None:
    page = client.get("/").text
    for select_id in ("commune_code", "desk_code"):
        names = _options(page, select_id)
        assert len(names) > 10
        assert names == sorted(names, key=sort_key), select_id
        # The data has names with Đ, Ô, Ư: code point order would differ.
        assert names != sorted(names), select_id


def test_track_example_passes_its_check_digit(client: TestClient) -> None:
    page = client.get("/track").text
    example = re.search(r'placeholder="([A-Z0-9]+)"', page)
    assert example
    assert str(parse_s10(example.group(1))) == example.group(1)
    assert example.group(1) in page.split('id="number-hint"', 1)[1]


def test_english_throughout(client: TestClient, session: Session) -> None:
    url = _book(client, session)
    booking = session.exec(select(Booking)).one()
    procedure = catalogue.get_procedure(session, booking.procedure_code)
    code, name, name_en = procedure.code, procedure.name, procedure.name_en
    english = document_names_en(REPO_ROOT / "data")
    documents = [
        (english[(code, d.position)], d.name) for d in catalogue.procedure_documents(session, code)
    ]
    session.rollback()
    page = unescape(client.get(f"{url}?lang=en").text)
    assert '<html lang="en">' in page
    assert name_en in page and name not in page
    assert documents
    for document_en, document_vi in documents:
        assert document_en in page and document_vi not in page
    assert "One-stop desk, Ba Dinh Ward" in page and "Ba Dinh Ward" in page
    assert "Booked, waiting for the courier" in page
    confirm = client.get(f"{url}/cancel?lang=en").text
    assert "Do you really want to cancel?" in confirm and "Bạn" not in confirm
    form = client.get("/?lang=en").text
    assert "One-stop desk, Ba Dinh Ward" in form and "Help line" in form
    assert '<optgroup label="Civil status">' in form and "Hộ tịch" not in form
