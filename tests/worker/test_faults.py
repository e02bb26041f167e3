"""The worker tier on the real PostgreSQL queue, with real `postal worker` processes.

A worker killed with ``kill -9`` in the middle of a planning part: the queue gives its task to
the workers still alive (heartbeats) and the plan completes with every item planned once. The
web process that started the plan is gone meanwhile (it only enqueued). A cancel stops the
solving parts within seconds and nothing is written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.config import REPO_ROOT
from postal.db import utcnow
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY, NOW, make_settings
from tests.notify.conftest import Gateway
from tests.notify.conftest import gateway as gateway  # the fixture
from tests.worker.helpers import wait_for

pytestmark = pytest.mark.postgres
PASSWORD = "correct-horse-1"
WORKER_ENV = {
    "POSTAL_WORKER_HEARTBEAT_S": "1",
    "POSTAL_WORKER_STALLED_AFTER_S": "4",
    "POSTAL_WORKER_POLL_S": "0.2",
    "POSTAL_PLAN_PART_MAX_STOPS": "20",  # 15 items, 30 stops: a plan of several parts
}


class Workers:
    """`postal worker` processes on the test's database, stopped (or killed) at the end."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.url = url
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, POSTAL_DATABASE_URL=self.url, **WORKER_ENV)
        env["POSTAL_SECRET_KEY"] = "test-secret-key-0123456789"
        env["POSTAL_DATA_DIR"] = str(REPO_ROOT / "data")
        log = (self.log_dir / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "postal.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def workers(pg_database: str, pg_engine: Engine, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(pg_database, tmp_path)
    yield pool
    pool.stop()


def _app_client(url: str, engine: Engine) -> TestClient:
    from api.deps import get_now
    from api.main import create_app

    app = create_app(make_settings(url), engine)
    app.dependency_overrides[get_now] = lambda: NOW
    return TestClient(app)


def _day_of_bookings(client: TestClient, session: Session, n: int = 15) -> dict[str, str]:
    create_user(session, username="disp", password=PASSWORD, role=Role.dispatcher,
                full_name="Disp", post_office_codes=["115100"])  # fmt: skip
    for k, name in enumerate(("Nguyễn Văn Tâm", "Trần Thị Bình", "Lê Văn An")):
        # Routes go to the roster's named couriers (none without an account).
        create_user(session, username=f"bt{k}", password=PASSWORD, role=Role.courier,
                    full_name=name, post_office_codes=["115100"])  # fmt: skip
    session.commit()
    for k in range(n):
        body = booking_body(
            session,
            service_form="dossier_pickup",
            phone=f"09120001{k:02d}",
            slot="morning" if k % 2 else "afternoon",
        )
        assert client.post("/api/v1/bookings", json=body).status_code == 201
    r = client.post("/api/v1/auth/token", data={"username": "disp", "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_a_worker_killed_mid_part_and_a_web_restart_lose_nothing(
    pg_database: str, pg_engine: Engine, workers: Workers
) -> None:
    with _app_client(pg_database, pg_engine) as web, Session(pg_engine) as session:
        auth = _day_of_bookings(web, session)
        body = {"date": NEXT_DAY.isoformat(), "post_office_codes": ["115100"], "time_limit_s": 8}
        started = web.post("/api/v1/plans", json=body, headers=auth)
        assert started.status_code == 202, started.text
        plan_id = started.json()["id"]
        # A second plan for the same office and day is refused while this one is active.
        assert web.post("/api/v1/plans", json=body, headers=auth).status_code == 409
    # The web process that started the plan is gone now: the plan lives in the queue.
    doomed = workers.start()
    wait_for(
        lambda: _scalar(
            pg_engine,
            "SELECT count(*) FROM plan_part WHERE plan_id = :p AND status = 'running'",
            p=plan_id,
        ),
        60,
        "a part running",
    )
    time.sleep(1.5)  # mid-solve
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    workers.start()  # two workers share what is left
    workers.start()
    wait_for(
        lambda: (
            _scalar(pg_engine, "SELECT status FROM plan_run WHERE id = :p", p=plan_id)
            in ("done", "failed", "cancelled")
        ),
        150,
        "the plan to finish",
    )
    assert _scalar(pg_engine, "SELECT status FROM plan_run WHERE id = :p", p=plan_id) == "done"
    parts = _scalar(pg_engine, "SELECT count(*) FROM plan_part WHERE plan_id = :p", p=plan_id)
    assert parts >= 2
    assert _scalar(
        pg_engine, "SELECT count(*) FROM plan_part WHERE plan_id = :p AND status <> 'done'",
        p=plan_id,
    ) == 0  # fmt: skip
    # The killed part ran again, and its routes are written once.
    assert (
        _scalar(pg_engine, "SELECT max(attempts) FROM plan_part WHERE plan_id = :p", p=plan_id) >= 2
    )
    assert _scalar(
        pg_engine,
        "SELECT count(*) FROM planned_route WHERE plan_id = :p",
        p=plan_id,
    ) == _scalar(pg_engine, "SELECT sum(routes) FROM plan_part WHERE plan_id = :p", p=plan_id)
    per_item = _scalar(
        pg_engine,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM ("
        " SELECT item_number FROM planned_stop WHERE plan_id = :p"
        " UNION ALL SELECT item_number FROM unassigned_stop WHERE plan_id = :p) s"
        " GROUP BY item_number) c",
        p=plan_id,
    )
    assert per_item == 2  # each item's two stops, never twice
    items = _scalar(
        pg_engine,
        "SELECT count(DISTINCT item_number) FROM planned_stop WHERE plan_id = :p",
        p=plan_id,
    )
    assert items == 15
    with _app_client(pg_database, pg_engine) as web:  # a new web process reads the result
        token = web.post("/api/v1/auth/token", data={"username": "disp", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        plan = web.get(f"/api/v1/plans/{plan_id}", headers=auth).json()
        assert plan["parts_done"] == plan["parts_total"] == parts
        assert plan["stop_count"] == 30


def test_a_cancel_stops_the_solving_parts_within_seconds(
    pg_database: str, pg_engine: Engine, workers: Workers
) -> None:
    with _app_client(pg_database, pg_engine) as web, Session(pg_engine) as session:
        auth = _day_of_bookings(web, session)
        body = {"date": NEXT_DAY.isoformat(), "post_office_codes": ["115100"], "time_limit_s": 60}
        plan_id = web.post("/api/v1/plans", json=body, headers=auth).json()["id"]
        workers.start()
        wait_for(
            lambda: _scalar(
                pg_engine,
                "SELECT count(*) FROM plan_part WHERE plan_id = :p AND status = 'running'",
                p=plan_id,
            ),
            60,
            "a part running",
        )
        time.sleep(1)
        cancelled = web.post(f"/api/v1/plans/{plan_id}/cancel", headers=auth)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        t0 = time.monotonic()
        wait_for(
            lambda: (
                _scalar(
                    pg_engine,
                    "SELECT count(*) FROM plan_part WHERE plan_id = :p AND status = 'running'",
                    p=plan_id,
                )
                == 0
            ),
            10,
            "the running part to stop",
        )
        assert time.monotonic() - t0 < 10
        assert web.get(f"/api/v1/plans/{plan_id}", headers=auth).json()["status"] == "cancelled"
        assert (
            _scalar(pg_engine, "SELECT count(*) FROM planned_route WHERE plan_id = :p", p=plan_id)
            == 0
        )
        # The office is free again: a new plan is accepted.
        body["time_limit_s"] = 1
        assert web.post("/api/v1/plans", json=body, headers=auth).status_code == 202


def test_a_worker_killed_while_sending_loses_no_message(
    pg_database: str, pg_engine: Engine, workers: Workers, gateway: Gateway
) -> None:
    """Every message reaches the gateway; a message in flight when its worker died is sent
    again with the same idempotency key (at least once, recognisably the same message)."""
    from postal.notify.outbox import enqueue_message

    gateway.delay_s = 0.15  # a gateway that takes its time: the kill lands mid-send
    WORKER_ENV.update(
        POSTAL_SMS_URL=f"{gateway.url}/sms",
        POSTAL_MESSAGE_CLAIM_TIMEOUT_S="10",
    )
    try:
        with Session(pg_engine) as session:
            for k in range(40):
                params = {"otp": f"{k:06d}", "number": "EB123456785VN", "minutes": 10}
                enqueue_message(session, "otp", params, now=utcnow(), phone=f"09120002{k:02d}")
            session.commit()
        doomed = workers.start()
        wait_for(lambda: len(gateway.requests) >= 8, 60, "the first messages sent")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        workers.start()
        workers.start()
        wait_for(
            lambda: (
                _scalar(pg_engine, "SELECT count(*) FROM notification WHERE status = 'sent'") == 40
            ),
            90,
            "every message sent",
        )
    finally:
        for key in ("POSTAL_SMS_URL", "POSTAL_MESSAGE_CLAIM_TIMEOUT_S"):
            WORKER_ENV.pop(key, None)
    keys = [r["headers"]["Idempotency-Key"] for r in gateway.requests]
    with pg_engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("SELECT message_id FROM notification"))}
    assert set(keys) == ids  # every message reached the gateway, under its own key
    repeats = len(keys) - len(set(keys))
    print(f"messages 40, gateway requests {len(keys)}, sent again after the kill {repeats}")
    assert repeats <= 1  # only the one in flight at the kill (concurrency 1) went twice
    bodies = {json.loads(r["body"])["tracking_id"]: json.loads(r["body"]) for r in gateway.requests}
    assert all("Mã xác nhận" in b["message"] for b in bodies.values())  # diacritics intact
