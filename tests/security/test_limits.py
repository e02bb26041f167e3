"""Rate limits and counters: each limit driven in a bounded loop, its 429s counted exactly.

The database store runs on SQLite and PostgreSQL (the ``engine`` fixture); the Redis store
(the `limits` library) on the Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.limits import client_address, tracking_rule
from postal.auth import service as auth
from postal.auth.models import Role
from postal.booking.models import BookingChannel, Item
from postal.booking.schemas import BookingCreate
from postal.booking.service import create_booking
from postal.config import Settings
from postal.optimise.models import OptimiseJob, OptimiseStatus
from postal.ratelimit import RedisCounters
from postal.tracking import events
from postal.tracking.config import get_tracking_settings
from postal.tracking.models import OtpChallenge
from tests.api.test_optimise import PROBLEM
from tests.booking.helpers import booking_body
from tests.conftest import NOW, make_settings
from tests.tracking.helpers import pickup_body, record, world

REDIS_URL = "redis://127.0.0.1:6379/15"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The app's clock, starting at NOW."""
    return Clock()


def _client(engine: Engine, clock: Clock, **overrides: Any) -> Iterator[TestClient]:
    from api.deps import get_now
    from api.main import create_app
    from postal.worker.enqueue import forget_opened
    from postal.worker.queue import forget

    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, **overrides)
    forget(settings)  # as the ``client`` fixture: an empty in-memory queue per test
    forget_opened()
    app = create_app(settings, engine)
    app.dependency_overrides[get_now] = clock
    with TestClient(app) as c:
        yield c


@pytest.fixture
def limited(request: pytest.FixtureRequest, engine: Engine, clock: Clock) -> Iterator[TestClient]:
    """A client whose settings are the test's ``limits`` marker's keyword arguments."""
    marker = request.node.get_closest_marker("limits")
    yield from _client(engine, clock, **(marker.kwargs if marker else {}))


def _statuses(replies: list[Any]) -> list[int]:
    return [r.status_code for r in replies]


def _retry_after(reply: Any, most: int) -> int:
    assert reply.headers["content-type"].startswith("application/problem+json")
    value = int(reply.headers["retry-after"])
    assert 1 <= value <= most, value
    return value


def _staff(session: Session, name: str, role: Role = Role.admin, **kw: Any) -> None:
    auth.create_user(
        session, username=name, password="right-pass-1", role=role, full_name=name, **kw
    )
    session.commit()


def _login(client: TestClient, name: str, password: str) -> Any:
    return client.post("/api/v1/auth/token", data={"username": name, "password": password})


# -- sign-in -------------------------------------------------------------------------------


@pytest.mark.limits(login_max_failures=3, login_lockout_s=600)
def test_sign_in_locks_a_user_name_out_then_lets_it_in_after_the_wait(
    limited: TestClient, session: Session, clock: Clock
) -> None:
    _staff(session, "alice")
    replies = [_login(limited, "alice", f"wrong-{i}") for i in range(5)]
    assert _statuses(replies) == [401, 401, 401, 429, 429]
    right = _login(limited, "alice", "right-pass-1")  # the right password, during the lockout
    assert right.status_code == 429
    assert right.json()["code"] == "login_locked"
    wait = _retry_after(right, 600)
    assert f"{(wait + 59) // 60} phút" in right.json()["detail"]  # Vietnamese names the wait
    form = limited.post("/staff/login", data={"username": "alice", "password": "right-pass-1"})
    assert form.status_code == 429 and "retry-after" in form.headers
    clock.now = NOW + dt.timedelta(seconds=601)  # the window ends: the lockout with it
    assert _login(limited, "alice", "right-pass-1").status_code == 200
    # A success clears the user name's failures: three more wrong ones before a lockout.
    assert _statuses([_login(limited, "alice", "x") for _ in range(4)]) == [401, 401, 401, 429]


@pytest.mark.limits(login_max_failures_per_address=4, login_max_failures=100)
def test_sign_in_failures_are_counted_per_address(limited: TestClient, session: Session) -> None:
    _staff(session, "bob")
    replies = [_login(limited, f"user{i}", "wrong") for i in range(6)]
    assert _statuses(replies) == [401, 401, 401, 401, 429, 429]
    assert _login(limited, "bob", "right-pass-1").status_code == 429
    _retry_after(replies[-1], 900)


def test_unknown_and_known_user_names_cost_one_hash_each(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _staff(session, "carol")
    inactive = auth.create_user(
        session, username="dave", password="right-pass-1", role=Role.admin, full_name="D"
    )
    inactive.active = False
    session.commit()
    calls: list[str] = []
    real = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    replies = [
        _login(client, "nobody", "whatever-1"),
        _login(client, "carol", "whatever-1"),
        _login(client, "dave", "right-pass-1"),
        _login(client, "carol", "right-pass-1"),
    ]
    assert _statuses(replies) == [401, 401, 401, 200]
    assert len(calls) == 4  # one argon2 verification each, known name or not
    assert replies[0].json() == replies[1].json()  # and the same answer
    assert all(h.startswith("$argon2id$") for h in calls)


@pytest.mark.limits(login_max_concurrent_hashes=1, login_hash_wait_s=0)
def test_sign_ins_beyond_the_hash_slots_are_refused_at_once(
    limited: TestClient, session: Session
) -> None:
    _staff(session, "erin")
    gate: auth.HashGate = limited.app.state.hash_gate  # type: ignore[attr-defined]
    assert gate.slots.acquire(timeout=1)  # another sign-in is hashing
    try:
        busy = _login(limited, "erin", "right-pass-1")
    finally:
        gate.slots.release()
    assert busy.status_code == 429 and busy.json()["code"] == "sign_in_busy"
    _retry_after(busy, 1)
    assert _login(limited, "erin", "right-pass-1").status_code == 200


# -- one-time codes ------------------------------------------------------------------------


def _known_code(session: Session, item: Item, code: str) -> None:
    """Give the item's latest challenge a code the test knows (as the sender would)."""
    challenge = session.exec(
        select(OtpChallenge).where(OtpChallenge.item_id == item.id).order_by(OtpChallenge.id.desc())  # type: ignore[union-attr]
    ).first()
    assert challenge is not None
    challenge.code_hash = hashlib.sha256(f"{item.id}:{code}".encode()).hexdigest()
    session.add(challenge)
    session.commit()


def test_a_code_dies_after_five_wrong_tries(session: Session, settings: Settings) -> None:
    w = world(session, settings)
    events.request_otp(
        session, w.courier, get_tracking_settings(), w.dossier.number, NOW, settings=settings
    )
    session.commit()
    _known_code(session, w.dossier, "123456")

    def attempt(code: str) -> int:
        ack = {"method": "otp", "otp_code": code}
        [result] = record(
            session, settings, w.courier, pickup_body(session, w, acknowledgement=ack)
        )
        return result.http_status

    statuses = [attempt(f"{i:06d}") for i in range(6)] + [attempt("123456")]
    assert statuses == [422, 422, 422, 422, 422, 429, 429]  # the 6th and the right one refused
    events.request_otp(
        session, w.courier, get_tracking_settings(), w.dossier.number, NOW, settings=settings
    )
    session.commit()
    _known_code(session, w.dossier, "654321")
    assert attempt("654321") == 201  # a new code works


@pytest.mark.limits(otp_requests_per_item_hour=2, otp_requests_per_courier_hour=3)
def test_code_requests_are_capped_per_item_and_per_courier(
    limited: TestClient, session: Session, clock: Clock
) -> None:
    settings: Settings = limited.app.state.settings  # type: ignore[attr-defined]
    w = world(session, settings)
    first = w.dossier.number
    other = create_booking(
        session,
        settings,
        BookingCreate.model_validate(booking_body(session, service_form="dossier_pickup")),
        channel=BookingChannel.citizen,
        now=NOW,
    )
    second = other.items[0].number
    session.commit()
    token = _login(limited, "courier1", "password123").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def ask(number: str) -> Any:
        return limited.post(f"/api/v1/items/{number}/otp", headers=headers)

    replies = [ask(first) for _ in range(3)] + [ask(second) for _ in range(2)]
    assert _statuses(replies) == [202, 202, 429, 202, 429]
    assert replies[2].json()["code"] == "otp_item_rate_limited"
    assert replies[4].json()["code"] == "otp_courier_rate_limited"
    assert _retry_after(replies[2], 3600) == 3600  # the oldest code leaves the hour then
    clock.now = NOW + dt.timedelta(hours=1, seconds=1)
    assert ask(first).status_code == 202


# -- public tracking -----------------------------------------------------------------------


@pytest.mark.limits(tracking_limit_per_address=3, tracking_limit_window_s=600)
def test_tracking_is_limited_per_address(limited: TestClient) -> None:
    replies = [limited.get("/api/v1/items/EB000000000VN/tracking") for _ in range(3)]
    replies += [limited.get("/track", params={"number": "EB000000000VN"})]  # the page counts too
    replies += [limited.get("/api/v1/items/EB000000000VN/tracking")]
    assert [r.status_code == 429 for r in replies] == [False, False, False, True, True]
    assert replies[-1].json()["code"] == "tracking_rate_limited"
    _retry_after(replies[-1], 600)
    assert limited.get("/track").status_code == 200  # the empty form is not a look-up


@pytest.mark.limits(tracking_limit_per_address=2, trusted_proxies=["testclient"])
def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_count(
    limited: TestClient,
) -> None:
    def look(address: str) -> int:
        url = "/api/v1/items/EB000000000VN/tracking"
        return limited.get(url, headers={"X-Forwarded-For": f"{address}, 198.51.100.9"}).status_code

    # The proxy appends the caller: the last hop not a trusted proxy is the client.
    assert [look("203.0.113.1") for _ in range(3)] == [422, 422, 429]
    assert look("203.0.113.2") == 429  # the same last hop: 198.51.100.9 is the client here


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    from types import SimpleNamespace

    def request(forwarded: str) -> Any:
        peer = SimpleNamespace(host="192.0.2.7")
        return SimpleNamespace(client=peer, headers={"x-forwarded-for": forwarded})

    untrusted = make_settings("sqlite://")
    trusted = make_settings("sqlite://", trusted_proxies=["192.0.2.7"])
    assert client_address(request("203.0.113.5"), untrusted) == "192.0.2.7"
    assert client_address(request("203.0.113.5"), trusted) == "203.0.113.5"
    assert client_address(request("not-an-address"), trusted) == "192.0.2.7"


# -- anonymous bookings --------------------------------------------------------------------


@pytest.mark.limits(booking_limit_per_address=2, booking_limit_window_s=3600)
def test_anonymous_bookings_are_limited_per_address(limited: TestClient, session: Session) -> None:
    bodies = [booking_body(session) for _ in range(4)]
    session.rollback()
    replies = [limited.post("/api/v1/bookings", json=b) for b in bodies]
    assert _statuses(replies) == [201, 201, 429, 429]
    assert replies[-1].json()["code"] == "booking_rate_limited"
    _retry_after(replies[-1], 3600)
    form = limited.post("/", data={k: str(v) for k, v in bodies[3].items()})
    assert form.status_code == 429


def test_one_active_booking_per_id_number_and_slot(client: TestClient, session: Session) -> None:
    body = booking_body(session)
    session.rollback()
    first = client.post("/api/v1/bookings", json=body)
    assert first.status_code == 201
    again = client.post("/api/v1/bookings", json={**body, "phone": "0987654321"})
    assert again.status_code == 409
    assert again.json()["code"] == "id_number_already_booked"
    assert client.post("/api/v1/bookings", json={**body, "slot": "afternoon"}).status_code == 201
    token = first.json()["access_token"]
    ref = first.json()["reference"]
    cancel = client.post(
        f"/api/v1/bookings/{ref}/cancel", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert cancel.status_code == 200
    assert client.post("/api/v1/bookings", json=body).status_code == 201  # cancelled: free again


# -- /optimise -----------------------------------------------------------------------------


@pytest.mark.limits(optimise_max_in_flight_total=2, optimise_max_in_flight=5)
def test_optimise_has_a_total_cap_across_clients(limited: TestClient, session: Session) -> None:
    for client_name in ("other-a", "other-b"):
        session.add(
            OptimiseJob(
                id=str(uuid.uuid4()),
                client=client_name,
                status=OptimiseStatus.running,
                problem="{}",
                time_limit_s=7,
                seed=0,
            )
        )
    _staff(session, "disp", Role.dispatcher, post_office_codes=["115100"])
    token = _login(limited, "disp", "right-pass-1").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    replies = [
        limited.post("/api/v1/optimise", params={"time_limit_s": 1}, json=PROBLEM, headers=headers)
        for _ in range(2)
    ]
    assert _statuses(replies) == [429, 429]
    assert replies[0].json()["code"] == "optimise_busy"
    assert _retry_after(replies[0], 7) == 7  # the shortest time limit in flight


# -- the Redis store -------------------------------------------------------------------------


def test_redis_store_counts_the_same_way(sqlite_engine: Engine, clock: Clock) -> None:
    settings = make_settings("sqlite://", tracking_limit_per_address=3)
    store = RedisCounters(REDIS_URL)
    store.clear(tracking_rule(settings), "testclient")
    try:
        for client in _client(
            sqlite_engine, clock, rate_limit_storage=REDIS_URL, tracking_limit_per_address=3
        ):
            assert isinstance(client.app.state.rate_limits, RedisCounters)  # type: ignore[attr-defined]
            replies = [client.get("/api/v1/items/EB000000000VN/tracking") for _ in range(5)]
            assert _statuses(replies) == [422, 422, 422, 429, 429]
            _retry_after(replies[-1], 600)
    finally:
        store.clear(tracking_rule(settings), "testclient")
