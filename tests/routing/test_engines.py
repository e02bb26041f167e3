"""Engine-level behaviour: OR-Tools warm starts, PyVRP relaxation, repair and reinsertion."""

from __future__ import annotations

from postal.routing.insertion import reinsert
from postal.routing.model import CourierBreak, Problem, Stop, StopKind
from postal.routing.ortools_engine import OrtoolsModel
from postal.routing.prep import prepare
from postal.routing.pyvrp_engine import PyvrpModel
from postal.routing.schedule import earliest_schedule, is_feasible
from postal.routing.solver import cost_scales, repair

from .helpers import courier, desk, hm, line_problem

P, D = StopKind.PICKUP, StopKind.DELIVERY


def break_problem() -> Problem:
    return line_problem(
        [0, 3000, 6000],
        [
            Stop("A", D, 1, windows=((hm(10, 50), hm(11)),), service=600),
            Stop("B", D, 2, windows=((hm(11, 20), hm(11, 40)),), service=600),
        ],
        couriers=[courier(brk=CourierBreak(hm(11), hm(11, 30), 1800))],
    )


def test_ortools_reads_a_feasible_warm_start_with_a_break() -> None:
    prep = prepare(break_problem())
    fixed, base = cost_scales(prep, False)
    model = OrtoolsModel(prep, fixed, base, by_duration=False)
    out = model.solve(0.5, initial={0: [0, 1]})
    assert out.found and out.sequences == {0: [0, 1]} and out.dropped == []


def test_ortools_falls_back_when_the_warm_start_breaks_the_rules() -> None:
    prep = prepare(break_problem())
    fixed, base = cost_scales(prep, False)
    model = OrtoolsModel(prep, fixed, base, by_duration=False)
    out = model.solve(0.5, initial={0: [1, 0]})  # B before A misses A's window
    assert out.found and out.sequences == {0: [0, 1]}


def test_ortools_removes_the_desk_lunch_from_the_time_domain() -> None:
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
    prep = prepare(problem)
    # Opening hours less the service, and by the pair's precedence no earlier than the pickup
    # can be done and brought here (11:10 + 5 min + 6 km): the morning, which ends at 11:20,
    # is gone, and the hand-over waits for the desk to reopen after lunch.
    assert prep.windows[1] == ((hm(13), hm(16, 50)),)
    fixed, base = cost_scales(prep, False)
    out = OrtoolsModel(prep, fixed, base, by_duration=False).solve(0.5)
    assert out.sequences == {0: [0, 1]}


def test_pyvrp_relaxation_is_repaired_then_reinserted() -> None:
    # PyVRP sees the desk as open over lunch (hull window) and ignores the break; our schedule
    # finds the real times, repair removes what breaks the rules, reinsertion puts it back.
    stops = []
    for k in range(4):
        stops.append(Stop(f"p{k}", P, 1, service=300, demand=1, pair=f"x{k}", desk=0))
        stops.append(
            Stop(
                f"d{k}",
                D,
                2 + k % 2,
                windows=((hm(11), hm(12)), (hm(14), hm(15))),
                service=600,
                demand=1,
                pair=f"x{k}",
            )
        )
    problem = line_problem(
        [0, 1000, 4000, -4000],
        stops,
        couriers=[courier(f"c{i}", brk=CourierBreak(hm(11), hm(13), 3600)) for i in range(3)],
        desks=[desk(1, [(hm(8), hm(11)), (hm(13, 30), hm(17))])],
    )
    prep = prepare(problem)
    fixed, _ = cost_scales(prep, False)
    model = PyvrpModel(prep, fixed, by_duration=False)
    found = model.solve(0.5, seed=1)
    seqs, dropped = repair(prep, found.sequences)
    assert all(is_feasible(prep, c, q) for c, q in seqs.items())
    seqs, dropped = reinsert(prep, seqs, dropped, fixed, by_duration=False)
    assert dropped == []
    served = sorted(s for q in seqs.values() for s in q)
    assert served == list(range(8))
    for c, q in seqs.items():
        route = earliest_schedule(prep, c, q)
        assert route is not None and route.break_start is not None


def test_repair_drops_a_pair_split_across_routes() -> None:
    problem = line_problem(
        [0, 1000, 2000],
        [Stop("p", P, 1, demand=1, pair="x"), Stop("d", D, 2, demand=1, pair="x")],
        couriers=[courier("c1"), courier("c2")],
    )
    prep = prepare(problem)
    seqs, dropped = repair(prep, {0: [0], 1: [1]})
    assert seqs == {} and dropped == [0, 1]
