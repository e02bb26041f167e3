"""Tiny instances with known optima; every plan also goes through the independent checker."""

from __future__ import annotations

import pytest

from postal.routing.checker import check_plan
from postal.routing.model import (
    CourierBreak,
    Depot,
    Plan,
    Problem,
    SolveParams,
    Stop,
    StopKind,
    UnassignedReason,
    Visit,
)
from postal.routing.solver import solve

from .helpers import DAY, courier, desk, hm, line_problem

P, D = StopKind.PICKUP, StopKind.DELIVERY
FAST = SolveParams(time_limit_s=1.0, workers=1)


def solved(problem: Problem, params: SolveParams = FAST) -> Plan:
    plan = solve(problem, params)
    assert check_plan(problem, plan) == []
    return plan


def reasons(plan: Plan, problem: Problem) -> dict[str, UnassignedReason]:
    return {problem.stops[u.stop].id: u.reason for u in plan.unassigned}


def visit_of(plan: Plan, problem: Problem, stop_id: str) -> Visit:
    for r in plan.routes:
        for v in r.visits:
            if problem.stops[v.stop].id == stop_id:
                return v
    raise AssertionError(f"{stop_id} not routed")


def test_desk_lunch_gap_forces_waiting() -> None:
    # Depot 0 m, citizen 6 km (10 min), desk 12 km. The dossier is picked up 11:10-11:15 and
    # reaches the desk at 11:25; the desk closes at 11:30 and the handover takes 10 minutes, so
    # the courier must wait for the desk to reopen at 13:00 and is back at 13:30.
    problem = line_problem(
        [0, 6000, 12000],
        [
            Stop(
                "pick", P, 1, windows=((hm(11, 10), hm(11, 15)),), service=300, demand=1, pair="x"
            ),
            Stop("hand", D, 2, service=600, demand=1, pair="x", desk=0),
        ],
        desks=[desk(2, [(hm(8), hm(11, 30)), (hm(13), hm(17))])],
    )
    plan = solved(problem)
    assert not plan.unassigned
    (route,) = plan.routes
    hand = visit_of(plan, problem, "hand")
    assert hand.arrival == hm(11, 25)
    assert hand.start == hm(13)
    assert route.end == hm(13, 30)
    assert route.distance == 24000


def test_courier_break_between_two_visits() -> None:
    # A (5 min out) must start 10:50-11:00, B (10 min out) 11:20-11:40; the 30-minute break
    # must start 11:00-11:30. Only one schedule works: break 11:00-11:30 between A and B, B at
    # 11:35, back at 11:55.
    problem = line_problem(
        [0, 3000, 6000],
        [
            Stop("A", D, 1, windows=((hm(10, 50), hm(11)),), service=600),
            Stop("B", D, 2, windows=((hm(11, 20), hm(11, 40)),), service=600),
        ],
        couriers=[courier(brk=CourierBreak(hm(11), hm(11, 30), 1800))],
    )
    plan = solved(problem)
    assert not plan.unassigned
    (route,) = plan.routes
    assert route.break_start == hm(11)
    assert visit_of(plan, problem, "B").start == hm(11, 35)
    assert route.end == hm(11, 55)


def test_two_desks_on_one_route() -> None:
    # Results picked up at desks 2 km and 4 km out, delivered 6 km and 8 km out: one courier,
    # and the optimum is any order that sweeps out and back: 16 km.
    problem = line_problem(
        [0, 2000, 4000, 6000, 8000],
        [
            Stop("r1p", P, 1, service=60, demand=1, pair="r1", desk=0),
            Stop("r1d", D, 3, service=60, demand=1, pair="r1"),
            Stop("r2p", P, 2, service=60, demand=1, pair="r2", desk=1),
            Stop("r2d", D, 4, service=60, demand=1, pair="r2"),
        ],
        couriers=[courier("c1"), courier("c2")],
        desks=[desk(1, [(hm(8), hm(17))], "A"), desk(2, [(hm(8), hm(17))], "B")],
    )
    plan = solved(problem)
    assert not plan.unassigned
    assert plan.couriers_used == 1
    assert plan.distance == 16000


def test_many_stops_at_one_desk_are_separate_visits() -> None:
    problem = line_problem(
        [0, 1000, 2000, 3000, 4000],
        [
            stop
            for k in range(3)
            for stop in (
                Stop(f"p{k}", P, 1, service=120, demand=1, pair=f"r{k}", desk=0),
                Stop(f"d{k}", D, 2 + k, service=60, demand=1, pair=f"r{k}"),
            )
        ],
        desks=[desk(1, [(hm(8), hm(17))])],
    )
    plan = solved(problem)
    assert not plan.unassigned
    starts = sorted(visit_of(plan, problem, f"p{k}").start for k in range(3))
    assert starts[1] - starts[0] >= 120 and starts[2] - starts[1] >= 120
    assert plan.distance == 8000


def test_unservable_stops_come_back_with_reasons() -> None:
    problem = line_problem(
        [0, 1000, 2000],
        [
            # A dossier for a desk closed today: the delivery cannot happen, nor its pickup.
            Stop("closed_p", P, 1, demand=1, pair="c"),
            Stop("closed_d", D, 2, demand=1, pair="c", desk=0),
            # A window that ended before the shift began.
            Stop("late", D, 1, windows=((hm(5), hm(6)),)),
            # An address no post office serves.
            Stop("far", D, 1, area="elsewhere"),
            # More items than any box holds.
            Stop("bulky", D, 1, demand=50),
            Stop("ok", D, 2, demand=1),
        ],
        desks=[desk(2, [])],
        depots=[Depot("po", 0, ("here",))],
    )
    plan = solved(problem)
    assert reasons(plan, problem) == {
        "closed_p": UnassignedReason.PAIR_UNSERVABLE,
        "closed_d": UnassignedReason.DESK_CLOSED,
        "late": UnassignedReason.WINDOW_PASSED,
        "far": UnassignedReason.OUTSIDE_SERVICE_AREA,
        "bulky": UnassignedReason.CAPACITY,
    }
    assert [problem.stops[v.stop].id for r in plan.routes for v in r.visits] == ["ok"]


def test_pair_that_cannot_fit_one_route_is_unassigned() -> None:
    # Each half alone is reachable, but the delivery closes before the pickup opens.
    problem = line_problem(
        [0, 1000, 2000],
        [
            Stop("p", P, 1, windows=((hm(15), hm(16)),), demand=1, pair="x"),
            Stop("d", D, 2, windows=((hm(9), hm(10)),), demand=1, pair="x"),
        ],
    )
    plan = solved(problem)
    assert reasons(plan, problem) == {
        "p": UnassignedReason.PAIR_UNSERVABLE,
        "d": UnassignedReason.PAIR_UNSERVABLE,
    }
    assert plan.routes == ()


def test_fewest_couriers_first() -> None:
    # Two couriers would travel 4 km in all, one courier 7 km (a and b are 5 km apart): the
    # objective puts fewer couriers first, so one courier goes 0 -> a -> b -> 0.
    m = [[0, 1000, 1000], [1000, 0, 5000], [1000, 5000, 0]]
    problem = Problem(
        durations=Problem.matrix(m),
        distances=Problem.matrix(m),
        depots=(Depot("po", 0),),
        couriers=(courier("c1"), courier("c2"), courier("c3")),
        stops=(Stop("a", D, 1, demand=1), Stop("b", D, 2, demand=1)),
    )
    plan = solved(problem)
    assert plan.couriers_used == 1
    assert plan.distance == 7000


def test_capacity_splits_routes_and_depot_load() -> None:
    # Three deliveries loaded at the post office of 4 items each, boxes of 8: two couriers.
    problem = line_problem(
        [0, 1000, 2000, 3000],
        [Stop(f"s{k}", D, 1 + k, demand=4) for k in range(3)],
        couriers=[courier("c1", capacity=8), courier("c2", capacity=8)],
    )
    plan = solved(problem)
    assert plan.couriers_used == 2
    assert not plan.unassigned
    assert sorted(r.start_load for r in plan.routes) == [4, 8]


def test_several_windows_use_the_second() -> None:
    problem = line_problem(
        [0, 6000],
        [Stop("s", D, 1, windows=((hm(5), hm(6)), (hm(14), hm(15))), service=60)],
    )
    plan = solved(problem)
    assert visit_of(plan, problem, "s").start == hm(14)


def test_deadline_and_faster_courier() -> None:
    # 12 km at 10 m/s is 20 minutes; a courier at 200% speed takes 10. The deadline 7:12 for a
    # 1-minute service can only be met by the fast courier.
    problem = line_problem(
        [0, 12000],
        [Stop("s", D, 1, service=60, deadline=hm(7, 12))],
        couriers=[courier("slow"), courier("fast", speed_percent=200)],
    )
    plan = solved(problem)
    (route,) = plan.routes
    assert problem.couriers[route.courier].id == "fast"
    assert route.visits[0].start == hm(7, 10)


def test_priority_decides_what_is_dropped() -> None:
    problem = line_problem(
        [0, 1000, 2000],
        [Stop("low", D, 1, demand=6, priority=0), Stop("high", D, 2, demand=6, priority=50)],
        couriers=[courier(capacity=8)],
    )
    plan = solved(problem)
    assert reasons(plan, problem) == {"low": UnassignedReason.NO_COURIER}


def test_empty_problem_gives_empty_plan() -> None:
    plan = solved(line_problem([0], []))
    assert plan.routes == () and plan.unassigned == ()


@pytest.mark.parametrize("engine", ["ours", "ortools", "pyvrp", "vroom"])
def test_every_engine_is_checked(engine: str) -> None:
    stops = []
    for k in range(6):
        stops.append(
            Stop(
                f"p{k}",
                P,
                1 + k % 3,
                windows=((hm(8), hm(12)),),
                service=120,
                demand=2,
                pair=f"x{k}",
            )
        )
        stops.append(
            Stop(
                f"d{k}",
                D,
                4 + k % 2,
                windows=((hm(9), hm(16)),),
                service=60,
                demand=2,
                pair=f"x{k}",
                desk=0,
            )
        )
    problem = line_problem(
        [0, 1500, -2500, 4000, 3000, -1000],
        stops,
        couriers=[courier("c1", capacity=6), courier("c2", capacity=6)],
        desks=[desk(4, [(hm(8), hm(11, 30)), (hm(13), hm(17))])],
    )
    plan = solved(problem, SolveParams(time_limit_s=1.0, engine=engine, workers=1))
    assert plan.engine == engine


def test_portfolio_in_two_processes_with_breaks() -> None:
    stops = []
    for k in range(8):
        stops.append(Stop(f"p{k}", P, 1, service=120, demand=1, pair=f"x{k}", desk=0))
        stops.append(
            Stop(
                f"d{k}",
                D,
                2 + k % 4,
                windows=((hm(8), hm(12)), (hm(14), hm(17))),
                service=180,
                demand=1,
                pair=f"x{k}",
            )
        )
    problem = line_problem(
        [0, 500, 2000, -3000, 6000, -5000],
        stops,
        couriers=[
            courier(f"c{k}", capacity=5, brk=CourierBreak(hm(11, 30), hm(12, 30), 1800))
            for k in range(3)
        ],
        desks=[desk(1, [(hm(7, 30), hm(11, 30)), (hm(13), hm(17))])],
    )
    plan = solved(problem, SolveParams(time_limit_s=2.0, workers=2))
    assert not plan.unassigned
    assert all(r.break_start is not None for r in plan.routes)


def test_problem_date_absent_means_no_desk_calendar() -> None:
    base = line_problem([0, 1000], [Stop("s", D, 1, desk=0)], desks=[desk(1, [])])
    problem = Problem(
        durations=base.durations,
        distances=base.distances,
        depots=base.depots,
        couriers=base.couriers,
        stops=base.stops,
        desks=base.desks,
        date=None,
    )
    assert base.date == DAY
    plan = solved(problem)
    assert not plan.unassigned
