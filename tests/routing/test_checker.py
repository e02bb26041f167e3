"""The independent checker against a hand-made valid plan and one broken copy per rule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from postal.config import REPO_ROOT
from postal.routing.checker import ViolationKind, check_plan
from postal.routing.instances import read_li_lim, read_solution
from postal.routing.model import (
    CourierBreak,
    Depot,
    Plan,
    Problem,
    Route,
    Stop,
    StopKind,
    Unassigned,
    UnassignedReason,
    Visit,
)
from postal.routing.prep import prepare
from postal.routing.schedule import earliest_schedule

from .helpers import courier, desk, hm, line_problem

K = ViolationKind
BENCH = REPO_ROOT / "data" / "bench" / "li_lim"


def base_problem(**changes: object) -> Problem:
    """Depot at 0 m, a citizen at 1 km, a desk at 2 km; 10 m/s."""
    stops = [
        Stop(
            "pick", StopKind.PICKUP, 1, windows=((hm(9), hm(10)),), service=60, demand=1, pair="x"
        ),
        Stop(
            "hand", StopKind.DELIVERY, 2, service=120, demand=1, pair="x", desk=0, deadline=hm(16)
        ),
        Stop("drop", StopKind.DELIVERY, 1, service=60, demand=1, area="a"),
    ]
    brk = CourierBreak(hm(12), hm(13), 1800)
    problem = line_problem(
        [0, 1000, 2000],
        stops,
        couriers=[courier("c1", (hm(8), hm(17)), 2, brk), courier("c2", (hm(8), hm(17)), 2, brk)],
        desks=[desk(2, [(hm(8), hm(11, 30)), (hm(13), hm(17))])],
        depots=[Depot("po", 0, ("a",))],
    )
    return replace(problem, **changes)  # type: ignore[arg-type]


T0 = hm(9) - 100
VALID = Plan(
    routes=(
        Route(
            courier=0,
            visits=(
                Visit(2, hm(9), hm(9), hm(9) + 60, 0, 1000),
                Visit(0, hm(9) + 60, hm(9) + 60, hm(9) + 120, 1, 0),
                Visit(1, hm(9) + 220, hm(9) + 220, hm(9) + 340, 0, 1000),
            ),
            start=T0,
            end=hm(9) + 540,
            distance=4000,
            break_start=hm(12),
            start_load=1,
        ),
    ),
)


def kinds(problem: Problem, plan: Plan) -> set[ViolationKind]:
    return {v.kind for v in check_plan(problem, plan)}


def with_visit(plan: Plan, pos: int, **changes: int) -> Plan:
    route = plan.routes[0]
    visits = list(route.visits)
    visits[pos] = replace(visits[pos], **changes)
    return replace(plan, routes=(replace(route, visits=tuple(visits)),))


def with_route(plan: Plan, **changes: object) -> Plan:
    return replace(plan, routes=(replace(plan.routes[0], **changes),))  # type: ignore[arg-type]


def test_hand_made_plan_is_valid() -> None:
    assert check_plan(base_problem(), VALID) == []


def stops_changed(index: int, **changes: object) -> Problem:
    problem = base_problem()
    stops = list(problem.stops)
    stops[index] = replace(stops[index], **changes)  # type: ignore[arg-type]
    return replace(problem, stops=tuple(stops))


def couriers_changed(**changes: object) -> Problem:
    problem = base_problem()
    couriers = list(problem.couriers)
    couriers[0] = replace(couriers[0], **changes)  # type: ignore[arg-type]
    return replace(problem, couriers=tuple(couriers))


SINGLE_VIOLATIONS = [
    ("time_window", stops_changed(0, windows=((hm(10), hm(11)),)), VALID, K.TIME_WINDOW),
    (
        "desk_hours",
        replace(base_problem(), desks=(desk(2, [(hm(13), hm(17))]),)),
        VALID,
        K.DESK_HOURS,
    ),
    ("desk_closed", replace(base_problem(), desks=(desk(2, []),)), VALID, K.DESK_HOURS),
    ("deadline", stops_changed(1, deadline=hm(9)), VALID, K.DEADLINE),
    (
        "travel",
        base_problem(),
        with_visit(VALID, 2, arrival=hm(9) + 200, start=hm(9) + 200, departure=hm(9) + 320),
        K.TRAVEL_TIME,
    ),
    ("service", base_problem(), with_visit(VALID, 1, departure=hm(9) + 100), K.SERVICE_TIME),
    ("break_missing", base_problem(), with_route(VALID, break_start=None), K.BREAK),
    ("break_window", base_problem(), with_route(VALID, break_start=hm(14)), K.BREAK),
    (
        "break_overlap",
        couriers_changed(break_=CourierBreak(hm(9), hm(10), 600)),
        with_route(VALID, break_start=hm(9)),
        K.BREAK,
    ),
    ("capacity", couriers_changed(capacity=0), VALID, K.CAPACITY),
    ("load_report", base_problem(), with_route(VALID, start_load=0), K.LOAD_REPORT),
    ("shift_start", couriers_changed(shift=(hm(9), hm(17))), VALID, K.SHIFT_START),
    ("shift_end", couriers_changed(shift=(hm(8), hm(9, 5))), VALID, K.SHIFT_END),
    ("depot_return", base_problem(), with_route(VALID, end=hm(9) + 500), K.TRAVEL_TIME),
    ("distance", base_problem(), with_route(VALID, distance=3999), K.DISTANCE_REPORT),
    ("area", replace(base_problem(), depots=(Depot("po", 0, ("b",)),)), VALID, K.AREA),
    (
        "missing",
        replace(base_problem(), stops=(*base_problem().stops, Stop("new", StopKind.DELIVERY, 1))),
        VALID,
        K.MISSING_STOP,
    ),
    (
        "duplicate",
        base_problem(),
        replace(VALID, unassigned=(Unassigned(2, UnassignedReason.NO_COURIER),)),
        K.DUPLICATE_STOP,
    ),
    ("unknown_courier", base_problem(), with_route(VALID, courier=7), K.UNKNOWN_COURIER),
]


@pytest.mark.parametrize(
    ("problem", "plan", "kind"),
    [case[1:] for case in SINGLE_VIOLATIONS],
    ids=[case[0] for case in SINGLE_VIOLATIONS],
)
def test_each_broken_rule_is_reported_alone(
    problem: Problem, plan: Plan, kind: ViolationKind
) -> None:
    assert kinds(problem, plan) == {kind}


def test_pair_on_two_routes() -> None:
    route = VALID.routes[0]
    first = replace(route, visits=route.visits[:2], end=hm(9) + 220, distance=2000)
    second = Route(
        1,
        (Visit(1, hm(9) + 220, hm(9) + 220, hm(9) + 340, -1, 2000),),
        hm(9) + 20,
        hm(9) + 540,
        4000,
        hm(12),
        0,
    )
    assert K.PAIR_SPLIT in kinds(base_problem(), Plan(routes=(first, second)))


def test_pair_with_only_one_half_routed() -> None:
    route = VALID.routes[0]
    plan = Plan(
        routes=(replace(route, visits=route.visits[:2], end=hm(9) + 220, distance=2000),),
        unassigned=(Unassigned(1, UnassignedReason.DESK_CLOSED),),
    )
    assert kinds(base_problem(), plan) == {K.PAIR_SPLIT}


def test_delivery_before_pickup() -> None:
    route = VALID.routes[0]
    v = route.visits
    swapped = replace(route, visits=(v[0], v[2], v[1]))
    assert K.PRECEDENCE in kinds(base_problem(), Plan(routes=(swapped,)))


def test_courier_reused_and_unknown_stop() -> None:
    route = VALID.routes[0]
    twice = Plan(routes=(route, replace(route, visits=(replace(route.visits[0], stop=99),))))
    found = kinds(base_problem(), twice)
    assert {K.COURIER_REUSED, K.UNKNOWN_STOP} <= found


def test_break_inside_a_gap_needs_room_for_travel() -> None:
    # A 10-minute break between the pickup (leaves 9:02) and the desk (100 s away): starting the
    # desk at 9:12 leaves only 10 minutes, so travel plus break (11:40) does not fit.
    problem = couriers_changed(break_=CourierBreak(hm(9), hm(10), 600))
    tight = with_route(
        with_visit(VALID, 2, arrival=hm(9) + 220, start=hm(9) + 720, departure=hm(9) + 840),
        break_start=hm(9) + 120,
        end=hm(9) + 1040,
    )
    assert kinds(problem, tight) == {K.TRAVEL_TIME}
    roomy = with_route(
        with_visit(VALID, 2, arrival=hm(9) + 220, start=hm(9) + 820, departure=hm(9) + 940),
        break_start=hm(9) + 120,
        end=hm(9) + 1140,
    )
    assert kinds(problem, roomy) == set()


@pytest.mark.parametrize(
    "path",
    [
        BENCH / "pdp_100" / "lc101.txt",
        BENCH / "pdp_100" / "lr104.txt",
        BENCH / "pdp_100" / "lrc102.txt",
        BENCH / "pdp_200" / "lc1_2_1.txt",
    ],
    ids=lambda p: p.stem,
)
def test_best_known_solutions_pass_and_match_their_distance(path: Path) -> None:
    inst = read_li_lim(path)
    folder = BENCH / "bks_solutions" / path.parent.name
    (sol,) = folder.glob(f"{path.stem}.*.txt")
    routes = read_solution(sol)
    vehicles, distance = sol.stem.split(".", 1)[1].split("_")
    prep = prepare(inst.problem)
    index = {int(s.id): k for k, s in enumerate(inst.problem.stops)}
    built = []
    for c, tasks in enumerate(routes):
        route = earliest_schedule(prep, c, [index[t] for t in tasks])
        assert route is not None
        built.append(route)
    plan = Plan(routes=tuple(built))
    assert check_plan(inst.problem, plan) == []
    assert len(routes) == int(vehicles)
    assert sum(inst.route_distance(r) for r in routes) == pytest.approx(float(distance), abs=0.01)
