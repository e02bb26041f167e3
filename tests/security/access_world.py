"""The world the access matrix runs in: two post offices, two desks, a courier, a clerk and a
dispatcher on each side, an admin, two API keys, a citizen's booking with its access token and
a booking made through the first key, a plan with routes, a picked-up dossier in a handover
record, a queued optimise problem, a message and a webhook delivery.

Everything "ours" belongs to post office A, desk A and key A; the "_other" roles belong to
post office B, desk B and key B. The world is built once into an SQLite file; each request of
the matrix runs against a fresh copy of it (the SQLite backup API), so no request sees the
writes of another.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, select

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from postal.booking.models import Booking, Item
from postal.catalogue.models import ItemKind, PostOffice
from postal.notify import webhooks
from postal.notify.models import Notification
from postal.planning.models import PlannedStop
from tests.booking.helpers import booking_body
from tests.conftest import NEXT_DAY, NOW, make_settings, run_tasks
from tests.tracking.helpers import pickup_body

PASSWORD = "access-pass-123"
DESK_A, DESK_B = "MC-00004", "MC-00008"
#: Every role of the matrix, in the table's column order.
ROLES = (
    "anonymous",
    "citizen",
    "courier",
    "courier_other",
    "clerk",
    "clerk_other",
    "dispatcher",
    "dispatcher_other",
    "admin",
    "api_key",
    "api_key_other",
)
OPTIMISE_PROBLEM: dict[str, Any] = {
    "vehicles": [{"id": 1, "start_index": 0, "end_index": 0, "capacity": [4]}],
    "jobs": [
        {"id": 11, "location_index": 1, "delivery": [1]},
        {"id": 12, "location_index": 2, "delivery": [1]},
    ],
    "matrices": {"car": {"durations": [[0, 60, 90], [60, 0, 40], [90, 40, 0]]}},
}

#: The same problem in plan mode: the vehicle's route given as steps.
OPTIMISE_PLAN_PROBLEM: dict[str, Any] = {
    **OPTIMISE_PROBLEM,
    "vehicles": [
        {
            **OPTIMISE_PROBLEM["vehicles"][0],
            "steps": [{"type": "job", "id": 12}, {"type": "job", "id": 11}],
        }
    ],
}


@dataclass
class AccessWorld:
    """The built world: its file, each role's headers and the ids requests name."""

    path: Path
    headers: dict[str, dict[str, str]]
    ids: dict[str, Any] = field(default_factory=dict)


def _app(url: str, engine: Engine | None = None) -> tuple[FastAPI, Engine]:
    from api.deps import get_now
    from api.main import create_app
    from postal.db import make_engine

    # Optimise problems are queued, never waited for (no worker runs beside the matrix).
    settings = make_settings(url, optimise_sync_max_tasks=0)
    engine = engine or make_engine(url)
    app = create_app(settings, engine)
    app.dependency_overrides[get_now] = lambda: NOW
    return app, engine


def build(template: Path, dest: Path) -> AccessWorld:
    """Build the world into ``dest`` (a copy of the migrated, loaded template)."""
    for stale in (dest, dest.with_name(dest.name + "-wal"), dest.with_name(dest.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copy(template, dest)
    app, engine = _app(f"sqlite:///{dest}")
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    ids: dict[str, Any] = {}
    # Values read stay usable after a commit, and each read ends with one: the app's own
    # connections must never wait on this session's lock.
    with TestClient(app) as client, Session(engine, expire_on_commit=False) as session:
        made = client.post("/api/v1/bookings", json=booking_body(session))
        assert made.status_code == 201, made.text
        ids["reference"] = made.json()["reference"]
        headers["citizen"] = {"Authorization": f"Bearer {made.json()['access_token']}"}
        booking = session.exec(select(Booking).where(Booking.reference == ids["reference"])).one()
        office_a = booking.post_office_code
        office_b = session.exec(
            select(PostOffice.code).where(PostOffice.code != office_a).order_by(PostOffice.code)
        ).first()
        assert office_b is not None
        users = {
            "courier": (Role.courier, {"post_office_codes": [office_a]}),
            "courier_other": (Role.courier, {"post_office_codes": [office_b]}),
            "clerk": (Role.clerk, {"desk_code": DESK_A}),
            "clerk_other": (Role.clerk, {"desk_code": DESK_B}),
            "dispatcher": (Role.dispatcher, {"post_office_codes": [office_a]}),
            "dispatcher_other": (Role.dispatcher, {"post_office_codes": [office_b]}),
            "admin": (Role.admin, {}),
        }
        for name, (role, kw) in users.items():
            create_user(session, username=name, password=PASSWORD, role=role,
                        full_name=name.replace("_", " ").title(), **kw)  # fmt: skip
        keys = {"api_key": create_api_key(session, "system-a")}
        keys["api_key_other"] = create_api_key(session, "system-b")
        session.commit()
        for name in users:
            r = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for name, key in keys.items():
            headers[name] = {"X-API-Key": key}
        # A result delivery booked by the first one-stop system.
        by_key = client.post(
            "/api/v1/bookings",
            json=booking_body(session, service_form="result_delivery", slot="afternoon"),
            headers=headers["api_key"],
        )
        assert by_key.status_code == 201, by_key.text
        ids["key_reference"] = by_key.json()["reference"]
        items = session.exec(select(Item).where(Item.booking_id == booking.id)).all()
        dossier = next(i for i in items if i.kind == ItemKind.dossier)
        ids["item_number"] = dossier.number
        # A second citizen booking at post office A whose dossier is still at home.
        waiting = client.post("/api/v1/bookings", json=booking_body(session, slot="afternoon"))
        assert waiting.status_code == 201, waiting.text
        waiting_booking = session.exec(
            select(Booking).where(Booking.reference == waiting.json()["reference"])
        ).one()
        waiting_dossier = session.exec(
            select(Item).where(Item.booking_id == waiting_booking.id, Item.kind == ItemKind.dossier)
        ).one()
        ids["waiting_number"] = waiting_dossier.number
        ids["waiting_pickup"] = pickup_body(
            session, SimpleNamespace(booking=waiting_booking, dossier=waiting_dossier)
        )
        session.commit()
        # The day's plan of post office A, solved.
        plan = client.post(
            "/api/v1/plans",
            json={"date": NEXT_DAY.isoformat(), "post_office_codes": [office_a],
                  "time_limit_s": 1},
            headers=headers["dispatcher"],
        )  # fmt: skip
        assert plan.status_code == 202, plan.text
        ids["plan_id"] = plan.json()["id"]
        run_tasks(client)
        routes = client.get(f"/api/v1/plans/{ids['plan_id']}/routes", headers=headers["admin"])
        assert routes.status_code == 200 and routes.json()["routes"], routes.text
        ids["route_id"] = routes.json()["routes"][0]["id"]
        ids["route_stop_ids"] = list(
            session.exec(
                select(PlannedStop.id)
                .where(PlannedStop.route_id == ids["route_id"])
                .order_by(col(PlannedStop.sequence))
            ).all()
        )
        session.commit()
        # The dossier picked up by courier A and in a handover record for desk A.
        pickup = pickup_body(session, SimpleNamespace(booking=booking, dossier=dossier))
        session.commit()
        number = dossier.number
        r = client.post("/api/v1/events", json={"events": [pickup]}, headers=headers["courier"])
        assert r.status_code in (200, 201), r.text
        record = client.post(
            "/api/v1/handover-records",
            json={"direction": "courier_to_desk", "desk_code": DESK_A,
                  "item_numbers": [number]},
            headers=headers["courier"],
        )  # fmt: skip
        assert record.status_code in (200, 201), record.text
        ids["record_id"] = record.json()["id"]
        job = client.post("/api/v1/optimise", json=OPTIMISE_PROBLEM, headers=headers["dispatcher"])
        assert job.status_code == 202, job.text
        ids["job_id"] = job.json()["id"]
        ids["message_id"] = session.exec(
            select(Notification.id).order_by(col(Notification.id))
        ).first()
        session.commit()
        webhooks.add_endpoint(session, "https://one-stop.example/hook", "hook-secret-123")
        ids["delivery_id"] = webhooks.enqueue(
            session, "booking.created", {"reference": ids["reference"]}, NOW
        )
        session.commit()
        ids["office_a"], ids["office_b"] = office_a, office_b
        ids["new_booking"] = booking_body(session, slot="afternoon")
        ids["procedure_code"] = ids["new_booking"]["procedure_code"]
        session.commit()
        ids["date"] = NEXT_DAY.isoformat()
        ids["today"] = dt.date(2026, 12, 7).isoformat()
    engine.dispose()
    return AccessWorld(dest, headers, ids)


class Replayer:
    """One app over an in-memory database that is reset to the world before each request."""

    def __init__(self, world: AccessWorld) -> None:
        from postal.db import make_engine

        self.world = world
        self.source = sqlite3.connect(world.path, check_same_thread=False)
        self.target = sqlite3.connect(":memory:", check_same_thread=False)
        self.source.backup(self.target)
        target = self.target
        self.engine = make_engine("sqlite://", creator=lambda: target, poolclass=StaticPool)
        self.app, _ = _app("sqlite://", self.engine)
        self.client = TestClient(self.app)
        self.client.__enter__()

    def request(self, role: str, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        """The status and JSON body (None if not JSON) of one request by ``role`` against a
        fresh copy of the world."""
        self.source.backup(self.target)
        self.client.cookies.clear()
        headers = {**self.world.headers[role], **kwargs.pop("headers", {})}
        response = self.client.request(method, url, headers=headers, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    def close(self) -> None:
        """Stop the app and close the databases."""
        self.client.__exit__(None, None, None)
        self.engine.dispose()
        self.source.close()
        self.target.close()
