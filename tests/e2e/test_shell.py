"""The shell in headless Chromium: the shared layout's accessibility (axe, touch targets,
skip link, landmarks, focus ring) on the staff sign-in, staff home, messages, demo phone and
error pages at phone and desktop size; the role-aware staff menu and sign-out; the sign-in
lockout shown as the form with the wait (429, Retry-After), not JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect

from postal.config import REPO_ROOT
from tests.e2e.audit import DESKTOP, PHONE, assert_accessible
from tests.e2e.conftest import PASSWORD, LiveServer, shot

pytestmark = pytest.mark.e2e
VI = "vi-VN"

# Controls smaller than 44 px in either direction (radio and check boxes count through their
# label, which is the target). Inline links inside running text are exempt (WCAG 2.5.5/2.5.8).
_SMALL_TARGETS = """
() => {
  const out = [];
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary,'
            + ' label.radio, label.check';
  for (const el of document.querySelectorAll(sel)) {
    if (el.closest('label.radio, label.check') && el.tagName === 'INPUT') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;            // not rendered
    if (el.classList.contains('skip-link')) continue;         // off screen until focused
    const p = el.parentElement;
    const inline = el.tagName === 'A' && p && p.tagName === 'P'
      && p.textContent.trim() !== el.textContent.trim();
    if (inline) continue;
    if (r.height < 43.5 || r.width < 43.5)
      out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim()}"`
               + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return out;
}
"""

_LANDMARKS = """
() => ({
  banner: document.querySelectorAll('body > header').length,
  main: document.querySelectorAll('main#main').length,
  contentinfo: document.querySelectorAll('body > footer').length,
  lang: document.documentElement.lang,
  overflow: document.documentElement.scrollWidth - window.innerWidth,
})
"""


def _context_page(browser: Browser, server: LiveServer, viewport: dict[str, int]) -> Page:
    size = ViewportSize(width=viewport["width"], height=viewport["height"])
    context = browser.new_context(viewport=size, locale=VI)
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    return context.new_page()


def _check_shell(page: Page, what: str) -> None:
    """axe finds nothing serious; landmarks, language, no sideways scroll, 44 px targets."""
    assert_accessible(page, what)
    marks: dict[str, Any] = page.evaluate(_LANDMARKS)
    assert marks["banner"] == marks["main"] == marks["contentinfo"] == 1, (what, marks)
    assert marks["lang"] == "vi", what
    assert marks["overflow"] <= 0, f"{what} scrolls sideways by {marks['overflow']} px"
    small = page.evaluate(_SMALL_TARGETS)
    assert not small, f"touch targets under 44 px on {what}: {small}"


def _skip_link_works(page: Page) -> None:
    """The first Tab shows the skip link with a focus ring; Enter moves to the main content."""
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is on screen"
    # to_have_css retries until the style sheet has loaded and the ring is drawn.
    expect(skip).to_have_css("outline-style", "solid")
    expect(skip).not_to_have_css("outline-width", "0px")
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def _focus_ring_on_header(page: Page) -> None:
    """The language link on the blue header gets a yellow ring, not a dark one."""
    page.focus("header.top a.lang")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # keyboard focus, so :focus-visible applies
    expect(page.locator("header.top a.lang")).to_have_css("outline-color", "rgb(255, 211, 77)")


def _sign_in(page: Page, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main button[type=submit]")


def _menu_links(page: Page) -> list[str]:
    links: list[str] = page.locator("#staff-menu ul.staff-links a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    return links


def _sign_out(page: Page) -> None:
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/staff/login\?done=signed_out$"))
    expect(page.locator("#notice")).to_be_visible()


def test_shell_pages_are_accessible_and_the_menu_follows_the_role(
    browser: Browser, server: LiveServer
) -> None:
    for viewport, size in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page = _context_page(browser, server, viewport)
        # Anonymous pages: sign-in, the demo phone, a page that does not exist.
        page.goto(f"{server.url}/staff/login")
        _skip_link_works(page)
        _focus_ring_on_header(page)
        _check_shell(page, f"/staff/login ({size})")
        live = page.goto(f"{server.url}/demo/phone")
        assert live is not None and live.headers.get("refresh") == "5"
        _check_shell(page, f"/demo/phone ({size})")
        with page.expect_response(lambda r: "live=0" in r.url) as still:
            page.click("#live-toggle")  # the reader can stop the page reloading itself
        assert "refresh" not in still.value.headers
        missing = page.goto(f"{server.url}/staff/no-such-page")
        assert missing is not None and missing.status == 404
        assert "text/html" in missing.headers["content-type"]  # a page, not problem JSON
        expect(page.locator("h1")).to_have_text("Không tìm thấy trang này.")
        expect(page.locator("#error-page a[href='/staff']")).to_be_visible()
        _check_shell(page, f"404 ({size})")
        if size == "phone":
            shot(page, "shell-404-phone")

        # The dispatcher: bookings of the day, the dispatcher page and the messages page.
        _sign_in(page, server, "disp")
        page.wait_for_url(re.compile(r"/dispatcher$"))
        assert _menu_links(page) == ["/staff", "/dispatcher", "/staff/messages"]
        expect(page.locator("#staff-menu a[href='/dispatcher']")).to_have_attribute(
            "aria-current", "page"
        )
        page.goto(f"{server.url}/staff")
        expect(page.locator("#staff-menu a[href='/staff']")).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.locator("#staff-menu .who")).to_contain_text("Disp (điều phối viên)")
        _check_shell(page, f"/staff as dispatcher ({size})")
        if size == "phone":
            shot(page, "shell-staff-dispatcher-phone")
        page.goto(f"{server.url}/staff/messages")
        expect(page.locator("#staff-menu a[aria-current=page]")).to_have_attribute(
            "href", "/staff/messages"
        )
        _check_shell(page, f"/staff/messages ({size})")
        _sign_out(page)
        _check_shell(page, f"/staff/login after sign-out ({size})")
        assert page.goto(f"{server.url}/staff/messages") is not None
        assert page.url.startswith(f"{server.url}/staff/login")  # signed out for real

        # The clerk: bookings of the day and the desk; no dispatcher or messages page.
        _sign_in(page, server, "clerk")
        page.wait_for_url(re.compile(r"/desk$"))
        assert _menu_links(page) == ["/staff", "/desk"]
        page.goto(f"{server.url}/staff")
        _check_shell(page, f"/staff as clerk ({size})")
        _sign_out(page)
        page.context.close()


def test_courier_menu_and_sign_in_lockout(browser: Browser, server: LiveServer) -> None:
    page = _context_page(browser, server, PHONE)
    # A courier sees the route of the day only: no dispatcher, desk or messages links.
    _sign_in(page, server, "courier")
    page.wait_for_url(re.compile(r"/courier$"))
    assert _menu_links(page) == ["/courier"]
    assert (
        page.locator("#staff-menu a[href^='/dispatcher'], #staff-menu a[href^='/staff']").count()
        == 0
    )
    page.goto(f"{server.url}/staff")  # the staff home is the route page for a courier
    assert page.url == f"{server.url}/courier"
    _sign_out(page)

    # Wrong passwords lock the user name out: the form again, naming the wait, status 429.
    for _ in range(5):
        _sign_in(page, server, "courier", "wrong-password")
        expect(page.locator("#login-error")).to_contain_text("không đúng")
    page.goto(f"{server.url}/staff/login")
    page.fill("#username", "courier")
    page.fill("#password", PASSWORD)  # even the right password waits
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.click("main button[type=submit]")
    reply = info.value
    assert reply.status == 429 and int(reply.headers["retry-after"]) > 0
    assert "text/html" in reply.headers["content-type"]
    minutes = -(-int(reply.headers["retry-after"]) // 60)
    expect(page.locator("#login-error")).to_have_text(
        f"Đăng nhập sai quá nhiều lần; hãy thử lại sau {minutes} phút."
    )
    expect(page.locator("#username")).to_have_value("courier")
    expect(page.locator("#password")).to_be_visible()
    _check_shell(page, "/staff/login locked out (phone)")
    shot(page, "shell-login-locked-phone")
    page.context.close()


# -- The maps in Chromium, without tiles ----------------------------------------------------

_MAP_ORIGIN = "http://maps.test"
_OUTLINE = ".leaflet-overlay-pane path[stroke='#546e7a']"  # a commune outline, drawn
_VENDOR = REPO_ROOT / "api" / "static" / "vendor" / "leaflet"

# The map and its marker groups have finished zooming: no animation running, and the markers
# have not moved over three samples 100 ms apart.
_SETTLED = """
() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const sig = [...document.querySelectorAll('.leaflet-marker-pane .stop-icon')].map(e => {
    const r = e.getBoundingClientRect();
    return `${Math.round(r.left)},${Math.round(r.top)},${e.textContent}`;
  }).join('|');
  window.__stable = window.__lastSig === sig ? (window.__stable || 0) + 1 : 0;
  window.__lastSig = sig;
  return map && !map._animatingZoom && !document.querySelector('.leaflet-cluster-anim')
    && window.__stable >= 3;
}
"""

_ICONS = """
els => els.map(e => {
  const r = e.getBoundingClientRect();
  return {x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height,
          text: e.textContent.trim()};
})
"""


def _show_map(browser: Browser, html: str) -> Page:
    """The map page served as the app serves it (Leaflet from /static), tiles unreachable."""
    context = browser.new_context(viewport=ViewportSize(width=390, height=500), locale=VI)

    def serve(route: Route) -> None:
        url = route.request.url
        if url == f"{_MAP_ORIGIN}/map":
            route.fulfill(body=html, content_type="text/html; charset=utf-8")
        elif url.startswith(f"{_MAP_ORIGIN}/static/vendor/leaflet/"):
            route.fulfill(path=_VENDOR / url.rsplit("/leaflet/", 1)[1])
        else:
            route.abort()  # the tile servers: as without internet

    context.route("**/*", serve)
    page = context.new_page()
    page.goto(f"{_MAP_ORIGIN}/map")
    page.wait_for_selector(".leaflet-marker-pane .stop-icon")
    page.wait_for_function(_SETTLED, polling=100)
    return page


def _covered(label: str) -> set[int]:
    """The visit numbers a marker's label names ("7", "3–5, 9", "3…12")."""
    numbers: set[int] = set()
    for part in label.replace("…", "–").split(","):
        bounds = [int(x) for x in part.strip().split("–")]
        numbers.update(range(bounds[0], bounds[-1] + 1))
    return numbers


def test_city_core_route_and_tracking_maps_read_without_tiles(browser: Browser) -> None:
    from maps.assets import use_local_assets
    from maps.render import route_map, tracking_map
    from maps.types import Point
    from tests.maps.test_maps import COMMUNES, _city_core_route

    route = _city_core_route()
    html = use_local_assets(route_map(route, boundaries=COMMUNES), "/static/vendor/leaflet")
    page = _show_map(browser, html.get_root().render())
    # The commune outlines draw (the map is not a plain grey box) and the legend is there.
    assert page.locator(_OUTLINE).count() >= 1
    expect(page.locator("details.map-legend summary")).to_be_visible()
    icons = page.locator(".leaflet-marker-pane .stop-icon").evaluate_all(_ICONS)
    numbered = [i for i in icons if i["text"] and i["text"][0].isdigit()]
    # No two markers drawn at the same spot: centres at least 12 px apart.
    for k, a in enumerate(numbered):
        for b in numbered[k + 1 :]:
            assert abs(a["x"] - b["x"]) + abs(a["y"] - b["y"]) >= 12, (a["text"], b["text"], a, b)
    # Every visit number can be read, on its own marker or in a group's range.
    covered = set().union(*(_covered(i["text"]) for i in numbered))
    assert set(range(1, len(route.stops) + 1)) <= covered
    assert any("–" in i["text"] or "…" in i["text"] for i in numbered)  # grouped at this zoom
    shot(page, "shell-route-map-city-core")
    # Zoomed in to the street, the groups come apart into single numbers.
    page.evaluate(
        "() => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " m.setView([21.0301, 105.8502], 19, {animate: false}); }"
    )
    page.wait_for_function(_SETTLED, polling=100)
    expect(page.locator(".stop-icon", has_text="10–13, 31")).to_be_visible()
    page.context.close()

    # The citizen's address a few metres from the desk: two symbols side by side.
    home, desk = Point(21.03004, 105.85004), Point(21.03, 105.85)
    html = use_local_assets(
        tracking_map(home, desk, "Desk", boundaries=COMMUNES), "/static/vendor/leaflet"
    )
    page = _show_map(browser, html.get_root().render())
    a, b = page.locator(".leaflet-marker-pane .stop-icon").evaluate_all(_ICONS)
    assert abs(a["x"] - b["x"]) >= (a["w"] + b["w"]) / 2, "the two symbols overlap"
    assert page.locator(_OUTLINE).count() >= 1
    page.context.close()


def test_browsers_get_error_pages_and_the_api_keeps_problem_details(client: TestClient) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    missing = client.get("/desk/nothing-here", headers=html)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy trang này." in missing.text and 'href="/staff"' in missing.text
    wrong = client.get("/staff/logout", headers={**html, "Accept-Language": "en"})
    assert wrong.status_code == 405 and "This page does not accept that action." in wrong.text
    assert "allow" in wrong.headers  # the HTTP error's own headers are kept
    # A page address with an id beyond the database's integers: a page too, not JSON.
    huge = client.get("/desk/records/99999999999", headers=html)
    assert huge.status_code == 422 and huge.headers["content-type"].startswith("text/html")
    assert client.get("/desk/records/99999999999").json()["code"]
    # The API, and clients that do not ask for HTML, keep RFC 9457 problem details.
    api = client.get("/api/v1/nothing", headers=html)
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    assert client.get("/desk/nothing-here").json()["code"] == "not_found"
