"""kill -9 of the server under load: every acknowledged event survives the restart."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from postal.auth.service import login
from postal.config import REPO_ROOT
from postal.tracking import ledger
from postal.tracking.models import CustodyEvent
from tests.conftest import make_settings
from tests.tracking.helpers import SIGNATURE_ACK, checklist, world


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, POSTAL_DATABASE_URL=url, POSTAL_SECRET_KEY="test-secret-key-0123456789")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


@pytest.mark.postgres
def test_kill_9_keeps_acknowledged_events(pg_engine: Engine) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    settings = make_settings(url)
    with Session(pg_engine, expire_on_commit=False) as session:
        w = world(session, settings)
        token, _ = login(session, "courier1", "password123", 12)
        session.commit()
        docs = checklist(session, w.dossier)
    port = _port()
    server = _serve(url, port)
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        # The dossier is picked up once; then many corrections (each a new ledger event).
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            first_id = str(uuid.uuid4())
            first: dict[str, Any] = {
                "event_id": first_id,
                "type": "pickup",
                "item_number": w.dossier.number,
                "device_time": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat(),
                "seal": {"number": "S-1"},
                "checklist": docs,
                "fees": {"postal_fee_vnd": w.booking.postal_fee_vnd, "receipt_number": "B-1"},
                "acknowledgement": SIGNATURE_ACK,
            }
            reply = client.post("/api/v1/events", json={"events": [first]}, timeout=60)
            assert reply.json()["results"][0]["status"] == "recorded", reply.text
            acknowledged.append(first_id)
            k = 0
            while not stop.is_set():
                k += 1
                body: dict[str, Any] = {
                    "event_id": str(uuid.uuid4()),
                    "type": "correction",
                    "item_number": w.dossier.number,
                    "device_time": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)).isoformat(),
                    "corrects_event_id": first["event_id"],
                    "correction": {"note": k},
                }
                try:
                    reply = client.post("/api/v1/events", json={"events": [body]}, timeout=5)
                except httpx.HTTPError:
                    return
                if reply.status_code == 200 and reply.json()["results"][0]["status"] in (
                    "recorded",
                    "replayed",
                ):
                    acknowledged.append(body["event_id"])

    thread = threading.Thread(target=load)
    thread.start()
    # Kill under load: once enough events are acknowledged (a busy machine may need longer).
    deadline = time.monotonic() + 60
    while len(acknowledged) < 20 and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.1)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    thread.join()
    assert len(acknowledged) > 5
    server = _serve(url, port)
    try:
        with Session(pg_engine) as session:
            stored = set(
                session.exec(
                    select(CustodyEvent.event_id).where(
                        col(CustodyEvent.event_id).in_(acknowledged)
                    )
                ).all()
            )
            assert stored == set(acknowledged)
            assert ledger.verify(session).ok
    finally:
        server.terminate()
        server.wait()
