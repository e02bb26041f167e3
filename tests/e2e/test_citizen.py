"""The citizen pages in headless Chromium: every error at once with a summary, the fee and free
places while filling the form, confirmation with QR and print, cancel confirmation, finding a
booking again, tracking; each page audited with axe at a phone and a desktop size."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.db import utcnow
from tests.booking.helpers import eligible_procedure
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import DESK, LiveServer, shot

pytestmark = pytest.mark.e2e


def _day(server: LiveServer) -> dt.date:
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
    return cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))


def _audit(page: Page, what: str) -> None:
    """Audit the page as it stands at both sizes, with a screenshot of each."""
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        assert_accessible(page, what)
        shot(page, f"citizen-{what}-{name}")
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]


def test_citizen_pages(browser: Browser, server: LiveServer) -> None:
    day = _day(server)
    context = browser.new_context(viewport=PHONE, locale="vi-VN")  # type: ignore[arg-type]
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    page = context.new_page()
    page.goto(f"{server.url}/")
    _audit(page, "book")

    # Several bad fields: every message at once, the summary focused, links to each field.
    page.fill("#phone", "123")
    page.fill("#id_number", "99")
    page.click("button[type=submit]")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    assert summary.locator("li").count() >= 7  # procedure, desk, name, phone, ID, address...
    for field in ("procedure_code", "citizen_name", "phone", "id_number", "address_text"):
        expect(page.locator(f"#{field}-error")).to_be_visible()
    _audit(page, "book-errors")
    summary.locator('a[href="#phone"]').click()
    expect(page.locator("#phone")).to_be_focused()

    # Filling in: the fee and the free places show before booking.
    page.check("input[name=service_form][value=both]")
    with Session(server.engine) as s:
        page.select_option("#procedure_code", eligible_procedure(s))
    page.select_option("#desk_code", DESK)
    page.fill("#citizen_name", "Nguyễn Văn An")
    page.fill("#phone", "0912345678")
    page.fill("#id_number", "001084000999")
    page.fill("#address_text", "Số 12 phố Trúc Bạch")
    page.select_option("#commune_code", "00004")
    page.fill("#date", day.isoformat())
    page.locator("#date").dispatch_event("change")
    expect(page.locator("#quote-fee")).to_contain_text("44.000")
    expect(page.locator("#slot-morning-note")).to_contain_text("chỗ")
    page.check("input[name=slot][value=morning]")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/my-booking/.+\?new=1"))
    expect(page.locator("svg.qr")).to_have_count(2)
    expect(page.locator("#print")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Đã đặt lịch")
    assert page.locator("dd.item-number a[href^='/track?number=']").count() == 2
    _audit(page, "confirmation")
    reference = page.locator("#reference").inner_text()
    booking_url = page.url.split("?")[0]

    # The print style hides the forms and the navigation.
    page.emulate_media(media="print")
    expect(page.locator("nav.citizen-nav")).to_be_hidden()
    expect(page.locator("#cancel-link")).to_be_hidden()
    page.emulate_media(media="screen")

    page.goto(booking_url)
    _audit(page, "my-booking")
    page.click("#cancel-link")
    expect(page.locator("#confirm-cancel")).to_be_visible()
    _audit(page, "cancel-confirmation")
    page.click("#keep")
    expect(page.locator("#status")).to_contain_text("Đã đặt lịch")

    # A lost link: find the booking by reference and phone.
    page.goto(f"{server.url}/find-booking")
    _audit(page, "find-booking")
    page.fill("#reference", reference)
    page.fill("#phone", "0987654321")
    page.click("button[type=submit]")
    expect(page.locator("#find-error")).to_be_visible()
    _audit(page, "find-booking-no-match")
    page.fill("#phone", "0912345678")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/my-booking/.+done=found"))
    expect(page.locator("#reference")).to_have_text(reference)

    # Tracking from an item number on the booking page.
    page.locator("dd.item-number a").first.click()
    page.wait_for_url(re.compile(r"/track\?number="))
    expect(page.locator("#state")).to_be_visible()
    _audit(page, "track")
    context.close()
