"""A whole working day in headless Chromium with real, named accounts (issue 13).

A citizen books two dossier pickups on a phone (one with its result carried back); the
dispatcher sets the day's roster, plans and dispatches the route of a named courier; the
courier fails the first pickup (citizen not at home), picks it up later, picks up the second
one offline (the page reloaded from its service worker, the queued pickup sent once back online)
and opens the handover record for the desk; the clerk confirms it with one dossier missing,
marks the other's result ready and hands it to the courier; the dispatcher plans its delivery;
the courier receives it and delivers it to a proxy after the identity check. The citizen follows
each step on /my-booking and /track. Every page is audited (axe) at phone and desktop sizes and
each step is saved in test-output/screenshots/day-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect
from sqlmodel import Session, col, func, select

from postal.auth.models import Role, StaffUser
from postal.auth.service import create_user
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.db import utcnow
from postal.tracking.models import CustodyEvent, EventType
from tests.booking.helpers import eligible_procedure
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import DESK, PASSWORD, LiveServer, shot

pytestmark = pytest.mark.e2e
VI = "vi-VN"
# The staff of the day, by their full names (the pages show these, never the usernames alone).
COURIER = "Trần Văn Bình"  # the fixture's account "courier"
COURIER_ON_LEAVE = "Lê Thị Hoa"
CLERK = "Phạm Thị Mai"
DISPATCHER = "Nguyễn Thị Lan"
# The citizen and the proxy who receives the result on her behalf.
CITIZEN = "Hoàng Thị Thu"
PHONE_NUMBER = "0913579246"
ID_NUMBER = "001186000123"  # Hà Nội, female, 1986
PROXY = "Đỗ Minh Quân"
PROXY_ID = "001090004567"  # Hà Nội, male, 1990
AUTHORISATION = "GUQ-15/2026"


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    """A loaded 2-core machine: visible conditions get 15 s (Playwright's default is 5 s)."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=None)


def _staff(server: LiveServer) -> None:
    """Full names for the fixture's accounts, and a second courier of the office."""
    with Session(server.engine) as s:
        for username, name in (("courier", COURIER), ("clerk", CLERK), ("disp", DISPATCHER)):
            user = s.exec(select(StaffUser).where(StaffUser.username == username)).one()
            user.full_name = name
            s.add(user)
        office = s.exec(select(StaffUser).where(StaffUser.username == "courier")).one()
        create_user(
            s,
            username="hoa",
            password=PASSWORD,
            role=Role.courier,
            full_name=COURIER_ON_LEAVE,
            post_office_codes=[office.post_office_code or ""],
        )
        s.commit()


def _context(browser: Browser, server: LiveServer, size: dict[str, int]) -> BrowserContext:
    """A browser of its own; requests off the server fail at once, as without internet."""
    viewport = ViewportSize(width=size["width"], height=size["height"])
    context = browser.new_context(viewport=viewport, locale=VI)
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    return context


def _login(page: Page, server: LiveServer, username: str, lands_on: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(rf"{lands_on}(\?.*)?$"))


class Day:
    """Screenshots numbered in the order of the day, and each page audited once at both sizes."""

    def __init__(self) -> None:
        self.step = 0
        self.audited: set[str] = set()

    def shot(self, page: Page, name: str) -> None:
        self.step += 1
        shot(page, f"day-{self.step:02d}-{name}")

    def audit(self, page: Page, what: str) -> None:
        """axe on the page as it stands at its own size, then at the other size."""
        if what in self.audited:
            return
        self.audited.add(what)
        own = page.viewport_size
        assert own is not None
        other = DESKTOP if own["width"] < DESKTOP["width"] else PHONE
        assert_accessible(page, what)
        page.set_viewport_size(other)  # type: ignore[arg-type]
        assert_accessible(page, what)
        shot(page, f"day-audit-{what}-{other['width']}")
        page.set_viewport_size(own)


def _on_phone(sms: Page, server: LiveServer, pattern: str) -> re.Match[str]:
    """The newest message to the citizen's phone matching ``pattern``, as she reads it on the
    demo's SMS inbox page (the worker sends the messages a moment after the event)."""
    wanted = re.compile(pattern)
    deadline = time.monotonic() + 30
    while True:
        sms.goto(f"{server.url}/demo/phone?to={PHONE_NUMBER}&live=0")
        found = [m for m in map(wanted.search, sms.locator("li.sms").all_inner_texts()) if m]
        if found:
            return found[0]  # newest first
        assert time.monotonic() < deadline, f"no message {pattern!r} on the phone"
        sms.wait_for_timeout(300)


def _code_on_phone(sms: Page, server: LiveServer, number: str) -> str:
    """The one-time code for ``number`` the courier just asked for."""
    pattern = rf"(?:Mã xác nhận|Ma xac nhan) (\d{{6}}) cho (?:bưu gửi|buu gui) {number}"
    return _on_phone(sms, server, pattern).group(1)


def _announced(sms: Page, server: LiveServer, number: str) -> tuple[str, str]:
    """The arrival window of the "courier on the way" message for ``number`` (HH:MM, HH:MM)."""
    pattern = rf"từ (\d\d:\d\d) đến (\d\d:\d\d) ngày [^(]*\([^)]*{number}"
    found = _on_phone(sms, server, pattern)
    return found.group(1), found.group(2)


def _book(page: Page, server: LiveServer, day: dt.date, form: str, slot: str) -> str:
    """Book on the citizen's page; returns the booking's own page (its link to keep)."""
    page.goto(f"{server.url}/")
    page.check(f"input[name=service_form][value={form}]")
    with Session(server.engine) as s:
        page.select_option("#procedure_code", eligible_procedure(s))
    page.select_option("#desk_code", DESK)
    page.get_by_label("Họ và tên").fill(CITIZEN)
    page.fill("#phone", PHONE_NUMBER)
    page.fill("#id_number", ID_NUMBER)
    page.fill("#address_text", "Số 25 phố Quán Thánh")
    page.select_option("#commune_code", "00004")
    page.fill("#date", day.isoformat())
    page.check(f"input[name=slot][value={slot}]")
    page.locator("#book-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/my-booking/.+\?new=1"))
    expect(page.locator("#status")).to_contain_text("Đã đặt lịch")
    return page.url.split("?")[0]


def _numbers(page: Page) -> list[str]:
    """The item numbers the booking page shows (dossier first, then the result)."""
    return page.locator("dd.item-number a").all_inner_texts()


def _pickup_form(stop: Locator, code: str, seal: str) -> None:
    """Count the papers, seal, write the receipt and take the citizen's code."""
    details = stop.locator("details[id^=pickup-]")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    form = stop.locator("form[data-event='pickup']")
    for box in form.locator("input[type=checkbox]").all():
        box.check()
    form.locator("input[name=seal_number]").fill(seal)
    receipt = form.locator("input[name=receipt_number]")
    if receipt.count():
        receipt.fill(f"BL-{seal}")
    form.locator("input[name=otp_code]").fill(code)
    form.get_by_role("button", name="Xác nhận đã nhận hồ sơ").click()


def _events(server: LiveServer, number: str, kind: EventType) -> int:
    with Session(server.engine) as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(CustodyEvent)
                .where(col(CustodyEvent.item_number) == number, CustodyEvent.type == kind)
            ).one()
        )


def test_a_working_day(browser: Browser, server: LiveServer) -> None:
    _staff(server)
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
    # The day of the route: the second working day from today, past any booking cut-off. The
    # staff act now, on its route (as the other browser tests do); no clock is moved.
    day = cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))
    d = Day()

    # --- The citizen books two dossier pickups on her phone -------------------------------
    citizen_ctx = _context(browser, server, PHONE)
    citizen = citizen_ctx.new_page()
    sms = citizen_ctx.new_page()  # the phone's messages
    citizen.goto(f"{server.url}/")
    d.audit(citizen, "book")
    d.shot(citizen, "citizen-book-form")
    # A: her own dossier, the result carried back to her (morning); B: a second dossier
    # (afternoon: one active booking per ID number and half day).
    page_a = _book(citizen, server, day, "both", "morning")
    d.audit(citizen, "my-booking")
    d.shot(citizen, "citizen-booked-a")
    dossier_a, result_a = _numbers(citizen)
    page_b = _book(citizen, server, day, "dossier_pickup", "afternoon")
    d.shot(citizen, "citizen-booked-b")
    [dossier_b] = _numbers(citizen)

    def follow(booking: str, progress: str, number: str, state: str, name: str) -> None:
        """The citizen opens her booking's page and tracks the item."""
        citizen.goto(booking)
        expect(citizen.locator("#status")).to_contain_text(progress)
        citizen.goto(f"{server.url}/track?number={number}")
        expect(citizen.locator("#state")).to_have_text(state)
        d.audit(citizen, "track")
        d.shot(citizen, f"citizen-track-{name}")

    follow(page_a, "Đã đặt lịch", dossier_a, "Chờ bưu tá đến nhận", "booked")

    # --- The dispatcher: the roster of the day, the plan, the route dispatched ------------
    dispatcher = _context(browser, server, DESKTOP).new_page()
    dispatcher.goto(f"{server.url}/staff/login")
    d.audit(dispatcher, "staff-login")
    _login(dispatcher, server, "disp", "/dispatcher")
    dispatcher.goto(f"{server.url}/dispatcher?date={day}")
    d.audit(dispatcher, "dispatcher")
    dispatcher.locator("#roster-link").click()
    roster = dispatcher.locator("#roster tbody")
    expect(roster.locator("th")).to_have_text([COURIER_ON_LEAVE, COURIER])  # dictionary order
    dispatcher.get_by_label(f"{COURIER_ON_LEAVE}: Có đi làm").uncheck()  # on leave that day
    dispatcher.locator("#save-roster").click()
    dispatcher.wait_for_url(re.compile(r"done=roster"))  # saved: the page drawn again
    expect(dispatcher.get_by_label(f"{COURIER_ON_LEAVE}: Có đi làm")).not_to_be_checked()
    expect(dispatcher.get_by_label(f"{COURIER}: Có đi làm")).to_be_checked()
    d.audit(dispatcher, "roster")
    d.shot(dispatcher, "dispatcher-roster")
    dispatcher.goto(f"{server.url}/dispatcher?date={day}")
    expect(dispatcher.locator("#date")).to_have_value(day.isoformat())
    dispatcher.locator("#start").click()
    expect(dispatcher.locator("#plan-status")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    routes = dispatcher.locator("#routes tbody tr")
    expect(routes).to_have_count(1)
    expect(routes.first.locator("td").first).to_have_text(COURIER)
    expect(routes.first.locator("td").nth(1)).to_have_text("4")  # two pickups, two desk stops
    d.audit(dispatcher, "plan")
    dispatcher.get_by_role("button", name=f"Khoá: {COURIER}").click()  # dispatched
    expect(routes.first.locator(".locked")).to_be_visible()
    d.shot(dispatcher, "dispatcher-plan-dispatched")

    # --- The courier: a failed pickup, then the pickup -------------------------------------
    courier_ctx = _context(browser, server, PHONE)
    courier = courier_ctx.new_page()
    _login(courier, server, "courier", "/courier")
    expect(courier.locator("#day-shown")).to_contain_text(day.strftime("%d/%m/%Y"))
    expect(courier.locator("li.stop")).to_have_count(4)
    expect(courier.locator("main")).to_contain_text(COURIER)
    d.audit(courier, "courier")
    d.shot(courier, "courier-route")
    stop_a = courier.locator(f"li.stop.citizen[data-item='{dossier_a}']")
    stop_b = courier.locator(f"li.stop.citizen[data-item='{dossier_b}']")
    expect(stop_a.locator(".name")).to_have_text(CITIZEN)

    stop_a.locator("details[id^=fail-] summary").click()
    failed = stop_a.locator("form[data-event='attempt_failed']")
    failed.get_by_label("Lý do không nhận được hồ sơ").select_option(
        label="Vắng nhà"
    )  # citizen not at home
    failed.get_by_role("button", name="Ghi nhận lần nhận không thành công").click()
    expect(stop_a.locator(".attempts")).to_contain_text("1/2")
    d.shot(courier, "courier-failed-pickup")
    citizen.goto(f"{server.url}/track?number={dossier_a}")
    # A pickup that failed, told as such (not as a failed delivery), and when the courier
    # comes back.
    expect(citizen.locator("#timeline")).to_contain_text(
        "Bưu tá chưa nhận được hồ sơ: không có người nhận"
    )
    expect(citizen.locator("main")).to_contain_text("Ngày bưu tá đến nhận lại")
    d.shot(citizen, "citizen-track-failed-pickup")

    # Later the citizen is home: the code reaches her phone, she reads it to the courier.
    stop_a.locator("details[id^=pickup-] summary").click()
    stop_a.get_by_role("button", name="Gửi mã xác nhận cho người dân").click()
    expect(stop_a.locator(".success")).to_be_visible()
    code = _code_on_phone(sms, server, dossier_a)
    d.audit(sms, "phone-messages")
    # The route dispatched told her when the courier comes: inside each booked half day.
    start, end = _announced(sms, server, dossier_a)
    assert "08:00" <= start < end <= "12:00", (start, end)
    start, end = _announced(sms, server, dossier_b)
    assert "13:30" <= start < end <= "17:00", (start, end)
    d.shot(sms, "citizen-phone-code")
    _pickup_form(stop_a, code, "S-0001")
    expect(
        courier.locator(f"li.stop.citizen.state-picked_up[data-item='{dossier_a}']")
    ).to_have_count(1)
    d.shot(courier, "courier-picked-up-a")
    follow(page_a, "Bưu tá đã nhận hồ sơ", dossier_a, "Bưu tá đã nhận", "picked-up")

    # --- Offline: the page reloads from the service worker, the pickup waits, then goes ---
    stop_b.locator("details[id^=pickup-] summary").click()
    stop_b.get_by_role("button", name="Gửi mã xác nhận cho người dân").click()
    expect(stop_b.locator(".success")).to_be_visible()
    code = _code_on_phone(sms, server, dossier_b)
    courier.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller")
    courier_ctx.set_offline(True)
    courier.reload()
    expect(courier.locator("#offline-note")).to_be_visible()
    expect(courier.locator("li.stop")).to_have_count(4)
    _pickup_form(stop_b, code, "S-0002")
    expect(courier.locator("#outbox")).to_have_attribute("data-pending", "1")
    d.shot(courier, "courier-offline-pickup-queued")
    assert _events(server, dossier_b, EventType.pickup) == 0
    courier_ctx.set_offline(False)
    expect(
        courier.locator(f"li.stop.citizen.state-picked_up[data-item='{dossier_b}']")
    ).to_have_count(1, timeout=30_000)
    expect(courier.locator("#outbox")).to_have_attribute("data-pending", "0")
    assert courier.evaluate("localStorage.getItem('postal.courier.outbox')") == "[]"
    assert _events(server, dossier_b, EventType.pickup) == 1  # exactly once
    d.shot(courier, "courier-back-online")

    # The handover record for the desk, both dossiers on it.
    handover = courier.locator("form.handover")
    expect(handover.locator("input[name=item_numbers]")).to_have_count(2)
    handover.get_by_role("button", name="Lập biên bản giao nhận").click()
    record = courier.locator(".record")
    expect(record).to_have_count(1)
    expect(record.locator(".record-lines li")).to_have_count(2)
    d.shot(courier, "courier-handover-record")

    # --- The clerk confirms the record: one dossier missing ---------------------------------
    clerk = _context(browser, server, DESKTOP).new_page()
    _login(clerk, server, "clerk", "/desk")
    incoming = clerk.locator("#incoming li.expected-item")
    expect(incoming).to_have_count(2)
    expect(clerk.locator("#incoming")).to_contain_text(COURIER)
    d.audit(clerk, "desk")
    d.shot(clerk, "desk-expected")
    for number in (dossier_a, dossier_b):
        clerk.locator(f"#incoming li[data-item='{number}'] input[name=item_numbers]").check()
    row_b = clerk.locator(f"#incoming li[data-item='{dossier_b}']")
    row_b.get_by_label(f"Kết quả kiểm đếm {dossier_b}").select_option(label="Thiếu")
    row_b.get_by_label(f"Ghi chú {dossier_b}").fill("Không có trong túi")
    clerk.locator("#confirm-selected").click()
    clerk.wait_for_url(re.compile(r"/desk/records/\d+"))
    expect(clerk.locator("#lines tr.line-received")).to_have_count(1)
    expect(clerk.locator("#lines tr.line-missing")).to_have_count(1)
    expect(clerk.locator("#record-courier")).to_have_text(COURIER)
    clerk.locator("#close").click()
    expect(clerk.locator("#record-status")).to_have_text("Đã đóng")
    d.audit(clerk, "desk-record")
    d.shot(clerk, "desk-record-closed")
    follow(page_a, "Một cửa đã tiếp nhận hồ sơ", dossier_a, "Một cửa đã tiếp nhận", "at-desk")
    citizen.goto(page_b)
    expect(citizen.locator("#status")).to_contain_text("Có sai lệch khi giao nhận")
    d.shot(citizen, "citizen-booking-b-missing")

    # --- The result: ready at the desk, planned, handed to the courier ---------------------
    clerk.goto(f"{server.url}/desk")
    clerk.locator("#ready_number").fill(result_a)
    clerk.get_by_role("button", name="Ghi nhận kết quả sẵn sàng").click()
    outgoing = clerk.locator(f"#outgoing li[data-item='{result_a}']")
    expect(outgoing).to_have_count(1)
    d.shot(clerk, "desk-result-ready")
    follow(page_a, "Kết quả đã sẵn sàng", result_a, "Kết quả đã sẵn sàng tại Một cửa", "ready")

    # The morning route is dispatched (locked): the delivery is a new plan of the day.
    dispatcher.goto(f"{server.url}/dispatcher?date={day}")
    dispatcher.locator("#start").click()
    expect(dispatcher.locator("#plan-status")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    expect(routes).to_have_count(1)
    expect(routes.first.locator("td").first).to_have_text(COURIER)
    expect(routes.first.locator("td").nth(1)).to_have_text("2")  # the desk, then the citizen
    d.shot(dispatcher, "dispatcher-delivery-plan")

    outgoing.locator("input[name=item_numbers]").check()
    clerk.get_by_label("Bưu tá", exact=True).select_option(label=f"{COURIER} (courier)")
    clerk.get_by_role("button", name="Lập biên bản giao cho bưu tá").click()
    clerk.wait_for_url(re.compile(r"/desk/records/\d+"))
    expect(clerk.locator("#record-courier")).to_have_text(COURIER)
    d.shot(clerk, "desk-result-handed-over")

    courier.goto(f"{server.url}/courier?date={day}")
    expect(courier.locator("li.stop")).to_have_count(2)
    receive = courier.locator("li.stop.desk form[action*='/lines']")
    receive.get_by_label("Quét hoặc gõ số hiệu bưu gửi").fill(result_a)
    receive.get_by_role("button", name="Nhận").click()
    delivery = courier.locator(f"li.stop.citizen.state-with_courier[data-item='{result_a}']")
    expect(delivery).to_have_count(1)
    d.shot(courier, "courier-result-received")
    follow(page_a, "Bưu tá đang mang kết quả đến", result_a, "Bưu tá đang mang đến", "out")

    # --- Delivered to a proxy, identity checked on the courier page -------------------------
    delivery.locator("details[id^=deliver-] summary").click()
    form = delivery.locator("form[data-event='deliver']")
    d.audit(courier, "courier-delivery-form")
    form.get_by_label("Người được uỷ quyền nhận", exact=True).check()
    form.get_by_label("Họ tên người được uỷ quyền").fill(PROXY)
    form.get_by_label("Số định danh người được uỷ quyền").fill("999090004567")  # not an ID
    form.get_by_label("Số giấy uỷ quyền").fill(AUTHORISATION)
    canvas = form.locator("canvas.signature")
    expect(canvas).to_be_visible()
    # The proxy signs with a finger (in view, clear of the sticky progress bar).
    canvas.evaluate("el => el.scrollIntoView({block: 'center'})")
    box = canvas.bounding_box()
    assert box is not None
    courier.mouse.move(box["x"] + 20, box["y"] + 60)
    courier.mouse.down()
    for k in range(1, 25):
        courier.mouse.move(box["x"] + 20 + 10 * k, box["y"] + 60 + (15 if k % 2 else -15))
    courier.mouse.up()
    expect(canvas).to_have_attribute("data-signed", "1")
    form.get_by_role("button", name="Xác nhận đã phát").click()
    refused = form.locator(".queued-note.error")
    expect(refused).to_be_visible()
    d.shot(courier, "courier-proxy-id-refused")
    assert _events(server, result_a, EventType.deliver) == 0
    form.get_by_label("Số định danh người được uỷ quyền").fill(PROXY_ID)
    form.get_by_role("button", name="Xác nhận đã phát").click()
    expect(
        courier.locator(f"li.stop.citizen.state-delivered[data-item='{result_a}']")
    ).to_have_count(1)
    d.shot(courier, "courier-delivered-to-proxy")
    assert _events(server, result_a, EventType.deliver) == 1
    follow(page_a, "Đã giao kết quả", result_a, "Đã giao", "delivered")
    expect(citizen.locator("#timeline li")).to_have_count(3)  # ready, handed out, delivered
