"""The courier's page on a phone, as a demo courier finds it the day before the route: the day
shown, ETAs inside the citizen's half day, a failed pickup then the pickup (an optional paper
left unticked), call and directions, in-place updates that keep the scroll, the offline copy,
one handover record, masked data for another courier, and the accessibility audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.db import utcnow
from postal.tracking.models import CustodyEvent, EventType
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import DESK, OFFICE, PASSWORD, LiveServer, api_token, shot

pytestmark = pytest.mark.e2e
VI = "vi-VN"
OPTIONAL_DOC_PROCEDURE = "1.004873"  # its document list has a "(nếu có)" paper
# Visible controls of the page lower than 44 px (check boxes and radios sit in 44 px labels).
SMALL_TARGETS = (
    "() => [...document.querySelectorAll('main a, main button, main input, main select,"
    " main summary')].filter(e => e.offsetParent && !['hidden', 'checkbox', 'radio']"
    ".includes(e.type) && e.getBoundingClientRect().height < 44)"
    ".map(e => e.outerHTML.slice(0, 90))"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300)


def _context(browser: Browser, server: LiveServer) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, locale=VI)  # type: ignore[arg-type]
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    return context


def _login(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(courier|desk|dispatcher|staff)(\?.*)?$"))


def _book(server: LiveServer, day: dt.date, n: int, slot: str, procedure: str) -> dict[str, Any]:
    body = {
        "service_form": "dossier_pickup",
        "procedure_code": procedure,
        "desk_code": DESK,
        "citizen_name": f"Lê Thị Hoa {n}",
        "phone": f"091230000{n}",
        "id_number": f"00108400077{n}",
        "address_text": f"Số {n} phố Trúc Bạch",
        "commune_code": "00004",
        "date": day.isoformat(),
        "slot": slot,
    }
    r = httpx.post(f"{server.url}/api/v1/bookings", json=body)
    assert r.status_code == 201, r.text
    booking: dict[str, Any] = r.json()
    return booking


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


def _otp(server: LiveServer, phone_tail: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        inbox = list(getattr(server.app.state, "demo_inbox", None) or [])
        texts = [m["message"] for m in inbox if m["to"].endswith(phone_tail)]
        match = next(
            (m for m in (re.search(r"\b(\d{6})\b", t) for t in reversed(texts)) if m), None
        )
        if match:
            return match.group(1)
        assert time.monotonic() < deadline, texts
        time.sleep(0.1)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def test_courier_day_route_attempt_pickup_offline(browser: Browser, server: LiveServer) -> None:
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
        procedure = catalogue.get_procedure(s, OPTIONAL_DOC_PROCEDURE).code
    # Bookings for the second working day: the page must find that route without being told.
    day = cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))
    morning = _book(server, day, 1, "morning", procedure)
    afternoon = _book(server, day, 2, "afternoon", procedure)
    _plan(server, day)

    context = _context(browser, server)
    page = context.new_page()
    _login(page, server, "courier")
    expect(page).to_have_url(re.compile(r"/courier$"))
    expect(page.locator("#day-shown")).to_contain_text(day.strftime("%d/%m/%Y"))
    expect(page.locator("#next-day-note")).to_be_visible()
    stops = page.locator("li.stop")
    expect(stops).to_have_count(4)
    expect(page.locator("#done-count")).to_have_text("Đã xong 0/4 điểm dừng")
    shot(page, "courier-01-route-next-day")

    # ETAs inside the half day the citizen was told.
    for booking in (morning, afternoon):
        number = booking["items"][0]["number"]
        stop = page.locator(f"li.stop.citizen[data-item='{number}']")
        told = "{}-{}".format(
            dt.datetime.fromisoformat(booking["slot_start"]).strftime("%H:%M"),
            dt.datetime.fromisoformat(booking["slot_end"]).strftime("%H:%M"),
        )
        expect(stop.locator(".window b")).to_have_text(told)
        eta = _minutes(stop.locator(".eta").inner_text().split()[-1])
        start, end = (_minutes(x) for x in told.split("-"))
        assert start <= eta <= end, (told, eta)
        # The courier of the stop sees the citizen in full, with call and directions.
        expect(stop.locator(".name")).to_have_text(booking["citizen_name"])
        expect(stop.locator("a.call")).to_have_attribute("href", re.compile(r"^tel:\+84912"))
        expect(stop.locator("a.navigate")).to_have_attribute(
            "href", re.compile(r"^https://www\.google\.com/maps/dir/\?api=1&destination=[\d.]+%2C")
        )
        expect(stop.locator(".address")).to_contain_text("Ba Đình")
    assert told[:5] >= "13:30"  # the afternoon one, last

    first = page.locator(f"li.stop.citizen[data-item='{morning['items'][0]['number']}']")
    seq = int((first.get_attribute("id") or "").split("-")[1])
    # A failed pickup (citizen absent), a photo as proof: first a file that is not an image.
    first.locator(f"#fail-{seq} summary").click()
    failed = first.locator("form[data-event='attempt_failed']")
    expect(failed.locator(".rule")).to_contain_text("1/2")
    failed.locator("select[name=reason]").select_option("absent")
    failed.locator("input[name=photo]").set_input_files(
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"not a photo"}]
    )
    first.evaluate("el => el.scrollIntoView({block: 'center'})")
    failed.locator("button[type=submit]").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 0
    failed.locator("button[type=submit]").click()
    expect(first.locator(".stop-error")).to_contain_text("Ảnh làm bằng chứng")
    assert page.evaluate("window.scrollY") == before  # no reload: the place is kept
    failed.locator("input[name=photo]").set_input_files(
        files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": JPEG}]
    )
    failed.locator("button[type=submit]").scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    failed.locator("button[type=submit]").click()
    expect(first.locator(".attempts")).to_contain_text("1/2")
    expect(page.locator("#done-count")).to_have_text("Đã xong 2/4 điểm dừng")
    # The stop's form is gone: the stop and the next one in view, never back at the top.
    assert page.evaluate("window.scrollY") > 0
    expect(first).to_be_in_viewport()
    expect(page.locator(f"#stop-{seq + 1}")).to_be_in_viewport()
    shot(page, "courier-02-failed-pickup-in-place")
    with Session(server.engine) as s:
        attempt = s.exec(
            select(CustodyEvent).where(CustodyEvent.type == EventType.attempt_failed)
        ).one()
    assert json.loads(attempt.proof)["photo_sha256"] == hashlib.sha256(JPEG).hexdigest()

    # The citizen comes back: the pickup, the optional paper left unticked.
    first = page.locator(f"#stop-{seq}")
    first.locator(f"#pickup-{seq} summary").click()
    first.locator("form.otp button").click()
    expect(first.locator(".success")).to_be_visible()
    form = first.locator("form[data-event='pickup']")
    optional = form.locator("input[type=checkbox][data-optional]")
    assert optional.count() >= 1
    for box in form.locator("input[type=checkbox]:not([data-optional])").all():
        box.check()
    form.locator("input[name=seal_number]").fill("S-0001")
    receipt = form.locator("input[name=receipt_number]")
    if receipt.count():
        receipt.fill("BL-0001")
    form.locator("input[name=otp_code]").fill("000000")  # a wrong code first
    form.locator("button[type=submit]").click()
    refused = form.locator(".queued-note.error")
    expect(refused).to_be_visible()
    parts = refused.inner_text().split(": ", 1)[1].split(" — ")
    assert len(parts) == len(set(parts)), parts  # each refusal once
    form.locator("input[name=otp_code]").fill(_otp(server, "912300001"))
    form.locator("button[type=submit]").click()
    expect(page.locator(f"#stop-{seq}.state-picked_up")).to_have_count(1)
    expect(page.locator("#next-stop")).to_have_attribute("href", re.compile(r"#stop-\d+"))

    # The handover record: opened once, shown once, and its button gone.
    page.locator("form.handover button").click()
    expect(page.locator(".record")).to_have_count(1)
    expect(page.locator("form.handover")).to_have_count(0)
    shot(page, "courier-03-record-open")

    # Reload without network: the service worker's copy of the route.
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller")
    context.set_offline(True)
    page.reload()
    expect(page.locator("li.stop")).to_have_count(4)
    expect(page.locator("#offline-note")).to_be_visible()
    shot(page, "courier-04-offline-reload")
    context.set_offline(False)

    # Audit with every form open, at both sizes.
    page.reload()
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        page.evaluate("document.querySelectorAll('li.stop details').forEach(d => d.open = true)")
        assert_accessible(page, f"/courier (forms open) {size['width']}")
        small = page.evaluate(SMALL_TARGETS)
        assert small == [], small
    shot(page, "courier-05-desktop-forms-open")
    context.close()

    # Another courier of the office sees none of it: neither names nor phones.
    with Session(server.engine) as s:
        create_user(
            s,
            username="courier2",
            password=PASSWORD,
            role=Role.courier,
            full_name="Courier Two",
            post_office_codes=[OFFICE],
        )
        s.commit()
    other = _context(browser, server).new_page()
    _login(other, server, "courier2")
    other.goto(f"{server.url}/courier?date={day}")
    text = other.content()
    for booking in (morning, afternoon):
        assert booking["citizen_name"] not in text
        assert "0912300001" not in text and "+84912300001" not in text
    other.context.close()
