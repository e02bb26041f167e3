"""The ledger bench: concurrent couriers post event batches to a real server, with re-sends.

Each item gets two events (pickup, then arrival at the post office). Clients re-send 10% of
their batches after the reply (replays) and drop 2% of their connections before the reply
(timeouts), re-sending those. Afterwards the database is compared with what was acknowledged.

Latency: ``event_ack_*`` (the goal's figure) runs from when an event's batch was due to the
reply acknowledging it, re-sends included; ``batch_*`` is each first request's round trip.
Without ``rate`` every client sends its next batch on the reply, so the latency is mostly
queueing (about clients x 10 / throughput); with ``rate`` the clients keep to a schedule and
the latency is measured at that offered load.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import create_user, login
from postal.booking.models import Booking, Item, ItemState
from postal.catalogue import service as catalogue
from postal.catalogue.models import Desk, Procedure
from postal.config import REPO_ROOT
from postal.db import make_engine, utcnow
from postal.ids import format_s10
from postal.tracking import ledger
from postal.tracking.models import CustodyEvent

BATCH_ITEMS = 5  # five items, two events each: ten events per request
RESEND_RATE = 0.10
DISCONNECT_RATE = 0.02
# A drawn signature as the courier page sends it (strokes of [x, y] canvas pixels).
STROKES = [[[10 + 4 * i, 30 + (i % 4) * 6] for i in range(16)]]
PATH = "/api/v1/events"


@dataclass
class ClientStats:
    """What one client saw.

    ``batch_ms`` has one entry per first (non-replay) request answered 200: its round trip.
    ``event_ms`` has one entry per acknowledged event: from the moment its batch was due (its
    first send, or its scheduled time under ``--rate``) to the reply acknowledging it, so
    dropped connections, re-sends and waiting behind an earlier batch all count.
    """

    batch_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    resent: int = 0
    disconnects: int = 0
    errors: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(engine: Engine, items: int) -> tuple[list[str], str, dict[str, Any]]:
    """Create ``items`` booked dossiers and a courier; returns the numbers, token, template."""
    from postal.catalogue.load import load_locality
    from postal.migrations import upgrade

    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        if session.exec(select(func.count()).select_from(Desk)).one() == 0:
            load_locality(session, REPO_ROOT / "data", "hanoi")
            session.commit()
        desk = session.get(Desk, "MC-00004")
        assert desk is not None
        office = catalogue.serving_post_office(session, desk.commune_code)
        assert office is not None
        proc = session.exec(
            select(Procedure)
            .where(col(Procedure.dossier_pickup), col(Procedure.in_person_only).is_(False))
            .order_by(col(Procedure.code))
        ).first()
        assert proc is not None
        docs = catalogue.procedure_documents(session, proc.code)
        checklist = [{"position": d.position, "present": True, "form": d.kind.value} for d in docs]
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_user(
            session,
            username=name,
            password="bench-password",
            role=Role.courier,
            full_name="Bench Courier",
            post_office_codes=[office.code],
        )
        session.commit()
        token, _ = login(session, name, "bench-password", 24)
        session.commit()
        now = utcnow()
        run = random.randrange(10_000_000, 90_000_000 - items)
        numbers: list[str] = []
        booking_rows: list[dict[str, Any]] = []
        for k in range(items):
            booking_rows.append(
                {
                    "reference": f"HS-B{uuid.uuid4().hex[:10].upper()}",
                    "service_form": "dossier_pickup",
                    "status": "booked",
                    "channel": "staff",
                    "procedure_code": proc.code,
                    "desk_code": desk.code,
                    "post_office_code": office.code,
                    "citizen_name": "Bench Citizen",
                    "phone": "+84912345678",
                    "id_number_hash": "0" * 64,
                    "id_number_masked": "001*******99",
                    "address_text": "Bench address",
                    "commune_code": desk.commune_code,
                    "location_approximate": True,
                    "date": now.date(),
                    "slot": "morning",
                    "zone": "same_commune",
                    "fee_collection": False,
                    "postal_fee_vnd": 0,
                    "procedure_fee_vnd": 0,
                    "access_token_hash": uuid.uuid4().hex,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            numbers.append(format_s10("BB", run + k, "VN"))
        for start in range(0, items, 5000):
            chunk = booking_rows[start : start + 5000]
            session.execute(insert(Booking), chunk)
        refs = [r["reference"] for r in booking_rows]
        ids: dict[str, int] = {}
        for start in range(0, items, 5000):
            part = refs[start : start + 5000]
            for ref, bid in session.execute(
                select(Booking.reference, Booking.id).where(col(Booking.reference).in_(part))
            ).all():
                ids[ref] = int(bid)
        item_rows = [
            {
                "number": numbers[k],
                "booking_id": ids[refs[k]],
                "kind": "dossier",
                "procedure_code": proc.code,
                "desk_code": desk.code,
                "state": "booked",
                "created_at": now,
            }
            for k in range(items)
        ]
        for start in range(0, items, 5000):
            session.execute(insert(Item), item_rows[start : start + 5000])
        session.commit()
    if engine.dialect.name == "postgresql":
        # After a bulk load the planner has no statistics yet (autovacuum would gather them a
        # little later); without them it guesses hundreds of rows per item number and scans.
        with engine.connect() as conn:
            conn.execute(text("ANALYZE booking, item, item_custody"))
            conn.commit()
    template = {"checklist": checklist, "office": office.code}
    return numbers, token, template


def _events_for(numbers: list[str], template: dict[str, Any]) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    out: list[dict[str, Any]] = []
    for number in numbers:
        out.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": "pickup",
                "item_number": number,
                "device_time": (now - dt.timedelta(minutes=2)).isoformat(),
                "seal": {"number": "S-1", "state": "intact"},
                "checklist": template["checklist"],
                "acknowledgement": {"method": "signature", "signature_strokes": STROKES},
            }
        )
    for number in numbers:
        out.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": "arrive_post_office",
                "item_number": number,
                "device_time": (now - dt.timedelta(minutes=1)).isoformat(),
            }
        )
    return out


@dataclass(frozen=True)
class Batch:
    """One request body, encoded before the clock starts so the client spends little CPU."""

    body: bytes
    event_ids: tuple[str, ...]


def _batches(numbers: list[str], template: dict[str, Any]) -> list[Batch]:
    out: list[Batch] = []
    for start in range(0, len(numbers), BATCH_ITEMS):
        events = _events_for(numbers[start : start + BATCH_ITEMS], template)
        body = json.dumps({"events": events}, separators=(",", ":")).encode()
        out.append(Batch(body, tuple(e["event_id"] for e in events)))
    return out


class _Connection:
    """A minimal HTTP/1.1 keep-alive connection of one courier.

    The bench shares the server's cores, so it writes pre-encoded requests and reads
    Content-Length replies, nothing more.
    """

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request and read its reply (status, body); raises OSError on a lost link."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _post(conn: _Connection, body: bytes) -> tuple[int, bytes] | None:
    """One request; None when the connection broke (the outcome is then unknown)."""
    try:
        return await conn.post(body)
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        conn.close()
        return None


async def _client(
    conn: _Connection,
    batches: list[Batch],
    stats: ClientStats,
    start_at: float,
    interval_s: float,
) -> None:
    """Send the batches one after the other (a courier's device), or on a schedule if paced."""
    rng = random.Random()
    for j, batch in enumerate(batches):
        due = start_at + j * interval_s
        if interval_s:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            due = time.perf_counter()
        while True:
            if rng.random() < DISCONNECT_RATE:
                # Drop the connection before the reply: the outcome is unknown, so re-send.
                stats.disconnects += 1
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(_post(conn, batch.body), 0.002)
                conn.close()
            started = time.perf_counter()
            reply = await _post(conn, batch.body)
            ended = time.perf_counter()
            if reply is None or reply[0] != 200:
                stats.errors += 1
                if reply is not None:
                    await asyncio.sleep(0.05)
                continue
            stats.batch_ms.append((ended - started) * 1000)
            results = json.loads(reply[1])["results"]
            acked = [r["event_id"] for r in results if r["status"] in ("recorded", "replayed")]
            stats.acknowledged.update(acked)
            stats.event_ms.extend([(ended - due) * 1000] * len(acked))
            stats.errors += sum(1 for r in results if r["status"] == "rejected")
            if rng.random() < RESEND_RATE:
                stats.resent += 1
                again = await _post(conn, batch.body)
                if again is not None and again[0] == 200:
                    stats.acknowledged.update(
                        r["event_id"]
                        for r in json.loads(again[1])["results"]
                        if r["status"] == "replayed"
                    )
            break


def _run_in_own_loop(
    port: int,
    token: str,
    work: list[list[Batch]],
    stats: list[ClientStats],
    rate: float,
) -> float:
    """Drive the clients on an event loop of their own thread: the caller may already run one
    (a test process that drove a browser, a notebook)."""
    result: list[float] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(_drive(port, token, work, stats, rate)))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="ledger-bench-clients")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _drive(
    port: int, token: str, work: list[list[Batch]], stats: list[ClientStats], rate: float
) -> float:
    """Run every client on one event loop (one keep-alive connection each); returns seconds."""
    clients = len(work)
    # Paced: each client sends one batch every ``interval``, the clients spread over it.
    interval = clients * 2 * BATCH_ITEMS / rate if rate > 0 else 0.0
    conns = [_Connection(port, token) for _ in range(clients)]
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                _client(conns[k], work[k], stats[k], started + k * interval / clients, interval)
                for k in range(clients)
            )
        )
    finally:
        for conn in conns:
            conn.close()
    return time.perf_counter() - started


def _start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, POSTAL_DATABASE_URL=url)
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
            "--workers",
            str(workers),
        ],
        cwd=REPO_ROOT,
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start")


def _percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0-100) of sorted ``values``."""
    if not values:
        return None
    rank = max(1, math.ceil(len(values) * q / 100))
    return round(values[rank - 1], 1)


def run(
    database_url: str,
    clients: int,
    events: int,
    out: Path | None,
    workers: int = 2,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Run the bench and return its figures (also written as CSV under ``out``).

    ``rate`` 0 sends as fast as the server answers (each client waits for its reply, so the
    latency is mostly queueing: about clients x 10 events / throughput); a positive ``rate``
    paces the clients to that many events per second in total and measures the latency at it.
    """
    engine = make_engine(database_url)
    items = max(clients, events // 2)
    numbers, token, template = prepare(engine, items)
    work = [_batches(numbers[k::clients], template) for k in range(clients)]
    port = _free_port()
    server = _start_server(database_url, port, workers)
    stats = [ClientStats() for _ in range(clients)]
    load_before = os.getloadavg()[0]
    try:
        elapsed = _run_in_own_loop(port, token, work, stats, rate)
    finally:
        load_after = os.getloadavg()[0]
        server.terminate()
        server.wait(timeout=30)
    acknowledged = set().union(*(s.acknowledged for s in stats))
    batch_ms = sorted(x for s in stats for x in s.batch_ms)
    event_ms = sorted(x for s in stats for x in s.event_ms)
    with Session(engine) as session:
        stored_ids: set[str] = set()
        wanted = list(acknowledged)
        for start in range(0, len(wanted), 5000):
            stored_ids.update(
                session.exec(
                    select(CustodyEvent.event_id).where(
                        col(CustodyEvent.event_id).in_(wanted[start : start + 5000])
                    )
                ).all()
            )
        rows = session.execute(
            text(
                "SELECT i.state, count(e.seq) FROM item i LEFT JOIN custody_event e "
                "ON e.item_id = i.id WHERE i.number = ANY(:n) GROUP BY i.id, i.state"
                if engine.dialect.name == "postgresql"
                else "SELECT 1, 1 WHERE 0"
            ),
            {"n": numbers},
        ).all()
        duplicated = sum(max(0, int(n) - 2) for _, n in rows)
        inconsistent = sum(
            1 for state, n in rows if state != ItemState.at_post_office.value or int(n) != 2
        )
        report = ledger.verify(session)
    figures: dict[str, Any] = {
        "clients": clients,
        "workers": workers,
        "rate_target": rate or "max",
        "events": 2 * items,
        "seconds": round(elapsed, 2),
        "events_per_s": round(2 * items / elapsed, 1),
        "event_ack_p50_ms": _percentile(event_ms, 50),
        "event_ack_p99_ms": _percentile(event_ms, 99),
        "batch_p50_ms": _percentile(batch_ms, 50),
        "batch_p99_ms": _percentile(batch_ms, 99),
        "requests": len(batch_ms),
        "resent_batches": sum(s.resent for s in stats),
        "disconnects": sum(s.disconnects for s in stats),
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged - stored_ids),
        "duplicated": duplicated,
        "inconsistent_items": inconsistent,
        "rejected_or_errors": sum(s.errors for s in stats),
        "ledger_ok": report.ok,
        "ledger_events": report.events,
        "load_1min_before_after": f"{load_before:.1f}/{load_after:.1f}",
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "ledger_bench.csv"
        new = not path.exists()
        with path.open("a", encoding="utf-8") as fh:
            if new:
                fh.write(",".join(figures) + "\n")
            fh.write(",".join(str(v) for v in figures.values()) + "\n")
    engine.dispose()
    return figures
