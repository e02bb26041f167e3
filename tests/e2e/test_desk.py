"""The desk clerk in headless Chromium: today's expected list, search, select all, confirm with
one item missing, a foreign item refused in red, the official PDF and its verification page;
each page audited (axe) on a phone and a desktop."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader
from sqlmodel import Session, col, select

from postal.auth.models import StaffUser
from postal.booking.models import Booking, Item
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind
from postal.config import REPO_ROOT
from postal.db import utcnow
from tests.booking.helpers import booking_body
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import DESK, LiveServer, api_token, shot
from tests.tracking.helpers import pickup_body

pytestmark = pytest.mark.e2e
VI = "vi-VN"
COURIER_NAME = "Bưu tá Trần Văn Bình"
CLERK_NAME = "Cán bộ một cửa Phạm Thị Mai"
FOREIGN_DESK = "Bộ phận Một cửa Phường Ngọc Hà"
RED = "rgb(179, 38, 30)"  # --red of the shared style sheet


def _name_staff(server: LiveServer) -> None:
    with Session(server.engine) as s:
        for username, name in (("courier", COURIER_NAME), ("clerk", CLERK_NAME)):
            user = s.exec(select(StaffUser).where(StaffUser.username == username)).one()
            user.full_name = name
            s.add(user)
        s.commit()


def _book(server: LiveServer, day: dt.date, **overrides: Any) -> tuple[str, dict[ItemKind, str]]:
    """Book through the API; returns the reference and the item number of each kind."""
    with Session(server.engine) as s:
        body = booking_body(s, date=day.isoformat(), **overrides)
    r = httpx.post(f"{server.url}/api/v1/bookings", json=body)
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    with Session(server.engine) as s:
        items = s.exec(
            select(Item)
            .join(Booking, col(Booking.id) == col(Item.booking_id))
            .where(Booking.reference == reference)
        ).all()
        return reference, {i.kind: i.number for i in items}


def _pick_up(server: LiveServer, auth: dict[str, str], number: str) -> None:
    """The courier's pickup of a dossier, as the courier page sends it (signed by the citizen)."""
    with Session(server.engine) as s:
        item = s.exec(select(Item).where(Item.number == number)).one()
        booking = s.get(Booking, item.booking_id)
        body = pickup_body(s, SimpleNamespace(booking=booking, dossier=item))  # type: ignore[arg-type]
    body["device_time"] = utcnow().isoformat()
    r = httpx.post(f"{server.url}/api/v1/events", json={"events": [body]}, headers=auth)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "recorded", r.text


def _page(browser: Browser, server: LiveServer) -> Page:
    context = browser.new_context(viewport=PHONE, locale=VI)  # type: ignore[arg-type]
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    return context.new_page()


def _audit(page: Page, what: str) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        assert_accessible(page, what)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]


def test_clerk_confirms_the_expected_list_and_prints_the_record(
    browser: Browser, server: LiveServer
) -> None:
    _name_staff(server)
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
    day = cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))
    ref_a, items_a = _book(server, day, service_form="dossier_pickup", phone="0912000011")
    _, items_b = _book(server, day, service_form="both", phone="0912000012")
    _, foreign = _book(
        server,
        day,
        service_form="dossier_pickup",
        desk_code="MC-00008",
        commune_code="00008",
        phone="0912000013",
    )
    a, b = items_a[ItemKind.dossier], items_b[ItemKind.dossier]
    courier = api_token(server, "courier")
    for number in (a, b):
        _pick_up(server, courier, number)
    opened = httpx.post(
        f"{server.url}/api/v1/handover-records",
        json={"direction": "courier_to_desk", "desk_code": DESK, "item_numbers": [a, b]},
        headers=courier,
    )
    assert opened.status_code == 201, opened.text
    rid = opened.json()["id"]
    ready = {
        "event_id": str(uuid.uuid4()),
        "type": "result_ready",
        "item_number": items_b[ItemKind.result],
        "device_time": utcnow().isoformat(),
    }
    r = httpx.post(
        f"{server.url}/api/v1/events", json={"events": [ready]}, headers=api_token(server, "clerk")
    )
    assert r.json()["results"][0]["status"] == "recorded", r.text

    page = _page(browser, server)
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", "clerk")
    page.fill("#password", "correct-horse-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/desk$"))
    # The shared staff menu signs out from here.
    expect(page.locator("#staff-menu button[type=submit]")).to_be_visible()
    incoming = page.locator("#incoming li.expected-item")
    expect(incoming).to_have_count(2)
    expect(page.locator("#incoming")).to_contain_text(COURIER_NAME)
    expect(page.locator("#outgoing li.expected-item")).to_have_count(1)
    shot(page, "desk-01-expected")
    _audit(page, "/desk with the expected list and an open record")

    page.fill("#q", ref_a)
    page.click("#search-button")
    expect(incoming).to_have_count(1)
    expect(incoming.first).to_have_attribute("data-item", a)
    page.click("#search-clear")
    expect(incoming).to_have_count(2)

    page.check("#select-all-incoming")
    for box in page.locator("#incoming input[name=item_numbers]").all():
        expect(box).to_be_checked()
    row_b = page.locator(f"#incoming li[data-item='{b}']")
    row_b.locator("select").select_option("missing")
    row_b.locator("input[type=text]").fill("Không có trong túi")
    shot(page, "desk-02-selected")
    page.click("#confirm-selected")
    page.wait_for_url(re.compile(rf"/desk/records/{rid}\?done=many"))
    expect(page.locator("#notice")).to_have_text("Đã xác nhận 2 bưu gửi.")
    expect(page.locator("#lines tr.line-received")).to_have_count(1)
    expect(page.locator("#lines tr.line-missing")).to_have_count(1)

    # An item of another desk, still with its citizen: refused in red, nothing written.
    page.fill("#item_number", foreign[ItemKind.dossier])
    page.click("#confirm")
    error = page.locator("#error")
    expect(error).to_contain_text(FOREIGN_DESK)
    expect(error).to_contain_text("Chờ bưu tá đến nhận")
    # to_have_css retries: the style sheet may still be loading when the text is there.
    expect(error).to_have_css("color", RED)
    expect(page.locator("#notice")).to_have_count(0)
    expect(page.locator("#lines tbody tr")).to_have_count(2)
    shot(page, "desk-03-foreign-item")
    _audit(page, "/desk/records with an open record and an error")

    page.click("#close")
    expect(page.locator("#record-status")).to_have_text("Đã đóng")
    pdf = page.request.get(f"{server.url}/api/v1/handover-records/{rid}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    out = REPO_ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "desk-handover-record.pdf").write_bytes(pdf.body())
    text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf.body())).pages)
    flat = " ".join(text.split())
    for expected in (
        "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        f"BBGN-{rid:06d}",
        COURIER_NAME,
        CLERK_NAME,
        "Thiếu: Không có trong túi",
    ):
        assert expected in flat, (expected, flat)
    digest = re.search(r"\b[0-9a-f]{64}\b", text)
    assert digest is not None

    page.goto(f"{server.url}/verify/handover/BBGN-{rid:06d}?h={digest.group(0)}")
    expect(page.locator("#verdict")).to_have_attribute("data-valid", "true")
    expect(page.locator("#v-hash")).to_have_text(digest.group(0))
    shot(page, "desk-04-verify")
    _audit(page, "/verify/handover (valid)")
    page.goto(f"{server.url}/verify/handover/BBGN-{rid:06d}?h={'0' * 64}")
    expect(page.locator("#verdict")).to_contain_text("Không hợp lệ")
    _audit(page, "/verify/handover (not valid)")
