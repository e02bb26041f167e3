"""Submit a VROOM-format problem, solve it (the task body's parts), read its plan."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from postal.config import Settings
from postal.db import utcnow
from postal.errors import NotFound, TooManyRequests, ValidationFailed
from postal.optimise.models import OptimiseJob, OptimiseStatus
from postal.routing import model as rm
from postal.routing.plan_mode import choose_eta, has_steps, initial_routes, initial_sequences
from postal.routing.vroom_format import (
    haversine_matrices,
    plan_to_vroom,
    problem_from_vroom,
    vroom_params,
)

ACTIVE = (OptimiseStatus.queued, OptimiseStatus.running)


MAX_NUMBER = 2**31 - 1  # VROOM's own integers; a week is 604,800 seconds
LISTS_OF_OBJECTS = ("vehicles", "jobs", "shipments")


def check_ranges(body: Any) -> None:
    """Shapes and numbers VROOM would refuse, refused here with the place named: lists of
    objects where VROOM has them, every number finite and within VROOM's integers, and
    ``speed_factor`` in (0, 5] as VROOM's API defines it."""
    if not isinstance(body, dict):
        raise ValidationFailed("malformed_problem", "the problem is a JSON object", field="problem")
    for key in LISTS_OF_OBJECTS:
        items = body.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValidationFailed("malformed_problem", f"{key}: a list of objects", field=key)
    for k, vehicle in enumerate(body.get("vehicles", [])):
        speed = vehicle.get("speed_factor", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed <= 5:
            raise ValidationFailed(
                "malformed_problem", "speed_factor: in (0, 5]", field=f"vehicles[{k}].speed_factor"
            )
    _check_numbers(body, "problem")


def _check_numbers(value: Any, where: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if not (math.isfinite(value) and -MAX_NUMBER <= value <= MAX_NUMBER):
            raise ValidationFailed(
                "malformed_problem", f"{where}: {value!r} is out of range", field=where
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{where}.{key}" if where != "problem" else str(key))
    elif isinstance(value, list):
        for k, item in enumerate(value):
            _check_numbers(item, f"{where}[{k}]")


PLAN_MAX_TASKS = 2000
"""Plan mode runs in the web process: jobs plus shipment legs beyond this are refused (422).
Its work is linear in the steps, but the matrices of coordinates grow with the square."""
_UNEXPECTED = (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError)


def parse(settings: Settings, body: dict[str, Any]) -> tuple[rm.Problem, Any]:
    """The problem and its ids; 422 naming the place when malformed, or when a vehicle's
    ``steps`` (the route the search starts from) break a rule."""
    check_ranges(body)
    try:
        problem, ids = problem_from_vroom(
            body, haversine_matrices(settings.circuity_factor, settings.speed_kmh)
        )
        if has_steps(body):
            initial_routes(body, problem, ids)
        return problem, ids
    except _UNEXPECTED as exc:
        raise ValidationFailed("malformed_problem", str(exc), field="problem") from exc


def plan(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """Plan mode (VROOM's ``-c``): the vehicles' ``steps`` with chosen ETAs and violations, in
    VROOM's output format; 422 naming the place when malformed or too big."""
    check_ranges(body)
    tasks = len(body.get("jobs") or []) + 2 * len(body.get("shipments") or [])
    if tasks > PLAN_MAX_TASKS:
        raise ValidationFailed(
            "malformed_problem",
            f"{tasks} tasks: plan mode takes at most {PLAN_MAX_TASKS}",
            field="problem",
        )
    try:
        return choose_eta(body, haversine_matrices(settings.circuity_factor, settings.speed_kmh))
    except _UNEXPECTED as exc:
        raise ValidationFailed("malformed_problem", str(exc), field="problem") from exc


def task_count(problem: rm.Problem) -> int:
    """Jobs plus shipment legs: what decides whether a reply waits for the solve."""
    return len(problem.stops)


def submit(
    session: Session,
    settings: Settings,
    client: str,
    body: dict[str, Any],
    time_limit_s: float,
    seed: int,
) -> OptimiseJob:
    """Check the problem, the client's work in flight and everyone's (429 beyond either limit,
    Retry-After the shortest time limit in flight); write the job (the caller commits, then
    enqueues it)."""
    parse(settings, body)
    if session.get_bind().dialect.name == "postgresql":
        # Two requests at once count one after the other (SQLite's write lock does the same).
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('optimise:total'))"))
    active = col(OptimiseJob.status).in_(ACTIVE)
    mine = OptimiseJob.client == client
    for where, limit, code in (
        (mine, settings.optimise_max_in_flight, "optimise_in_flight"),
        (active, settings.optimise_max_in_flight_total, "optimise_busy"),
    ):
        count, shortest = session.exec(
            select(func.count(), func.min(OptimiseJob.time_limit_s)).where(active, where)
        ).one()
        if count >= limit:
            raise TooManyRequests(code, retry_after=shortest or 1, limit=limit)
    job = OptimiseJob(
        id=str(uuid.uuid4()),
        client=client,
        status=OptimiseStatus.queued,
        problem=json.dumps(body, separators=(",", ":")),
        time_limit_s=time_limit_s,
        seed=seed,
    )
    session.add(job)
    return job


def get(session: Session, job_id: str, client: str | None) -> OptimiseJob:
    """A job by id for its client (None: any client); 404 otherwise."""
    job = session.get(OptimiseJob, job_id[:36])
    if job is None or (client is not None and job.client != client):
        raise NotFound("unknown_optimise_job")
    return job


def start(engine: Engine, settings: Settings, job_id: str) -> tuple[rm.Problem, Any] | None:
    """Mark the job running and parse it; None when it is finished already."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(OptimiseJob, job_id)
        if job is None or job.status not in ACTIVE:
            return None
        job.status = OptimiseStatus.running
        session.add(job)
        session.commit()
        return parse(settings, json.loads(job.problem))


def params(engine: Engine, settings: Settings, job_id: str) -> rm.SolveParams:
    """The solver parameters the job was submitted with (processes: the deployment's), with
    the vehicles' ``steps`` as the routes the search starts from."""
    with Session(engine) as session:
        job = session.get(OptimiseJob, job_id)
        assert job is not None
        body = json.loads(job.problem)
        # VROOM's objective: priorities, tasks served, then the vehicles' costs.
        out = vroom_params(job.time_limit_s, job.seed, settings.plan_solver_processes, source=body)
    if not has_steps(body):
        return out
    problem, ids = parse(settings, body)
    routes = initial_routes(body, problem, ids)
    return replace(out, initial=initial_sequences(routes, len(problem.couriers)))


def unfinished(engine: Engine, lost_after: dt.timedelta) -> list[str]:
    """Jobs still queued or running; those older than ``lost_after`` are failed instead
    (their client's limit is freed) and left out."""
    cutoff = utcnow() - lost_after
    with Session(engine) as session:
        rows = session.exec(select(OptimiseJob).where(col(OptimiseJob.status).in_(ACTIVE))).all()
        alive = []
        for job in rows:
            if job.created_at < cutoff:
                job.status = OptimiseStatus.failed
                job.error = "not solved in time: submit it again"
                job.finished_at = utcnow()
                session.add(job)
            else:
                alive.append(job.id)
        session.commit()
        return alive


def finish(
    engine: Engine,
    job_id: str,
    parsed: tuple[rm.Problem, Any] | None,
    plan: rm.Plan | None,
    error: str = "",
) -> None:
    """Store the plan in VROOM's format (or the error)."""
    with Session(engine) as session:
        job = session.get(OptimiseJob, job_id)
        if job is None or job.status == OptimiseStatus.done:
            return
        if plan is not None and parsed is not None:
            problem, ids = parsed
            job.result = json.dumps(plan_to_vroom(problem, ids, plan), ensure_ascii=False)
            job.status = OptimiseStatus.done
        else:
            job.status = OptimiseStatus.failed
            job.error = error[:500]
        job.finished_at = utcnow()
        session.add(job)
        session.commit()


def public(job: OptimiseJob) -> dict[str, Any]:
    """The job as the API shows it: status, and the VROOM-format plan once solved."""
    out: dict[str, Any] = {
        "id": job.id,
        "status": str(job.status),
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.result is not None:
        out["result"] = json.loads(job.result)
    if job.error:
        out["error"] = job.error
    return out
