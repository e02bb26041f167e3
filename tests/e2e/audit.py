"""The accessibility audit of the browser tests: axe-core (MPL-2.0, through the
axe-playwright-python package) run in Chromium on the page as it stands."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

#: The viewports every page is audited at: a phone and a desktop.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

_AXE = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical axe violations of the page (WCAG 2.x A and AA rules)."""
    options = {
        "resultTypes": ["violations"],
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    }
    # Contrast and target sizes depend on the style sheets: let them load first.
    page.wait_for_load_state("load")
    results = _AXE.run(page, options=options)
    found = results.response.get("violations", [])
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def assert_accessible(page: Page, what: str) -> None:
    """Fail with each rule, its help text and the offending elements when axe finds any
    serious or critical violation on the page."""
    bad = serious_violations(page)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:5])
        for v in bad
    ]
    assert not bad, f"accessibility of {what} at {page.viewport_size}:\n" + "\n".join(lines)
