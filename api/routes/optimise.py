"""POST /optimise: VROOM's input format in, VROOM's output format out."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.deps import SessionDep, SettingsDep, roles
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.config import Settings
from postal.errors import ServiceUnavailable
from postal.optimise import service
from postal.optimise.models import OptimiseJob, OptimiseStatus
from postal.worker.enqueue import defer_optimise

router = APIRouter(tags=["optimiser"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_EXAMPLE = {
    "vehicles": [
        {"id": 1, "start": [105.8319, 21.0284], "end": [105.8319, 21.0284], "capacity": [40],
         "time_window": [27000, 63000], "breaks": [{"id": 1, "time_windows": [[41400, 46800]],
                                                    "service": 1800}]},
    ],
    "shipments": [
        {"amount": [1],
         "pickup": {"id": 1, "location": [105.8381, 21.0385], "service": 420,
                    "time_windows": [[28800, 43200]]},
         "delivery": {"id": 2, "location": [105.8163, 21.0381], "service": 180,
                      "time_windows": [[28800, 43200], [48600, 61200]]}},
    ],
}  # fmt: skip


@router.post(
    "/optimise",
    summary="Solve a VROOM-format problem",
    description=(
        "Accepts VROOM's input (vehicles with start/end, a profile (several, each with its "
        "own matrices), capacity in any number of "
        "dimensions, costs, skills, type, time_window, several breaks with several windows "
        "and max_load, speed_factor, max_tasks, max_travel_time, max_distance, steps as the "
        "routes to start from; jobs and shipments with one or several time_windows, setup, "
        "service and their per-type values, amounts (a job may deliver and pick up; a job's "
        "deprecated `amount` is its delivery), skills, "
        "priority; [lon, lat] coordinates or a custom `matrices` block with durations, "
        "distances and costs) and answers in VROOM's output format (routes with steps and "
        "arrival times, unassigned, summary). A key it does not honour is a 422 naming its "
        "JSON path. Coordinates are "
        "turned into travel times with the measured circuity factor and the courier speed. "
        "Every problem is solved by a worker. Up to `POSTAL_OPTIMISE_SYNC_MAX_TASKS` tasks the "
        "reply waits for the plan (200); a bigger problem, or one the workers cannot reach in "
        "time, answers 202 with a `Location` to poll (`GET /optimise/{id}`). A client may have "
        "`POSTAL_OPTIMISE_MAX_IN_FLIGHT` problems queued or solving, and all clients together "
        "`POSTAL_OPTIMISE_MAX_IN_FLIGHT_TOTAL` (429 beyond, with Retry-After)."
    ),
    responses={
        202: {"description": "Queued for a worker: poll the Location"},
        401: {"description": "Missing or wrong credentials", **_PROBLEM},
        403: {"description": "Not a dispatcher, admin or the one-stop system", **_PROBLEM},
        422: {"description": "Malformed problem: `detail` names the place", **_PROBLEM},
        429: {
            "description": "Too many problems of this client (`optimise_in_flight`) or of all "
            "clients (`optimise_busy`) in flight; Retry-After says when to try again",
            **_PROBLEM,
        },
    },
)
async def optimise(
    settings: SettingsDep,
    session: SessionDep,
    principal: Annotated[Principal, Depends(roles(Role.dispatcher, Role.admin, Role.integration))],
    problem: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
    time_limit_s: Annotated[float, Query(gt=0, le=120)] = 10.0,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Any:
    """Queue the problem for a worker; wait for a small one's plan, answer 202 for a big one."""
    prob, _ids = await run_in_threadpool(service.parse, settings, problem)
    job = await run_in_threadpool(
        _submit, session, settings, _client(principal), problem, time_limit_s, seed
    )
    if service.task_count(prob) <= settings.optimise_sync_max_tasks:
        # The web process never solves: it waits for the worker's plan, a little longer than
        # the solve itself; a queue too busy for that gets the 202 below.
        deadline = time.monotonic() + time_limit_s + settings.optimise_wait_margin_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            job = await run_in_threadpool(_reload, session, job.id)
            if job.status == OptimiseStatus.done and job.result is not None:
                return JSONResponse(json.loads(job.result))
            if job.status == OptimiseStatus.failed:
                raise ServiceUnavailable("optimise_failed", job.error)
    return JSONResponse(
        service.public(job), status_code=202, headers={"Location": f"/api/v1/optimise/{job.id}"}
    )


_PLAN_EXAMPLE = {
    "vehicles": [
        {"id": 1, "start_index": 0, "end_index": 0, "capacity": [4], "time_window": [0, 3600],
         "steps": [{"type": "start"}, {"type": "job", "id": 12}, {"type": "job", "id": 11},
                   {"type": "end"}]},
    ],
    "jobs": [
        {"id": 11, "location_index": 1, "delivery": [1], "time_windows": [[0, 100]]},
        {"id": 12, "location_index": 2, "delivery": [1], "service": 120},
    ],
    "matrices": {"car": {"durations": [[0, 60, 90], [60, 0, 40], [90, 40, 0]]}},
}  # fmt: skip


@router.post(
    "/optimise/plan",
    summary="Plan mode: ETAs and violations of given routes",
    description=(
        "VROOM's plan mode (`vroom -c`): the same input as POST /optimise, each vehicle's "
        "`steps` giving its route in order (start and end added where the vehicle has them). "
        "Nothing is searched: the answer is VROOM's output format with the ETAs that minimise "
        "lead time and delay, then the route's makespan, and every violation reported per "
        "step, per route and in the summary (`delay` and `lead_time` with a `duration`, "
        "`load`, `max_tasks`, `skills`, `precedence`, `missing_break`, `max_travel_time`, "
        "`max_distance`, `max_load`). Tasks in no vehicle's steps are unassigned. The steps' "
        "`service_at`, `service_after` and `service_before` are hard: a route that cannot meet "
        "them is refused (422 naming the step). Answered at once (200)."
    ),
    responses={
        401: {"description": "Missing or wrong credentials", **_PROBLEM},
        403: {"description": "Not a dispatcher, admin or the one-stop system", **_PROBLEM},
        422: {"description": "Malformed problem or step: `detail` names the place", **_PROBLEM},
    },
)
async def optimise_plan(
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(roles(Role.dispatcher, Role.admin, Role.integration))],
    problem: Annotated[dict[str, Any], Body(examples=[_PLAN_EXAMPLE])],
) -> Any:
    """Evaluate the given routes (a linear pass per route, no search: in the web process)."""
    return JSONResponse(await run_in_threadpool(service.plan, settings, problem))


def _reload(session: Session, job_id: str) -> OptimiseJob:
    # A short session of its own: the request's would hold a transaction (on SQLite a write
    # lock) across the wait, and the worker could not record the plan.
    with Session(session.get_bind(), expire_on_commit=False) as fresh:
        job = service.get(fresh, job_id, None)
        fresh.commit()
        return job


def _client(principal: Principal) -> str:
    """Who the in-flight limit counts: an API key by name, staff by user id."""
    if principal.role == Role.integration:
        return f"key:{principal.username}"[:80]
    return f"user:{principal.user_id}"


def _submit(
    session: Session,
    settings: Settings,
    client: str,
    problem: dict[str, Any],
    time_limit_s: float,
    seed: int,
) -> OptimiseJob:
    job = service.submit(session, settings, client, problem, time_limit_s, seed)
    session.commit()
    defer_optimise(settings, job.id)
    return job


@router.get(
    "/optimise/{job_id}",
    summary="A queued optimise problem: status, then its plan",
    responses={404: {"description": "Unknown, or another client's", **_PROBLEM}},
)
def read_optimise(
    job_id: Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")],
    session: SessionDep,
    principal: Annotated[Principal, Depends(roles(Role.dispatcher, Role.admin, Role.integration))],
) -> dict[str, Any]:
    """Status (queued, running, done, failed) and, once done, the plan in VROOM's format."""
    client = None if principal.role == Role.admin else _client(principal)
    return service.public(service.get(session, job_id, client))
