"""End to end in headless Chromium: book, plan, pick up at 360 px, hand over, confirm, track;
and offline capture: two pickups recorded offline are each stored exactly once."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect
from sqlmodel import Session, col, func, select

from postal.booking.models import Booking, Item
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.catalogue.models import ItemKind
from postal.db import utcnow
from postal.tracking.models import CustodyEvent
from tests.booking.helpers import eligible_procedure
from tests.e2e.conftest import DESK, OFFICE, PASSWORD, LiveServer, api_token, shot

pytestmark = pytest.mark.e2e
PHONE = ViewportSize(width=360, height=740)
VI = "vi-VN"  # Chromium sends Accept-Language from the locale; the pages follow it


def _page(browser: Browser, server: LiveServer, phone: bool = True) -> Page:
    """A page in its own context; requests off the server fail at once, as without internet."""
    context = browser.new_context(viewport=PHONE if phone else None, locale=VI)
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    return context.new_page()


def _day(server: LiveServer) -> dt.date:
    """The second working day from today: far enough for any booking cut-off."""
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
    return cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))


def _login(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    # Each role lands on the page of its job.
    page.wait_for_url(re.compile(r"/(courier|desk|dispatcher|staff)$"))


def _otp(server: LiveServer, phone_tail: str) -> str:
    """The code of the newest SMS to the phone, as the app's SMS gateway stand-in received it
    (the outbox row holds no code: the worker makes it when it sends)."""
    deadline = time.monotonic() + 10
    while True:
        inbox = list(getattr(server.app.state, "demo_inbox", None) or [])
        texts = [m["message"] for m in inbox if m["to"].endswith(phone_tail)]
        match = next((m for m in (re.search(r"\b(\d{6})\b", t) for t in texts) if m), None)
        if match:
            return match.group(1)
        assert time.monotonic() < deadline, texts
        time.sleep(0.1)


def _item(server: LiveServer, reference: str | None = None) -> Item:
    with Session(server.engine) as s:
        query = select(Item).join(Booking, col(Booking.id) == col(Item.booking_id))
        if reference:
            query = query.where(Booking.reference == reference)
        return s.exec(query.where(Item.kind == ItemKind.dossier).order_by(col(Item.id))).all()[-1]


def _plan(server: LiveServer, day: dt.date) -> None:
    auth = api_token(server, "disp")
    body = {"date": day.isoformat(), "post_office_codes": [OFFICE], "time_limit_s": 2}
    r = httpx.post(f"{server.url}/api/v1/plans", json=body, headers=auth)
    assert r.status_code == 202, r.text
    for _ in range(300):
        plan = httpx.get(f"{server.url}{r.headers['location']}", headers=auth).json()
        if plan["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert plan["status"] == "done", plan


def _fill_pickup(page: Page, number: str, code: str) -> None:
    stop = page.locator(f"li.stop.citizen[data-item='{number}']")
    # The page updates in place after sending the code: the pickup form may be open already.
    if stop.locator("details").first.get_attribute("open") is None:
        stop.locator("summary").first.click()
    form = stop.locator("form[data-event='pickup']")
    for box in form.locator("input[type=checkbox]").all():
        box.check()
    form.locator("input[name=seal_number]").fill(f"S-{number[-5:]}")
    receipt = form.locator("input[name=receipt_number]")
    if receipt.count():
        receipt.fill(f"BL-{number[-5:]}")
    form.locator("input[name=otp_code]").fill(code)
    form.locator("button[type=submit]").click()


def test_book_plan_pickup_handover_confirm_track(browser: Browser, server: LiveServer) -> None:
    day = _day(server)
    citizen = _page(browser, server)
    citizen.goto(f"{server.url}/")
    shot(citizen, "01-citizen-book")
    citizen.check("input[name=service_form][value=dossier_pickup]")
    with Session(server.engine) as s:
        citizen.select_option("#procedure_code", eligible_procedure(s))
    citizen.select_option("#desk_code", DESK)
    citizen.fill("#citizen_name", "Nguyễn Văn An")
    citizen.fill("#phone", "0912345678")
    citizen.fill("#id_number", "001084000999")
    citizen.fill("#address_text", "Số 12 phố Trúc Bạch")
    citizen.select_option("#commune_code", "00004")
    citizen.fill("#date", day.isoformat())
    citizen.check("input[name=slot][value=morning]")
    citizen.click("button[type=submit]")
    citizen.wait_for_url(re.compile(r"/my-booking/"))
    shot(citizen, "02-citizen-booked")
    item = _item(server)

    def track(name: str, state_text: str, steps: int) -> None:
        citizen.goto(f"{server.url}/track?number={item.number}")
        expect(citizen.locator("#state")).to_have_text(state_text)
        assert citizen.locator("#timeline li").count() == steps
        shot(citizen, name)

    citizen.goto(f"{server.url}/track?number={item.number}")
    expect(citizen.locator("#state")).to_have_text("Chờ bưu tá đến nhận")
    shot(citizen, "03-track-booked")

    dispatcher = _page(browser, server, phone=False)
    _login(dispatcher, server, "disp")
    dispatcher.goto(f"{server.url}/dispatcher?date={day}")
    shot(dispatcher, "04-dispatcher")
    dispatcher.fill("#date", day.isoformat())
    dispatcher.click("#start")
    # The plan page reloads itself (Refresh header) until the plan is done.
    expect(dispatcher.locator("#plan-status")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    expect(dispatcher.locator("#routes tbody tr")).to_have_count(1)
    shot(dispatcher, "05-dispatcher-plan")
    overview = dispatcher.context.new_page()
    overview.goto(dispatcher.url + "/map")
    # The courier's layer (line and two stops), the commune outlines, the layer control.
    expect(overview.locator(".leaflet-control-layers")).to_have_count(1)
    assert overview.locator("path.leaflet-interactive").count() > 3
    shot(overview, "05b-dispatcher-overview-map")
    overview.close()
    dispatcher.click("#routes a")
    expect(dispatcher.locator("#stops li")).to_have_count(2)
    shot(dispatcher, "06-dispatcher-route")

    courier = _page(browser, server)
    _login(courier, server, "courier")
    courier.goto(f"{server.url}/courier?date={day}")
    expect(courier.locator("li.stop")).to_have_count(2)
    assert courier.evaluate("document.documentElement.scrollWidth") <= 360
    shot(courier, "07-courier-route")
    # The map draws its numbered stops with the app's own Leaflet, without internet.
    map_page = courier.context.new_page()
    map_page.goto(f"{server.url}/courier/map?date={day}")
    # The post office, and the two stops: one marker per place ("1–2" when they share one).
    expect(map_page.locator(".leaflet-marker-icon .stop-num", has_text="✉")).to_have_count(1)
    numbers = map_page.locator(".leaflet-marker-icon .stop-num, .leaflet-marker-icon .stop-group")
    assert {"1", "2"} <= set(re.findall(r"\d+", " ".join(numbers.all_inner_texts())))
    shot(map_page, "07b-courier-route-map")
    map_page.close()
    courier.locator(f"li.stop.citizen[data-item='{item.number}'] summary").first.click()
    courier.locator(f"li.stop.citizen[data-item='{item.number}'] form.otp button").click()
    courier.wait_for_url(re.compile("done=otp"))
    _fill_pickup(courier, item.number, _otp(server, "5678"))
    shot(courier, "08-courier-pickup-sent")
    expect(
        courier.locator(f"li.stop.citizen.state-picked_up[data-item='{item.number}']")
    ).to_have_count(1)
    courier.locator("form.handover button").click()
    courier.wait_for_load_state()
    shot(courier, "09-courier-handover-record")
    courier.wait_for_url(re.compile("done=record"))
    shot(courier, "09-courier-handover-record")
    track("10-track-picked-up", "Bưu tá đã nhận", 1)

    clerk = _page(browser, server)
    _login(clerk, server, "clerk")
    clerk.goto(f"{server.url}/desk")
    shot(clerk, "11-desk")
    clerk.locator("#open-records a").first.click()
    clerk.fill("#item_number", item.number)
    clerk.click("#confirm")
    expect(clerk.locator("#lines tr.line-received")).to_have_count(1)
    clerk.click("#close")
    expect(clerk.locator("#record-status")).to_have_text("Đã đóng")
    shot(clerk, "12-desk-record-closed")
    assert (
        clerk.request.get(f"{server.url}/api/v1/handover-records/1/pdf").headers["content-type"]
        == "application/pdf"
    )
    track("13-track-at-desk", "Một cửa đã tiếp nhận", 2)


def _events(server: LiveServer, *event_ids: str) -> dict[str, int]:
    with Session(server.engine) as s:
        return {
            e: int(
                s.exec(
                    select(func.count()).select_from(CustodyEvent).where(CustodyEvent.event_id == e)
                ).one()
            )
            for e in event_ids
        }


def test_offline_pickups_are_stored_exactly_once(browser: Browser, server: LiveServer) -> None:
    day = _day(server)
    with Session(server.engine) as s:
        procedure = eligible_procedure(s)
    refs = []
    citizens = (
        ("0912000001", "Số 1 phố Quán Thánh", "001084000999"),
        ("0912000002", "Số 8 Hàng Bún", "001084000888"),  # one active booking per ID and slot
    )
    for phone, address, id_number in citizens:
        body: dict[str, Any] = {
            "service_form": "dossier_pickup",
            "procedure_code": procedure,
            "desk_code": DESK,
            "citizen_name": "Trần Thị Bình",
            "phone": phone,
            "id_number": id_number,
            "address_text": address,
            "commune_code": "00004",
            "date": day.isoformat(),
            "slot": "morning",
        }
        r = httpx.post(f"{server.url}/api/v1/bookings", json=body)
        assert r.status_code == 201, r.text
        refs.append(r.json()["reference"])
    items = [_item(server, ref) for ref in refs]
    _plan(server, day)
    courier_auth = api_token(server, "courier")
    codes = []
    for item, tail in zip(items, ("0001", "0002"), strict=True):
        r = httpx.post(f"{server.url}/api/v1/items/{item.number}/otp", headers=courier_auth)
        assert r.status_code == 202, r.text
        codes.append(_otp(server, tail))

    page = _page(browser, server)
    context = page.context
    _login(page, server, "courier")
    page.goto(f"{server.url}/courier?date={day}")
    expect(page.locator("li.stop")).to_have_count(4)
    event_ids = [
        page.locator(
            f"li.stop.citizen[data-item='{i.number}'] form[data-event='pickup'] "
            "input[name=event_id]"
        ).input_value()
        for i in items
    ]
    # The first send reaches the server but its reply is lost: the page must send it again.
    lost = {"done": False}

    def lose_first_reply(route: Route) -> None:
        if lost["done"]:
            route.continue_()
            return
        lost["done"] = True
        route.fetch()
        route.abort()

    context.set_offline(True)
    for item, code in zip(items, codes, strict=True):
        _fill_pickup(page, item.number, code)
    expect(page.locator("#outbox")).to_have_attribute("data-pending", "2")
    shot(page, "14-courier-offline-two-pending")
    assert _events(server, *event_ids) == dict.fromkeys(event_ids, 0)
    page.route("**/api/v1/events", lose_first_reply)
    context.set_offline(False)
    # Back online: the page sends, loses the reply, resends (timer), the server replays.
    expect(page.locator("li.stop.citizen.state-picked_up")).to_have_count(2, timeout=30_000)
    shot(page, "15-courier-back-online")
    assert lost["done"]
    assert _events(server, *event_ids) == dict.fromkeys(event_ids, 1)
    assert page.evaluate("localStorage.getItem('postal.courier.outbox')") == "[]"
