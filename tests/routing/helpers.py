"""Hand-checkable geometry: points on a line, 10 m per second, so minutes are easy to add."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.routing.checker import check_plan
from postal.routing.model import Courier, CourierBreak, Depot, Desk, Problem, Stop
from postal.routing.solver import solve
from postal.routing.vroom_format import (
    plan_from_vroom,
    plan_to_vroom,
    problem_from_vroom,
    vroom_params,
)

DAY = dt.date(2025, 7, 7)
SPEED = 10  # metres per second


def hm(hours: int, minutes: int = 0) -> int:
    """Seconds since midnight."""
    return hours * 3600 + minutes * 60


def line_problem(
    xs: Sequence[int],
    stops: Sequence[Stop],
    couriers: Sequence[Courier] | None = None,
    desks: Sequence[Desk] = (),
    depots: Sequence[Depot] | None = None,
) -> Problem:
    """Locations at positions ``xs`` (metres) on a line; location 0 is the post office."""
    x = np.asarray(xs, dtype=np.int64)
    dist = np.abs(x[:, None] - x[None, :])
    return Problem(
        durations=dist // SPEED,
        distances=dist,
        depots=tuple(depots or (Depot("po", 0),)),
        couriers=tuple(couriers or (courier(),)),
        stops=tuple(stops),
        desks=tuple(desks),
        date=DAY,
    )


def courier(
    name: str = "c1",
    shift: tuple[int, int] = (hm(7), hm(18)),
    capacity: int = 10,
    brk: CourierBreak | None = None,
    depot: int = 0,
    speed_percent: int = 100,
) -> Courier:
    """A courier starting and ending at ``depot``."""
    return Courier(name, depot, depot, shift, capacity, brk, speed_percent)


def desk(location: int, windows: Sequence[tuple[int, int]], name: str = "d") -> Desk:
    """A desk open on DAY with ``windows``."""
    return Desk(name, location, ((DAY, tuple(windows)),))


def dispatcher_headers(client: TestClient, session: Session) -> dict[str, str]:
    """Sign a new dispatcher in through the API: the Authorization header of its token."""
    create_user(session, username="disp", password="secret-pass-1", role=Role.dispatcher,
                full_name="D", post_office_codes=["115100"])  # fmt: skip
    session.commit()
    token = client.post(
        "/api/v1/auth/token", data={"username": "disp", "password": "secret-pass-1"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def solve_vroom_checked(data: dict[str, Any]) -> dict[str, Any]:
    """Solve a VROOM-format problem as POST /optimise does (1 s, one worker); the output,
    read back, must pass the independent checker."""
    problem, ids = problem_from_vroom(copy.deepcopy(data))
    plan = solve(problem, vroom_params(1.0, workers=1))
    out: dict[str, Any] = json.loads(json.dumps(plan_to_vroom(problem, ids, plan)))
    assert check_plan(problem, plan_from_vroom(problem, ids, out)) == []
    return out


def assert_ours_and_vrooms_plans_pass(problem: dict[str, Any], seed: int) -> None:
    """Ours (1 s, one worker) and VROOM's (1 s, one thread) plans of a generated problem both
    pass our checker, and ours names only ids VROOM would write: our reading of VROOM's
    rules is VROOM's."""
    from postal.routing.vroom_compat import foreign_ids, solve_ours, solve_vroom, violations

    ours = solve_ours(problem, time_limit=1.0, seed=seed, workers=1)
    assert violations(problem, ours) == []
    assert foreign_ids(problem, ours) == []
    theirs = solve_vroom(problem, time_limit=1.0, threads=1)
    assert violations(problem, theirs) == []
    assert foreign_ids(problem, theirs) == []
