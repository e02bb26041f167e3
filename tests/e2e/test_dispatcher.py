"""The dispatcher's pages in headless Chromium: a plan started from the page answers at once,
other pages answer while it plans, its progress is live (polled, never a page refresh);
the roster, plan and route pages pass the accessibility audit at phone and desktop sizes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.calendar import to_local
from postal.catalogue import service as catalogue
from postal.db import utcnow
from postal.planning.models import PlanRun
from postal.planning.roster import set_shift
from tests.booking.helpers import eligible_procedure
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import DESK, OFFICE, PASSWORD, LiveServer, shot

pytestmark = pytest.mark.e2e
COURIERS = ("Trần Thị Bình", "Lê Văn An", "Phạm Văn Cường")


def _day(server: LiveServer) -> dt.date:
    with Session(server.engine) as s:
        cal = catalogue.work_calendar(s)
    return cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))


def _setup(server: LiveServer, day: dt.date, bookings: int) -> None:
    """A roster of named couriers (one on leave) and a day of bookings at the office."""
    with Session(server.engine) as s:
        for k, name in enumerate(COURIERS):
            user = create_user(
                s, username=f"bt{k}", password=PASSWORD, role=Role.courier, full_name=name,
                post_office_codes=[OFFICE],
            )  # fmt: skip
            assert user.id is not None
            set_shift(s, user.id, day, "07:30", "17:30", available=k < 2)
        s.commit()
        procedure = eligible_procedure(s)
    for n in range(bookings):
        body: dict[str, Any] = {
            "service_form": "dossier_pickup",
            "procedure_code": procedure,
            "desk_code": DESK,
            "citizen_name": "Nguyễn Văn An",
            "phone": f"09120100{n:02d}",
            "id_number": f"001084{n + 500:06d}",
            "address_text": f"Số {n + 1} phố Quán Thánh",
            "commune_code": "00004",
            "date": day.isoformat(),
            "slot": "morning" if n % 2 else "afternoon",
        }
        r = httpx.post(f"{server.url}/api/v1/bookings", json=body)
        assert r.status_code == 201, r.text


def _login(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", "disp")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dispatcher$"))


def _audit(page: Page, what: str, name: str) -> None:
    """The page as it stands at phone and desktop sizes, with a screenshot of each."""
    for size, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        assert_accessible(page, f"{what} ({label})")
        shot(page, f"{name}-{label}")


def _status(server: LiveServer, plan_id: int) -> str:
    with Session(server.engine) as s:
        plan = s.get(PlanRun, plan_id)
        assert plan is not None
        return str(plan.status)


def test_planning_from_the_page_leaves_the_app_responsive_and_shows_live_progress(
    browser: Browser, server: LiveServer
) -> None:
    day = _day(server)
    _setup(server, day, bookings=10)
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")  # type: ignore[arg-type]
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    page = context.new_page()
    _login(page, server)

    page.goto(f"{server.url}/dispatcher/roster?office={OFFICE}&date={day}")
    names = page.locator("#roster tbody th").all_inner_texts()
    # Dictionary order (the fixture's own courier account is "Courier").
    assert names == ["Courier", "Lê Văn An", "Phạm Văn Cường", "Trần Thị Bình"]
    away = page.locator("#roster tbody tr", has_text="Phạm Văn Cường")
    expect(away.locator("input[type=checkbox]")).not_to_be_checked()
    _audit(page, "the roster page", "d-01-roster")

    page.goto(f"{server.url}/dispatcher?date={day}")
    _audit(page, "the dispatcher page", "d-02-dispatcher")
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    polls: list[str] = []
    loads: list[str] = []

    def seen(request: Request) -> None:
        if "/progress" in request.url:
            polls.append(request.url)

    page.on("request", seen)
    page.on("load", lambda p: loads.append(p.url))
    page.fill("#date", day.isoformat())
    page.fill("#time_limit_s", "8")
    with page.expect_response(re.compile(r"/dispatcher/plans/\d+$")) as answer:
        page.click("#start")
    response = answer.value
    # The plan page: no refresh header or tag; the progress is the script's job.
    assert "refresh" not in {k.lower() for k in response.headers}
    assert page.locator("meta[http-equiv]").count() == 0
    plan_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#progress")).to_be_visible()

    # Meanwhile another page answers, before the plan is done.
    other = context.new_page()
    other.goto(f"{server.url}/dispatcher/roster?office={OFFICE}&date={day}")
    expect(other.locator("#roster")).to_be_visible()
    assert _status(server, plan_id) in ("queued", "running")
    api = other.request.get(f"{server.url}/dispatcher?date={day}")
    assert api.ok and _status(server, plan_id) in ("queued", "running")
    other.close()
    _audit(page, "the plan page while it plans", "d-03-plan-running")
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]

    expect(page.locator("#plan-status")).to_have_attribute("data-status", "done", timeout=90_000)
    # It polled while planning, and loaded the page again only once, when done.
    page.wait_for_load_state("load")
    assert len(polls) >= 2
    assert len([u for u in loads if u.endswith(f"/plans/{plan_id}")]) == 2
    rows = page.locator("#routes tbody tr")
    couriers = set(page.locator("#routes tbody td:first-child a").all_inner_texts())
    assert couriers and "Phạm Văn Cường" not in couriers  # never the one on leave
    assert couriers <= {"Trần Thị Bình", "Lê Văn An", "Courier"}
    stops = sum(int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.stops)"))
    expect(page.locator("#sum-stops")).to_have_text(str(stops))
    _audit(page, "the finished plan page", "d-04-plan-done")

    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    page.locator("#routes tbody td:first-child a").first.click()
    expect(page.locator("#stops li")).not_to_have_count(0)
    _audit(page, "the route page", "d-05-route")
    # A hand reorder: the consequences are shown before anything is saved.
    first = page.locator("#stops input[type=number]").first
    first.fill(str(page.locator("#stops li").count()))
    page.click("#preview-reorder")
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#added-km")).to_contain_text("km")
    _audit(page, "the route page with an edit's preview", "d-06-route-preview")
    context.close()
