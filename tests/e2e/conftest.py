"""A real server (uvicorn in a thread) on a fresh SQLite file, and Debian's headless Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy.engine import Engine

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.config import REPO_ROOT
from postal.db import make_engine, session_scope
from tests.conftest import make_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
PASSWORD = "correct-horse-1"
OFFICE = "115100"
DESK = "MC-00004"


@dataclass
class LiveServer:
    """The app listening on ``url`` with its database engine."""

    url: str
    engine: Engine
    app: Any = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """Serve the app on a free port against a copy of the migrated and loaded database."""
    from api.main import create_app

    db = tmp_path / "e2e.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    port = _free_port()
    # Messages go to the app's own SMS gateway stand-in, as in `postal demo`: a one-time code
    # exists only in the text sent (the outbox row holds none).
    settings = make_settings(
        url,
        plan_time_limit_s=2.0,
        embedded_worker=True,
        worker_poll_s=0.2,
        demo_phone=True,
        sms_url=f"http://127.0.0.1:{port}/demo/sms-gateway",
    )
    engine = make_engine(url)
    with session_scope(engine) as session:
        for username, role, binding in (
            ("disp", Role.dispatcher, {"post_office_codes": [OFFICE]}),
            ("courier", Role.courier, {"post_office_codes": [OFFICE]}),
            ("clerk", Role.clerk, {"desk_code": DESK}),
        ):
            create_user(
                session,
                username=username,
                password=PASSWORD,
                role=role,
                full_name=username.title(),
                **binding,
            )
    app = create_app(settings, engine)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield LiveServer(base, engine, app)
    uv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (no browser download: Debian's chromium is used)."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium from /usr/bin/chromium (`make test` installs it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


def api_token(server: LiveServer, username: str) -> dict[str, str]:
    """A bearer header for a staff member."""
    r = httpx.post(
        f"{server.url}/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot under test-output/screenshots/.

    A page still settling after a form post (the courier page re-renders once its queued events
    are sent) can miss a frame on a busy machine: wait for it to load and try again.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SCREENSHOTS / f"{name}.png")
    for attempt in range(3):
        try:
            page.wait_for_load_state("load", timeout=15_000)
            page.screenshot(path=path, full_page=attempt < 2, animations="disabled", timeout=20_000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
