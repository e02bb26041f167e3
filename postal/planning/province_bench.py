"""`postal bench province`: a province's day planned on the real queue by N worker processes.

The database (PostgreSQL: the queue lives there) is created when missing, migrated, loaded with
the locality, and the province is built once (`postal.planning.province`). Then for each worker
count: start that many `postal worker` processes, wait until the queue sees them, start a plan
for every province post office, enqueue it, poll it to the end, stop the workers, and read what
the plan wrote: served and unassigned stops, couriers, distance, parts, and whether any stop was
written twice or lost.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, func, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from postal.config import Settings

Echo = Callable[[str], None]
# The bench measures planning: its workers take the planning queue only (the province's
# 12,500 booking confirmations, all made at once by the build, are not this day's work).
QUEUES = "planning"
COLUMNS = (
    "workers",
    "plan",
    "status",
    "offices",
    "time_limit_s",
    "stops",
    "served",
    "unassigned",
    "reasons",
    "couriers",
    "km",
    "parts",
    "retried",
    "max_parallel",
    "slowest_part_s",
    "wall_s",
    "speedup",
    "duplicates",
    "missing",
    "load_1m",
)


def require_postgres(url: str) -> None:
    """Refuse any database but PostgreSQL, saying why."""
    backend = make_url(url).get_backend_name()
    if backend != "postgresql":
        raise ValueError(
            f"needs PostgreSQL, got {backend}: the task queue (procrastinate) and its workers "
            "share the plan through PostgreSQL, e.g. "
            "--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postal_province"
        )


def ensure_database(url: str, recreate: bool) -> bool:
    """Create the database of ``url`` on its server (dropped first with ``recreate``); return
    True when it was created now."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("the database URL names no database")
    admin_url = target.set(database="postgres").render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(name)
            if recreate:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists is None:
                conn.execute(text(f"CREATE DATABASE {quoted}"))
            return exists is None
    finally:
        admin.dispose()


@dataclass(frozen=True)
class Province:
    """The province as built in the database: its day, post offices and plannable stops."""

    day: dt.date
    offices: tuple[str, ...]
    stops: int


def prepare_province(
    engine: Engine, settings: Settings, offices: int, stops: int, seed: int, echo: Echo
) -> Province:
    """Migrate, load the locality, and build the province unless this database has it."""
    from postal.catalogue.load import load_locality
    from postal.migrations import upgrade
    from postal.planning.problem import plannable_items
    from postal.planning.province import build_province, province_office_codes

    upgrade(engine)
    with Session(engine) as session:
        existing = province_office_codes(session)
    if not existing:
        with Session(engine) as session:
            load_locality(session, settings.data_dir, settings.locality)
            session.commit()
        echo(f"building the province: {offices} post offices, {stops} stops (seed {seed})")
        started = time.monotonic()
        with Session(engine) as session:

            def progress(done: int, total: int) -> None:
                echo(f"  bookings {done}/{total}  {time.monotonic() - started:.0f} s")

            day = build_province(
                session, settings, offices=offices, stops=stops, seed=seed, progress=progress
            )
            session.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))  # fresh statistics for the planner's queries
        echo(f"built in {time.monotonic() - started:.0f} s")
    with Session(engine) as session:
        from postal.booking.models import Booking

        codes = province_office_codes(session)
        day = session.exec(
            select(func.max(Booking.date)).where(col(Booking.post_office_code).in_(codes))
        ).one()
        if day is None:
            raise ValueError("the province in this database has no bookings; use --recreate")
        planned = sum(2 * len(plannable_items(session, day, c, set())) for c in codes)
    if existing:
        echo(f"reusing the province in this database: {len(codes)} post offices, {planned} stops")
        if day <= dt.date.today():
            raise ValueError(f"the province's bookings are for {day}, not ahead; use --recreate")
    return Province(day, tuple(codes), planned)


@dataclass
class Workers:
    """`postal worker` processes started by the bench, with their log files."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def alive(self) -> int:
        """How many are still running."""
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM each, then SIGKILL whoever is still there after ``grace_s``."""
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.processes:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.logs:
            f.close()


def worker_command() -> list[str]:
    """`postal worker` of this Python: the console script beside it, else ``-m postal.cli``."""
    script = Path(sys.executable).parent / "postal"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "postal.cli"]
    return [*base, "worker", "--concurrency", "1", "--queues", QUEUES]


def start_workers(url: str, n: int, out: Path, tag: str) -> Workers:
    """Start ``n`` worker processes on the database of ``url``, logging to ``out``."""
    env = {**os.environ, "POSTAL_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    workers = Workers()
    for k in range(n):
        log = (out / f"worker-{tag}-{k + 1}.log").open("wb")
        workers.logs.append(log)
        workers.processes.append(
            subprocess.Popen(worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
        )
    return workers


def wait_registered(
    engine: Engine, workers: Workers, since: dt.datetime, timeout_s: float = 120.0
) -> float:
    """Wait until every worker has registered with the queue; return the seconds it took."""
    started = time.monotonic()
    wanted = len(workers.processes)
    while time.monotonic() - started < timeout_s:
        if workers.alive() < wanted:
            raise RuntimeError("a worker exited while starting; see its log in the output folder")
        with engine.connect() as conn:
            seen = conn.execute(
                text("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= :t"),
                {"t": since},
            ).scalar_one()
        if seen >= wanted:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"workers not registered with the queue after {timeout_s:.0f} s")


def waiting_jobs(engine: Engine) -> dict[str, int]:
    """Jobs waiting or running in the queue, per queue."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT queue_name, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing') GROUP BY queue_name"
            )
        ).all()
    return {str(q): int(n) for q, n in rows}


@dataclass
class RunResult:
    """One plan solved by ``workers`` processes, as read back from the database."""

    workers: int
    plan: int
    status: str
    offices: int
    time_limit_s: float
    stops: int
    served: int
    unassigned: int
    reasons: dict[str, int]
    couriers: int
    km: float
    parts: int
    retried: int
    max_parallel: int
    slowest_part_s: float
    wall_s: float
    duplicates: int
    missing: int
    message: str = ""
    speedup: float | None = None
    load_1m: float = 0.0
    """The machine's mean 1-minute load average during the run (other work skews wall s)."""

    def row(self) -> dict[str, Any]:
        """The CSV/table row."""
        return {
            "workers": self.workers,
            "plan": self.plan,
            "status": self.status,
            "offices": self.offices,
            "time_limit_s": self.time_limit_s,
            "stops": self.stops,
            "served": self.served,
            "unassigned": self.unassigned,
            "reasons": "; ".join(f"{r}: {n}" for r, n in sorted(self.reasons.items())) or "-",
            "couriers": self.couriers,
            "km": f"{self.km:.1f}",
            "parts": self.parts,
            "retried": self.retried,
            "max_parallel": self.max_parallel,
            "slowest_part_s": f"{self.slowest_part_s:.1f}",
            "wall_s": f"{self.wall_s:.1f}",
            "speedup": f"{self.speedup:.2f}" if self.speedup is not None else "",
            "duplicates": self.duplicates,
            "missing": self.missing,
            "load_1m": f"{self.load_1m:.1f}",
        }


def run_once(
    engine: Engine,
    settings: Settings,
    province: Province,
    n_workers: int,
    time_limit_s: float,
    seed: int,
    out: Path,
    echo: Echo,
    timeout_s: float,
) -> RunResult:
    """Start ``n_workers`` workers, plan the province's day on the queue, wait, read back."""
    from postal.auth.models import Role
    from postal.auth.service import Principal
    from postal.planning.models import PlanRun, PlanStatus
    from postal.planning.service import start_plan
    from postal.worker.enqueue import defer_plan

    waiting = waiting_jobs(engine)
    if waiting:
        echo(f"  note: jobs already in the queue before the run: {waiting}")
    with engine.connect() as conn:
        since = conn.execute(text("SELECT now()")).scalar_one()
    workers = start_workers(settings.database_url, n_workers, out, f"{n_workers}w")
    try:
        boot = wait_registered(engine, workers, since)
        echo(f"  {n_workers} worker(s) registered with the queue in {boot:.1f} s")
        with Session(engine, expire_on_commit=False) as session:
            plan = start_plan(
                session,
                Principal(role=Role.admin, user_id=None),
                province.day,
                list(province.offices),
                time_limit_s,
                seed=seed,
            )
            session.commit()
            plan_id = plan.id
        assert plan_id is not None
        deferred_at = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        defer_plan(settings, plan_id)
        active = (PlanStatus.queued, PlanStatus.running)
        last = ""
        last_echo = 0.0
        loads: list[float] = []
        while True:
            loads.append(os.getloadavg()[0])
            with Session(engine) as session:
                row = session.get(PlanRun, plan_id)
                assert row is not None
                status = PlanStatus(row.status)
                line = (
                    f"{status.value:<8} parts {row.parts_done}/{row.parts_total}  "
                    f"stops planned {row.stop_count}/{province.stops}"
                )
            elapsed = time.monotonic() - started
            if status not in active:
                break
            if line != last or elapsed - last_echo >= 15:
                echo(f"  [{elapsed:6.1f} s] {line}")
                last, last_echo = line, elapsed
            if workers.alive() == 0:
                echo("  every worker has exited; giving up on this plan")
                break
            if elapsed > timeout_s:
                echo(f"  timeout after {timeout_s:.0f} s; giving up on this plan")
                break
            time.sleep(0.5)
        polled_s = time.monotonic() - started
        echo(f"  [{polled_s:6.1f} s] {line}")
    finally:
        workers.stop()
    result = read_result(engine, plan_id, n_workers, province, deferred_at, polled_s)
    result.load_1m = sum(loads) / len(loads)
    return result


def read_result(
    engine: Engine,
    plan_id: int,
    n_workers: int,
    province: Province,
    deferred_at: dt.datetime,
    polled_s: float,
) -> RunResult:
    """What the plan wrote: counts, reasons, distance, parts, and its integrity."""
    from postal.planning.models import PlannedRoute, PlannedStop, PlanPart, PlanRun, UnassignedStop

    with Session(engine) as session:
        plan = session.get(PlanRun, plan_id)
        assert plan is not None
        served = session.exec(
            select(PlannedStop.item_number, PlannedStop.kind).where(PlannedStop.plan_id == plan_id)
        ).all()
        left = session.exec(
            select(UnassignedStop.item_number, UnassignedStop.kind, UnassignedStop.reason).where(
                UnassignedStop.plan_id == plan_id
            )
        ).all()
        routes = session.exec(
            select(PlannedRoute.distance_m).where(
                PlannedRoute.plan_id == plan_id, PlannedRoute.stop_count > 0
            )
        ).all()
        parts = session.exec(select(PlanPart).where(PlanPart.plan_id == plan_id)).all()
    written = Counter((n, k) for n, k in served) + Counter((n, k) for n, k, _ in left)
    duplicates = sum(c - 1 for c in written.values() if c > 1)
    spans = [(p.started_at, p.finished_at) for p in parts if p.started_at and p.finished_at]
    wall = polled_s
    if plan.finished_at is not None:
        wall = (plan.finished_at - deferred_at).total_seconds()
    return RunResult(
        workers=n_workers,
        plan=plan_id,
        status=str(plan.status),
        offices=len(plan.offices()),
        time_limit_s=plan.time_limit_s,
        stops=province.stops,
        served=len(served),
        unassigned=len(left),
        reasons=dict(Counter(r for _, _, r in left)),
        couriers=len(routes),
        km=sum(routes) / 1000,
        parts=len(parts),
        retried=sum(1 for p in parts if p.attempts > 1),
        max_parallel=_max_overlap(spans),
        slowest_part_s=max(((b - a).total_seconds() for a, b in spans), default=0.0),
        wall_s=wall,
        duplicates=duplicates,
        missing=max(0, province.stops - len(written)),
        message=plan.message,
    )


def _max_overlap(spans: Sequence[tuple[dt.datetime, dt.datetime]]) -> int:
    """The most parts that were being solved at the same moment."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def with_speedups(results: list[RunResult]) -> list[RunResult]:
    """Fill each run's speed-up against the one-worker run (when there is one)."""
    base = next((r for r in results if r.workers == 1 and r.wall_s > 0), None)
    for r in results:
        r.speedup = base.wall_s / r.wall_s if base and r.wall_s > 0 else None
    return results
