"""Shared fixtures: databases (a fresh SQLite per test, the real PostgreSQL server), app client.

PostgreSQL is never skipped: when the server at POSTAL_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is unreachable, the tests that need it fail.
Each xdist worker gets its own database, created from the server's `test` database.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from postal.config import REPO_ROOT, Settings

PG_URL = os.environ.get(
    "POSTAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ZONE = dt.timezone(dt.timedelta(hours=7))
# A fixed clock for the API tests: Monday 7 December 2026, 07:00 in Hà Nội (no holiday that week).
NOW = dt.datetime(2026, 12, 7, 7, 0, tzinfo=ZONE).astimezone(dt.UTC)
NEXT_DAY = dt.date(2026, 12, 8)

# Tables whose rows tests create; truncated between PostgreSQL tests (reference data stays).
MUTABLE_TABLES = (
    "idempotency_record",
    "access_token",
    "staff_post_office",
    "staff_user",
    "api_key",
    "item",
    "booking",
    "slot_load",
    "issued_item_number",
    "item_number_series",
    "custody_event",
    "ledger_head",
    "item_custody",
    "handover_line",
    "handover_record",
    "otp_challenge",
    "notification",
    "webhook_attempt",
    "webhook_delivery",
    "webhook_endpoint",
    "planned_stop",
    "unassigned_stop",
    "planned_route",
    "plan_part",
    "plan_office",
    "plan_run",
    "optimise_job",
    "rate_limit_counter",
    "ledger_checkpoint",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def make_settings(url: str, **overrides: object) -> Settings:
    """Settings for a test database (no environment leaks in)."""
    values: dict[str, object] = {
        "database_url": url,
        "secret_key": "test-secret-key-0123456789",
        "data_dir": REPO_ROOT / "data",
        "cookie_secure": False,
        # Tests run the queue's tasks themselves (``drain``): no worker thread beside them.
        "embedded_worker": False,
        # Every test client is one address ("testclient"): the per-address limits (sensible
        # for production) are lifted here; tests/security/test_limits.py sets its own.
        "tracking_limit_per_address": 100_000,
        "booking_limit_per_address": 100_000,
        "login_max_failures_per_address": 100_000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh_id_numbers() -> None:
    """Each test's bookings (tests/booking/helpers.py) start from the same ID number."""
    from tests.booking.helpers import reset_id_numbers

    reset_id_numbers()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated with Alembic and loaded with the Hà Nội locality, built once."""
    from postal.catalogue.load import load_locality
    from postal.db import make_engine, session_scope
    from postal.migrations import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as session:
        load_locality(session, REPO_ROOT / "data", "hanoi")
    engine.dispose()
    return path


def _memory_copy(template: Path) -> Engine:
    """A fresh in-memory SQLite holding a copy of the template (the backup API is fast)."""
    source = sqlite3.connect(template)
    target = sqlite3.connect(":memory:", check_same_thread=False)
    source.backup(target)
    source.close()
    from postal.db import make_engine

    return make_engine("sqlite://", creator=lambda: target, poolclass=StaticPool)


@pytest.fixture
def sqlite_engine(sqlite_template: Path) -> Iterator[Engine]:
    """A fresh, migrated and loaded in-memory SQLite database for one test."""
    engine = _memory_copy(sqlite_template)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_database(worker_id: str) -> Iterator[str]:
    """A migrated and loaded PostgreSQL database for this worker (fails if the server is down)."""
    from postal.catalogue.load import load_locality
    from postal.db import make_engine, session_scope
    from postal.migrations import upgrade

    # Unique per test run, so that two runs on one server (CI and a developer) never collide.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
    name = f"postal_test_{run}_{worker_id}".replace("-", "_")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing server is a failure, never a skip
        pytest.fail(f"PostgreSQL at {PG_URL} is required for this test: {exc}")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        load_locality(session, REPO_ROOT / "data", "hanoi")
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    """The worker's PostgreSQL database, emptied of test-made rows after the test."""
    from postal.db import make_engine

    engine = make_engine(pg_database)
    with engine.connect() as conn:
        capacities = conn.execute(text("SELECT code, slot_capacity FROM post_office")).all()
    yield engine
    with engine.begin() as conn:
        # A connection the test left inside a transaction (a worker thread stopped mid-query)
        # would hold its locks for ever: end it, and never wait long for a lock.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state LIKE 'idle in transaction%'"
            )
        )
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
        # Tests shrink capacities to reach a full slot; put the loaded values back.
        for code, capacity in capacities:
            conn.execute(
                text("UPDATE post_office SET slot_capacity = :c WHERE code = :code"),
                {"c": capacity, "code": code},
            )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Both databases: the test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    result: Engine = request.getfixturevalue(name)
    return result


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def settings(engine: Engine) -> Settings:
    """Settings pointing at the test database."""
    return make_settings(str(engine.url))


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    """An API client on the test database with the clock fixed at NOW."""
    from api.deps import get_now
    from api.main import create_app
    from postal.worker.enqueue import forget_opened
    from postal.worker.queue import forget

    forget(settings)  # each test starts with an empty in-memory queue
    forget_opened()
    app = create_app(settings, engine)
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as c:
        yield c


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_client(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[TestClient]:
    """An API client whose app runs its worker thread beside it, as `make demo` does (an
    SQLite file, or the PostgreSQL queue): tasks run while requests wait for them."""
    import shutil

    from api.deps import get_now
    from api.main import create_app
    from postal.db import make_engine
    from postal.worker.enqueue import forget_opened
    from postal.worker.queue import forget

    if request.param == "sqlite":
        path = tmp_path / "live.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        engine = request.getfixturevalue("pg_engine")
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, embedded_worker=True, worker_poll_s=0.1)
    forget(settings)
    forget_opened()
    app = create_app(settings, engine)
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as c:
        yield c


def run_tasks(client: TestClient) -> None:
    """Run every task the app enqueued (and those they enqueue) in this thread, as a worker."""
    from postal.worker.run import drain

    drain(client.app.state.settings, client.app.state.engine)  # type: ignore[attr-defined]
