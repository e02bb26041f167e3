"""The optimiser: a pure library. ``solve(problem, params) -> Plan``; ``check_plan`` verifies.

Modules: model (problem and plan), checker (independent rules), prep (screening), schedule
(solver-side time propagation), solver (portfolio), ortools_engine (the only OR-Tools import),
pyvrp_engine and vroom_engine (components), insertion (greedy reinsertion), decompose (big
days in parallel), instances (Li & Lim, Solomon), vroom_format (VROOM JSON), bench and cli.
"""

from postal.routing.checker import Violation, ViolationKind, check_plan
from postal.routing.model import (
    Courier,
    CourierBreak,
    Depot,
    Desk,
    Plan,
    Problem,
    Route,
    SolveParams,
    Stop,
    StopKind,
    TravelCost,
    Unassigned,
    UnassignedReason,
    Visit,
)
from postal.routing.solver import solve

__all__ = [
    "Courier",
    "CourierBreak",
    "Depot",
    "Desk",
    "Plan",
    "Problem",
    "Route",
    "SolveParams",
    "Stop",
    "StopKind",
    "TravelCost",
    "Unassigned",
    "UnassignedReason",
    "Violation",
    "ViolationKind",
    "Visit",
    "check_plan",
    "solve",
]
