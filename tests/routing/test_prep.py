"""Preparation narrows a pair's windows by precedence; the fleet job judges fleets by our rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from postal.routing.model import Problem, SolveParams, Stop, StopKind, UnassignedReason
from postal.routing.prep import prepare
from postal.routing.solver import solve
from tests.routing.helpers import hm, line_problem

P, D = StopKind.PICKUP, StopKind.DELIVERY
# Post office at 0 m, citizen at 3 km, desk at 9 km: 600 s from the citizen to the desk.
XS = [0, 3000, 9000]


def test_a_delivery_waits_for_its_pickup() -> None:
    problem = line_problem(
        XS,
        [
            Stop("home", P, 1, windows=((hm(9), hm(9, 30)),), service=300, demand=1, pair="x"),
            Stop(
                "desk",
                D,
                2,
                windows=((hm(8), hm(9, 10)), (hm(9, 40), hm(11))),
                service=60,
                demand=1,
                pair="x",
            ),
        ],
    )
    prep = prepare(problem)
    # The earliest hand-over is 9:00 + 5 min + 10 min = 9:15: the first window cannot be used.
    assert prep.windows[1] == ((hm(9, 40), hm(11)),)
    # ... and the pickup must start by 11:00 - 15 min.
    assert prep.windows[0] == ((hm(9), hm(9, 30)),)
    plan = solve(problem, SolveParams(time_limit_s=1, workers=1))
    assert not plan.unassigned
    assert plan.routes[0].visits[1].start >= hm(9, 40)


def test_a_pickup_must_leave_time_for_its_delivery() -> None:
    problem = line_problem(
        XS,
        [
            Stop(
                "desk",
                P,
                2,
                windows=((hm(8), hm(9)), (hm(13), hm(14))),
                service=60,
                demand=1,
                pair="r",
            ),
            Stop("home", D, 1, windows=((hm(8), hm(10)),), service=300, demand=1, pair="r"),
        ],
    )
    prep = prepare(problem)
    # A result for a citizen's morning leaves the desk in the morning.
    assert prep.windows[0] == ((hm(8), hm(9)),)
    assert prep.windows[1] == ((hm(8, 11), hm(10)),)  # 8:00 + 1 min + 10 min


def test_a_pair_that_cannot_be_in_order_is_left_to_screening() -> None:
    problem = line_problem(
        XS,
        [
            Stop("home", P, 1, windows=((hm(14), hm(15)),), service=300, demand=1, pair="x"),
            Stop("desk", D, 2, windows=((hm(8), hm(9)),), service=60, demand=1, pair="x"),
        ],
    )
    prep = prepare(problem)
    assert prep.windows[0] == ((hm(14), hm(15)),)
    assert prep.windows[1] == ((hm(8), hm(9)),)
    assert prep.reasons == {
        0: UnassignedReason.PAIR_UNSERVABLE,
        1: UnassignedReason.PAIR_UNSERVABLE,
    }


def test_the_fleet_job_judges_fleets_by_our_rules() -> None:
    # A at 9:00 for an hour, B right after it: one route for PyVRP, which only shortens the
    # shift by the break. By our rules the break (start 9:00-11:00) fits before neither, not
    # between them and not after B, so they need two couriers; the fleet job must say so
    # itself rather than hand back one route that the repair then breaks.
    import time

    from postal.routing.model import CourierBreak
    from postal.routing.solver import _job_fleet, cost_scales, repair
    from tests.routing.helpers import courier

    brk = CourierBreak(hm(9), hm(11), 1800)
    problem = line_problem(
        [0, 1000, 2000],
        [
            Stop("A", D, 1, windows=((hm(9), hm(9)),), service=3600, demand=1),
            Stop("B", D, 2, windows=((hm(10) + 100, hm(10) + 100),), service=3600, demand=1),
        ],
        couriers=[courier("c1", brk=brk), courier("c2", brk=brk)],
    )
    prep = prepare(problem)
    assert not prep.reasons
    fixed, _ = cost_scales(prep, True)
    seqs = _job_fleet(prep, time.monotonic() + 1.5, 1, fixed, True)
    fixed_seqs, dropped = repair(prep, seqs)
    assert dropped == []
    assert sorted(fixed_seqs.values()) == [[0], [1]]


def test_stops_per_shift_tells_short_routes_from_long_ones() -> None:
    """Li & Lim's type 1 (short shifts, many couriers) is solved by neighbourhoods; type 2
    (long shifts, where PyVRP removes couriers) by the fleet job and PyVRP."""
    from pathlib import Path

    from postal.routing.instances import read_li_lim
    from postal.routing.solver import SHORT_SHIFT, short_shifts, stops_per_shift

    big = Path(__file__).parents[2] / "data/bench/li_lim/pdp_1000"
    measure = {
        name: stops_per_shift(prepare(read_li_lim(big / f"{name}.txt").problem))
        for name in ("lr1_10_1", "lrc1_10_1", "lr2_10_1", "lrc2_10_1")
    }
    assert max(measure["lr1_10_1"], measure["lrc1_10_1"]) < SHORT_SHIFT
    assert min(measure["lr2_10_1"], measure["lrc2_10_1"]) > 2 * SHORT_SHIFT
    lr1 = prepare(read_li_lim(big / "lr1_10_1.txt").problem)
    lr2 = prepare(read_li_lim(big / "lr2_10_1.txt").problem)
    assert short_shifts(lr1) and not short_shifts(lr2)


def test_the_portfolio_picks_its_jobs_by_problem_kind() -> None:
    """Big exact problems with short shifts: above NEIGHBOURHOODS_FROM stops VROOM's
    construction and neighbourhoods, on both cores (one with one worker); below, PyVRP's own
    search and VROOM's long search. With long shifts: the fleet job and VROOM with PyVRP's
    larger part. Small exact problems: the fleet job and PyVRP. Without VROOM (or in the
    deterministic mode): PyVRP only. Relaxed problems (breaks): the fleet job and
    VROOM-then-PyVRP."""
    import time
    from pathlib import Path

    from postal.routing.instances import read_li_lim
    from postal.routing.model import CourierBreak
    from postal.routing.solver import (
        EXACT_VROOM_SHARE,
        LARGE,
        NEIGHBOURHOODS_FROM,
        SHORT_SHIFT_EXPLORATION,
        SHORT_SHIFT_PARTS,
        VROOM_SHARE,
        cost_scales,
        portfolio_jobs,
    )
    from tests.routing.helpers import courier

    def jobs(problem: Problem, **options: Any) -> list[tuple[str, Any]]:
        prep = prepare(problem)
        fixed, _ = cost_scales(prep, False)
        picked = portfolio_jobs(
            prep, SolveParams(**options), time.monotonic() + 60, fixed, False, None
        )
        # VROOM's exploration level and share are arguments 5 and 8 of its job, the share
        # left to neighbourhoods argument 12; VROOM's threads in the neighbourhoods job 5.
        details = {
            "_job_vroom_pyvrp": lambda a: (a[5], a[8], a[12]),
            "_job_neighbourhoods": lambda a: a[5],
        }
        return [
            (fn.__name__, details[fn.__name__](args) if fn.__name__ in details else None)
            for fn, args in picked
        ]

    data = Path(__file__).parents[2] / "data/bench/li_lim"
    lr1 = read_li_lim(data / "pdp_1000/lr1_10_1.txt").problem
    lr2 = read_li_lim(data / "pdp_1000/lr2_10_1.txt").problem
    lc101 = read_li_lim(data / "pdp_100/lc101.txt").problem
    assert jobs(lr1) == [("_job_neighbourhoods", 2)]
    assert jobs(lr1, workers=1) == [("_job_neighbourhoods", 1)]
    # lr1_10_1's first 200 pairs: short shifts, but fewer stops than NEIGHBOURHOODS_FROM.
    pairs = sorted({s.pair for s in lr1.stops}, key=int)[:200]
    mid = replace(lr1, stops=tuple(s for s in lr1.stops if s.pair in set(pairs)))
    assert LARGE < len(mid.stops) <= NEIGHBOURHOODS_FROM
    assert jobs(mid) == [
        ("_job_pyvrp", None),
        ("_job_vroom_pyvrp", (SHORT_SHIFT_EXPLORATION, EXACT_VROOM_SHARE, SHORT_SHIFT_PARTS)),
    ]
    assert jobs(lr2) == [("_job_fleet", None), ("_job_vroom_pyvrp", (3, VROOM_SHARE, 0.0))]
    assert jobs(lc101) == [("_job_fleet", None), ("_job_pyvrp", None)]
    assert jobs(lr1, use_vroom=False) == [("_job_fleet", None), ("_job_pyvrp", None)]
    assert jobs(lr1, iterations=100) == [("_job_fleet", None), ("_job_pyvrp", None)]
    assert jobs(lr2, use_pyvrp=False) == [("_job_vroom", None)]
    assert jobs(lr1, use_pyvrp=False) == [("_job_neighbourhoods", 2)]  # VROOM's alone
    brk = CourierBreak(hm(11, 30), hm(12, 30), 1800)
    with_breaks = line_problem(
        XS,
        [
            Stop("home", P, 1, service=300, demand=1, pair="x"),
            Stop("desk", D, 2, service=60, demand=1, pair="x"),
        ],
        couriers=[courier(f"c{k}", brk=brk) for k in range(2)],
    )
    assert jobs(with_breaks) == [
        ("_job_fleet", None),
        ("_job_vroom_pyvrp", (3, VROOM_SHARE, 0.0)),
    ]


def test_stops_per_shift_on_a_line() -> None:
    """Stops 600 m apart on a line, 5 minutes each: a shift of 11 h holds at most
    39,600 s / (300 s + travel to the five nearest)."""
    from postal.routing.solver import stops_per_shift
    from tests.routing.helpers import SPEED

    xs = [0] + [600 * k for k in range(1, 21)]
    stops = [Stop(f"s{k}", StopKind.DELIVERY, k, service=300) for k in range(1, 21)]
    prep = prepare(line_problem(xs, stops))
    gaps = []
    for k in range(1, 21):
        d = sorted(abs(k - j) * 600 // SPEED for j in range(1, 21) if j != k)[:5]
        gaps += d
    expected = (hm(18) - hm(7)) / (300 + sum(gaps) / len(gaps))
    assert abs(stops_per_shift(prep) - expected) < 1e-6
    assert stops_per_shift(prepare(line_problem([0], []))) == 0.0
