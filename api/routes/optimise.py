"""POST /optimise: VROOM's input format in, VROOM's output format out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from api.deps import SettingsDep, roles
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.errors import ValidationFailed
from postal.routing.model import SolveParams
from postal.routing.solver import solve
from postal.routing.vroom_format import haversine_matrices, plan_to_vroom, problem_from_vroom

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
        "Accepts VROOM's input (vehicles with start/end, capacity, time_window, breaks; jobs "
        "and shipments with one or several time_windows, service, amounts, priority; "
        "[lon, lat] coordinates or a custom `matrices` block) and answers in VROOM's output "
        "format (routes with steps and arrival times, unassigned, summary). Coordinates are "
        "turned into travel times with the measured circuity factor and the courier speed."
    ),
    responses={
        401: {"description": "Missing or wrong credentials", **_PROBLEM},
        403: {"description": "Not a dispatcher, admin or the one-stop system", **_PROBLEM},
        422: {"description": "Malformed problem: `detail` names the place", **_PROBLEM},
    },
)
def optimise(
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(roles(Role.dispatcher, Role.admin, Role.integration))],
    problem: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])],
    time_limit_s: Annotated[float, Query(gt=0, le=120)] = 10.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Solve and answer in VROOM's format."""
    try:
        prob, ids = problem_from_vroom(
            problem, haversine_matrices(settings.circuity_factor, settings.speed_kmh)
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValidationFailed("malformed_problem", str(exc), field="problem") from exc
    plan = solve(prob, SolveParams(time_limit_s=time_limit_s, seed=seed))
    return plan_to_vroom(prob, ids, plan)
