"""Neighbourhoods of routes solved again (``postal.routing.neighbourhoods``): never worse,
every stop kept, pairs whole, every route feasible by our rules."""

from __future__ import annotations

import time
from pathlib import Path

from postal.routing.checker import check_plan
from postal.routing.instances import read_li_lim
from postal.routing.model import Plan
from postal.routing.neighbourhoods import _score, improve, nearest_routes
from postal.routing.prep import prepare
from postal.routing.schedule import earliest_schedule
from postal.routing.solver import cost_scales
from postal.routing.vroom_engine import solve_vroom

BENCH = Path(__file__).resolve().parents[2] / "data" / "bench" / "li_lim" / "pdp_200"


def test_a_quick_plan_of_200_stops_gets_better_and_stays_whole() -> None:
    inst = read_li_lim(BENCH / "lr1_2_1.txt")
    prep = prepare(inst.problem)
    fixed, _ = cost_scales(prep, False)
    # VROOM's construction alone (exploration 0, a tenth of a second): room to improve.
    start = solve_vroom(prep, 0.1, fixed, False, threads=1, exploration=0).sequences
    before = _score(prep, start, False)
    assert before is not None
    out = improve(prep, start, time.monotonic() + 3.0, fixed, False, stops_per_part=40,
                  part_seconds=0.5)  # fmt: skip
    after = _score(prep, out, False)
    assert after is not None and after < before
    served = sorted(s for seq in out.values() for s in seq)
    assert served == sorted(prep.active)
    route_of = {s: c for c, seq in out.items() for s in seq}
    assert all(route_of[s] == route_of[prep.partner[s]] for s in prep.active)
    routes = [earliest_schedule(prep, c, seq) for c, seq in out.items()]
    assert all(r is not None for r in routes)
    assert check_plan(inst.problem, Plan(routes=tuple(r for r in routes if r))) == []


def test_the_nearest_routes_start_with_the_seed_and_are_the_closest() -> None:
    inst = read_li_lim(BENCH / "lc1_2_1.txt")
    prep = prepare(inst.problem)
    fixed, _ = cost_scales(prep, False)
    seqs = solve_vroom(prep, 0.2, fixed, False, threads=1, exploration=0).sequences
    seed = next(iter(seqs))
    chosen = nearest_routes(prep, seqs, seed, 3)
    assert chosen[0] == seed and len(set(chosen)) == 3
    # Every route left out is no nearer to the seed than the farthest one chosen.
    problem = prep.problem

    def mean(c: int) -> float:
        seed_locs = [problem.stops[s].location for s in seqs[seed]]
        return sum(
            min(int(problem.durations[a, problem.stops[s].location]) for a in seed_locs)
            for s in seqs[c]
        ) / len(seqs[c])

    assert max(mean(c) for c in chosen) <= min(mean(c) for c in seqs if c not in chosen)


def test_improvement_ends_when_every_neighbourhood_was_tried_as_it_stands() -> None:
    """VROOM solves a neighbourhood it did not improve the same way again: once a whole
    round finds only such neighbourhoods, improve returns instead of spinning until its
    deadline; every better plan was shown to ``on_better`` on the way."""
    inst = read_li_lim(BENCH / "lc1_2_1.txt")
    prep = prepare(inst.problem)
    fixed, _ = cost_scales(prep, False)
    start = solve_vroom(prep, 0.1, fixed, False, threads=1, exploration=0).sequences
    seen: list[tuple[int, int] | None] = []
    t0 = time.monotonic()
    out = improve(prep, start, t0 + 120.0, fixed, False, stops_per_part=40, part_seconds=0.3,
                  on_better=lambda seqs: seen.append(_score(prep, seqs, False)))  # fmt: skip
    assert time.monotonic() - t0 < 60.0
    assert seen == sorted(seen, reverse=True)  # each shown plan better than the last
    if seen:
        assert seen[-1] == _score(prep, out, False)
    assert sorted(s for seq in out.values() for s in seq) == sorted(prep.active)


def test_the_neighbourhoods_job_serves_every_stop_by_our_rules() -> None:
    """The portfolio's job for big days with short shifts (VROOM's construction, then
    neighbourhoods on two threads) returns whole, feasible routes, no worse than the
    construction it starts from."""
    from postal.routing.solver import _job_neighbourhoods

    inst = read_li_lim(BENCH / "lr1_2_1.txt")
    prep = prepare(inst.problem)
    fixed, _ = cost_scales(prep, False)
    out = _job_neighbourhoods(prep, time.monotonic() + 4.0, 0, fixed, False, 2)
    built = solve_vroom(prep, 1.0, fixed, False, threads=2, exploration=0).sequences
    after, before = _score(prep, out, False), _score(prep, built, False)
    assert after is not None and before is not None and after <= before
    assert sorted(s for seq in out.values() for s in seq) == sorted(prep.active)
    routes = [earliest_schedule(prep, c, seq) for c, seq in out.items()]
    assert check_plan(inst.problem, Plan(routes=tuple(r for r in routes if r))) == []
