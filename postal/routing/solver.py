"""solve(problem, params) -> Plan: screening, a portfolio of engines, repair, OR-Tools, checking.

The portfolio ('ours'):
1. screen stops that cannot be served (reasons attached);
2. in parallel processes, PyVRP's iterated local search on the problem (exact when every stop
   has one window and no courier has a break, otherwise a relaxation) and a fleet-minimisation
   run (PyVRP asked for one courier fewer until it fails, then polished). On big exact
   problems and on relaxations, the plain search starts from VROOM's plan: on big exact
   problems with short shifts VROOM's own local search gets most of the budget, being the
   stronger search per second there, and the fleet run gives way to PyVRP's search from its
   own start; above NEIGHBOURHOODS_FROM stops both cores go to VROOM's quickest
   construction and then to neighbourhoods of a few routes solved again (see
   portfolio_jobs). The PyVRP jobs post every smaller fleet they find in a
   shared-memory mailbox: the fleet job stops an attempt at a fleet size the plain search
   reached and continues from that solution; past half of its budget, the plain search
   adopts a smaller fleet of the fleet job and polishes it too. On exact models the jobs get
   the whole budget but the time to check and build the plan;
3. every candidate is re-scheduled with our own rules; stops an engine misplaced are removed;
4. OR-Tools, which expresses every rule, starts from the best candidate (ReadAssignmentFromRoutes)
   and reinserts what was removed, with guided local search for the remaining time;
5. the best plan by (dropped priorities, dropped stops, couriers, travel) is checked by the
   independent checker.

Clocks. By default every search stops at the wall clock: PyVRP at a monotonic deadline shared
by the processes (its set-up included), VROOM at its timeout, OR-Tools at its time limit, and
the fleet job splits its budget by elapsed time; the mailbox exchange depends on timing too.
So two runs with one seed may differ. ``SolveParams.iterations`` switches to the deterministic
mode: PyVRP searches count iterations (the fleet job splits the iterations as it would split
seconds), OR-Tools stops after ``iterations // 10`` solutions, VROOM and the mailbox are left
out; the time limit then only bounds the run (a run cut by it is not reproducible).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np
from numpy.typing import NDArray

from postal.procs import die_with_parent
from postal.routing.checker import check_plan
from postal.routing.errors import SolverFailure
from postal.routing.insertion import reinsert, swap_in
from postal.routing.mailbox import NONE_POSTED, Mailbox
from postal.routing.model import (
    Plan,
    Problem,
    Route,
    SolveParams,
    TravelCost,
    Unassigned,
    UnassignedReason,
    route_money,
)
from postal.routing.prep import Prepared, prepare
from postal.routing.schedule import earliest_schedule, is_feasible, money, route_cost
from postal.routing.stopping import Until

Sequences = dict[int, list[int]]
Score = tuple[int, int, int, int]
"""(priorities dropped, stops dropped, couriers, travel cost): see Candidate.score."""
LARGE = 250
"""Above this many stops to route, constructions start from VROOM rather than PyVRP."""
VROOM_SHARE = 0.45
"""VROOM's share of the VROOM-then-PyVRP job on big problems."""
EXACT_VROOM_SHARE = 0.9
"""VROOM's share of that job on big exact problems with short shifts (see portfolio_jobs)."""
SHORT_SHIFT_EXPLORATION = 2
"""VROOM's exploration level there: on one core it converges on lr1_10_1 (1,054 stops) in
about 31 s, against 50 s at level 3, and leaves PyVRP time to polish (60 s, seeds 0 and 1:
60,574.78 and 60,798.57 against 60,657.56 and 60,905.13 at level 3)."""
SHORT_SHIFT_PARTS = 0.9
"""Share of the time VROOM leaves on those problems that goes to solving neighbourhoods of
its routes again (``neighbourhoods.improve``) before PyVRP polishes. VROOM converges there in
25-35 s of 60; PyVRP's polish of its plan had gained 0.14%, neighbourhoods of about 100
stops gain 5% (60 s, `postal bench li-lim --dir data/bench/li_lim/pdp_1000 --engines ours`:
lr1_10_1 100 routes at 61,634.87, +8.62% over the best known, became 57,685.59, +1.66%;
lrc1_10_1 88 routes became 86; lc1_10_1 stays at the best known)."""
NEIGHBOURHOODS_FROM = 500
"""Above this many stops, a big exact problem with short shifts is VROOM's quickest
construction and then its neighbourhoods solved again by VROOM on both cores
(``_job_neighbourhoods``), rather than VROOM's search beside PyVRP's. On a thousand stops
VROOM's search of the whole day stalls, and PyVRP from its own start is weaker still on
distance (lr1_10_1, 60 s: VROOM's search and neighbourhoods for its last seconds
58,475-58,647, +3.0-3.4% over the best known; PyVRP 124 routes). Li & Lim type 1 cut to
fewer stops (pairs drawn from lr1_10_1 and lrc1_10_1, one run each, ours before/after):
400 stops at 30 s, lr1 40 routes at 29,876/30,204, lrc1 47 at 26,364/26,392, so the two
searches stay below; 600 at 40 s, lr1 55 at 41,072/54 at 42,222, lrc1 59 at 35,036/35,087;
800, lr1 77 at 49,784/76 at 49,361, lrc1 71 at 41,116/41,276."""
SHORT_SHIFT_PART_STOPS = 150
"""Stops per neighbourhood there. lr1_10_1 at 60 s, from the construction (101 routes at
63,609 in 2 s on two threads): neighbourhoods of 100/150/200 stops with 2 s each reached
57,051/56,960/57,709 (+0.4% over the best known at 150); with 3-4 s, 57,035-57,112.
lrc1_10_1: 85-87 routes (PyVRP alone 86-87; best known 82); lc1_10_1: the best known from
the construction."""
SHORT_SHIFT_PART_SECONDS = 3.0
"""VROOM's time limit per neighbourhood there (it stops sooner when it converges)."""
VROOM_LED_BIG = 200
"""Above this many stops VROOM's own search on VROOM's format takes nearly all the time."""
SHORT_SHIFT = 150.0
"""Below this many stops per shift (see stops_per_shift) routes are short: Li & Lim's type 1
(lr1_10_1 82, lrc1_10_1 90, lc1_10_1 20; clustered lc2_10_1, 40, where service dominates),
against type 2 (lr2_10_1 318, lrc2_10_1 352)."""
POLISH_HISTORY = 1000
"""Late-acceptance history for polishing a reduced fleet warm-started from a feasible
solution: PyVRP's default (300) settles in the first basin (lc103 at 9 routes: 1063-1068
with seeds 7 and 8 in 6 s, against 1035-1041 with 1000)."""
RETRY_TRIAL = 0.1
"""Big exact problems: share of the fleet job's budget for one trial at a fleet one smaller."""
RETRY_POLISH = 0.05
"""... and for polishing the fleet with a new seed between two trials at the same size."""
_LOG = logging.getLogger(__name__)
_EMIT: Callable[[Sequences], None] | None = None
"""Set in worker processes: sends an intermediate candidate to the parent."""


def _trace(msg: str) -> None:
    import os
    import sys

    if os.environ.get("POSTAL_TRACE"):
        print(f"[{time.monotonic():.2f} {os.getpid()}] {msg}", file=sys.stderr, flush=True)


def _emit(sequences: Sequences) -> None:
    """Stream a candidate to the parent process (no-op when running in-process)."""
    if _EMIT is not None:
        _EMIT(sequences)


@dataclass(frozen=True)
class Candidate:
    """A feasible set of routes (by our rules) and the stops it leaves out."""

    sequences: Sequences
    dropped: tuple[int, ...]
    source: str

    def score(self, prep: Prepared, by_duration: bool) -> Score:
        """(priorities dropped, stops dropped, couriers, travel cost): smaller is better.

        VROOM's order: the sum of the priorities of the tasks served first (a shipment's
        counts twice, once per step), then the number of tasks served, then the cost."""
        priority = sum(max(0, prep.problem.stops[s].priority) for s in self.dropped)
        if prep.problem.priced:
            # Money: couriers are priced by their fixed cost, not counted first.
            return priority, len(self.dropped), 0, priced_cost(prep, self.sequences)
        travel = sum(route_cost(prep, c, seq, by_duration) for c, seq in self.sequences.items())
        return priority, len(self.dropped), sum(1 for s in self.sequences.values() if s), travel


def priced_cost(prep: Prepared, sequences: Sequences) -> int:
    """The priced objective of ``sequences`` (cost units, see model.route_money)."""
    total = 0
    for c, seq in sequences.items():
        route = earliest_schedule(prep, c, seq) if seq else None
        if route is not None:
            total += money(prep, route)
    return total


def _most(matrices: Sequence[NDArray[np.int64]], locs: list[int]) -> NDArray[np.int64]:
    """The rows and columns ``locs`` of the matrices, the largest value of each cell."""
    most: NDArray[np.int64] = np.maximum.reduce([m[np.ix_(locs, locs)] for m in matrices])
    return most


def priced_bound(prep: Prepared) -> int:
    """More than any priced plan costs: every courier used for its whole shift over a
    distance no route can exceed (so a dropped stop always costs more than it saves)."""
    problem = prep.problem
    locs = sorted(
        {problem.stops[s].location for s in prep.active} | {d.location for d in problem.depots}
    )
    # Every profile's worst (a car's and a bicycle's matrices).
    row_max = _most(problem.all_distances, locs).max(axis=1).astype(np.int64)
    far = int(row_max.sum()) + int(row_max.max()) * 2
    time_max = _most(problem.all_durations, locs).max(axis=1).astype(np.int64)
    # Travel time at the slowest courier, and every task on one route.
    slowest = min(c.speed_percent for c in problem.couriers)
    long = (int(time_max.sum()) + int(time_max.max()) * 2) * 100 // slowest + 1
    tasks = sum(problem.stops[s].setup + problem.stops[s].service for s in prep.active)
    arc = 0
    arcs = [
        a for a in (problem.arc_costs, *(p.arc_costs for p in problem.profiles)) if a is not None
    ]
    if arcs:
        arc_max = _most(arcs, locs).max(axis=1).astype(np.int64)
        arc = int(arc_max.sum()) + int(arc_max.max()) * 2
    return 1 + sum(
        route_money(c, c.shift[0], c.shift[1], far, long, tasks, arc) for c in problem.couriers
    )


def cost_scales(prep: Prepared, by_duration: bool) -> tuple[int, int]:
    """(fixed cost per courier, base penalty per dropped stop) for the lexicographic objective."""
    problem = prep.problem
    mats = problem.all_durations if by_duration else problem.all_distances
    locs = sorted(
        {problem.stops[s].location for s in prep.active} | {d.location for d in problem.depots}
    )
    if not locs:
        return 1, 1
    sub = _most(mats, locs)
    slowest = min((c.speed_percent for c in problem.couriers), default=100)
    row_max = sub.max(axis=1).astype(np.int64)
    bound = int(row_max.sum()) + int(row_max.max()) * 2
    if by_duration and slowest < 100:
        bound = bound * 100 // slowest + 1
    fixed = max(bound, 1) + 1
    base = fixed * (len(problem.couriers) + 1)
    return fixed, base


def stops_per_shift(prep: Prepared, sample: int = 400) -> float:
    """How many stops a shift could hold at best: the longest shift over the mean service
    time plus the mean travel time to a stop's five nearest stops (a sample of stops on big
    problems). It tells short routes (many couriers, tight days) from long ones."""
    problem = prep.problem
    if not prep.active or not problem.couriers:
        return 0.0
    locs = np.array([problem.stops[s].location for s in prep.active])
    rows = locs[np.linspace(0, len(locs) - 1, min(sample, len(locs))).astype(int)]
    sub = problem.durations[np.ix_(rows, locs)].astype(np.float64)
    sub[sub == 0] = np.inf  # the stop itself, and stops at the same place
    near = np.sort(sub, axis=1)[:, :5]
    near = near[np.isfinite(near)]
    travel = float(near.mean()) if near.size else 0.0
    service = float(np.mean([problem.stops[s].service for s in prep.active]))
    shift = max(c.shift[1] - c.shift[0] for c in problem.couriers)
    return shift / max(service + travel, 1.0)


def short_shifts(prep: Prepared) -> bool:
    """Whether a shift holds few stops (see stops_per_shift and SHORT_SHIFT)."""
    return stops_per_shift(prep) <= SHORT_SHIFT


def exact_vroom_share(prep: Prepared) -> float:
    """VROOM's share of the VROOM-then-PyVRP job on a big exact problem (see portfolio_jobs)."""
    return EXACT_VROOM_SHARE if short_shifts(prep) else VROOM_SHARE


def repair(prep: Prepared, sequences: Sequences) -> tuple[Sequences, list[int]]:
    """Make sequences feasible by our rules, removing the stops (and partners) that break them."""
    problem = prep.problem
    seen: set[int] = set()
    route_of: dict[int, int] = {}
    cleaned: Sequences = {}
    removed: set[int] = set()
    active = set(prep.active)
    for c, seq in sequences.items():
        if not 0 <= c < len(problem.couriers):
            removed.update(s for s in seq if s in active)
            continue
        keep = []
        for s in seq:
            if s in seen or s not in active or c not in prep.compatible[s]:
                if s in active and s not in seen:
                    removed.add(s)
                continue
            seen.add(s)
            route_of[s] = c
            keep.append(s)
        cleaned[c] = keep
    # Pairs must share a route.
    for s, c in list(route_of.items()):
        j = prep.partner[s]
        if j >= 0 and route_of.get(j) != c:
            removed.update((s, j))
    out: Sequences = {}
    for c, seq in cleaned.items():
        seq = [s for s in seq if s not in removed]
        while seq and not is_feasible(prep, c, seq):
            # Drop the stop where the longest feasible prefix ends, with its partner.
            k = 1
            while k < len(seq) and is_feasible(prep, c, _closed_prefix(prep, seq[:k])):
                k += 1
            victim = _victim(prep, c, seq, k)
            gone = {victim, prep.partner[victim]}
            removed.update(x for x in gone if x >= 0)
            seq = [s for s in seq if s not in gone]
        if seq:
            out[c] = seq
    missing = [s for s in prep.active if s not in seen]
    dropped = sorted(removed | set(missing))
    return out, dropped


def _victim(prep: Prepared, courier: int, seq: Sequence[int], k: int) -> int:
    """The stop to remove from ``seq`` whose first ``k`` stops cannot be scheduled: the k-th,
    unless removing a stop of lower priority among them (VROOM's rule: keep the higher
    priorities) makes them feasible. Uniform priorities cost no extra check."""
    stops = prep.problem.stops
    last = seq[k - 1]
    lower = sorted(
        (s for s in seq[: k - 1] if stops[s].priority < stops[last].priority),
        key=lambda s: stops[s].priority,
    )
    for s in lower:
        gone = {s, prep.partner[s]}
        rest = [x for x in seq[:k] if x not in gone]
        if is_feasible(prep, courier, _closed_prefix(prep, rest)):
            return s
    return last


def _closed_prefix(prep: Prepared, prefix: Sequence[int]) -> list[int]:
    """A prefix without the pickups whose deliveries lie beyond it (so load checks hold)."""
    inside = set(prefix)
    return [s for s in prefix if prep.partner[s] < 0 or prep.partner[s] in inside]


def _reason_for_dropped(
    prep: Prepared, sequences: Sequences, s: int, timed_out: bool
) -> UnassignedReason:
    idle = [c for c in prep.compatible[s] if not sequences.get(c)]
    j = prep.partner[s]
    pair = [s] if j < 0 else sorted((s, j), key=lambda x: not prep.is_pickup(x))
    if any(is_feasible(prep, c, pair) for c in idle):
        return UnassignedReason.TIME_LIMIT if timed_out else UnassignedReason.NO_COURIER
    return UnassignedReason.NO_COURIER


def build_plan(
    prep: Prepared,
    sequences: Sequences,
    dropped: Sequence[int],
    engine: str,
    seconds: float,
    timed_out: bool = True,
) -> Plan:
    """Schedule feasible sequences and attach a reason to every stop left out."""
    routes: list[Route] = []
    for c in sorted(sequences):
        seq = sequences[c]
        if not seq:
            continue
        route = earliest_schedule(prep, c, seq)
        if route is None:
            raise SolverFailure(detail=f"{engine}: route of courier {c} cannot be scheduled")
        routes.append(route)
    unassigned = [Unassigned(s, r) for s, r in sorted(prep.reasons.items())]
    unassigned += [
        Unassigned(s, _reason_for_dropped(prep, sequences, s, timed_out)) for s in sorted(dropped)
    ]
    return Plan(
        routes=tuple(routes),
        unassigned=tuple(sorted(unassigned, key=lambda u: u.stop)),
        engine=engine,
        seconds=seconds,
    )


# --- engine jobs (top-level so that worker processes can run them) ---------------------------


@dataclass
class Budget:
    """What a job may spend: wall clock up to a monotonic deadline, or (the deterministic mode)
    a number of PyVRP iterations, the deadline then being only a safety net."""

    deadline: float
    iterations: int | None = None

    @property
    def eps(self) -> float:
        """The smallest amount worth starting a search with."""
        return 0.05 if self.iterations is None else 1.0

    def left(self) -> float:
        """Seconds to the deadline, or iterations left."""
        if self.iterations is not None:
            return float(self.iterations)
        return self.deadline - time.monotonic()

    def part(self, share: float, lo: float = 0.0, hi: float = float("inf")) -> float:
        """A share of what is left (clamped to [lo, hi] seconds on the wall clock)."""
        if self.iterations is not None:
            return max(share * self.iterations, 1.0)
        return min(max(share * self.left(), lo), hi)

    def stop(
        self,
        amount: float | None = None,
        first_feasible: bool = False,
        interrupt: Callable[[], bool] | None = None,
    ) -> Until:
        """A stopping criterion spending ``amount`` (everything left when None)."""
        if self.iterations is not None:
            n = self.iterations if amount is None else max(int(amount), 1)
            # No interruptions: what another process does must not change this one's answer.
            return Until(self.deadline, n, first_feasible)
        end = self.deadline if amount is None else min(self.deadline, time.monotonic() + amount)
        return Until(end, None, first_feasible, interrupt)

    def spend(self, iterations: int) -> None:
        """Account for a finished search."""
        if self.iterations is not None:
            self.iterations = max(self.iterations - iterations, 0)


def _job_pyvrp(
    prep: Prepared,
    deadline: float,
    seed: int,
    fixed: int,
    by_duration: bool,
    initial: Sequences | None = None,
    mailbox: Mailbox | None = None,
    iterations: int | None = None,
) -> Sequences:
    """PyVRP's iterated local search until the (monotonic) deadline: the same search as the
    PyVRP peer. With a mailbox it posts every smaller fleet it finds, for the fleet job to
    build on; and when, past half of its budget, the fleet job holds fewer routes than its
    own best, it continues from that solution at that fleet size, so that two processes
    polish the smallest fleet. Not earlier: on lr110 adopting the fleet job's 11 routes at
    once replaced a trajectory that reaches 10 on its own after a quarter of the budget."""
    from postal.routing.pyvrp_engine import PyvrpModel

    model = PyvrpModel(prep, fixed, by_duration)
    budget = Budget(deadline, iterations)
    base = model.data
    init = model.from_sequences(initial) if initial else None
    fewest = [NONE_POSTED]
    """Routes of this job's best feasible solution."""
    adopt_after = time.monotonic() + 0.5 * max(deadline - time.monotonic(), 0.0)
    best: Sequences = {}
    best_key: tuple[int, int, int] | None = None

    def keep(sol: Any) -> None:
        nonlocal best, best_key
        key = (0 if sol.is_feasible() else 1, sol.num_routes(), int(sol.distance_cost()))
        if best_key is None or key < best_key:
            best, best_key = model.to_sequences(sol), key

    def on_best(sol: Any) -> None:
        if sol.is_feasible() and sol.num_routes() < fewest[0]:
            fewest[0] = sol.num_routes()
            _trace(f"pyvrp: {fewest[0]} routes {sol.distance_cost()}")
            seqs = model.to_sequences(sol)
            _emit(seqs)
            if mailbox is not None:
                mailbox.post(seqs)

    def smaller_elsewhere() -> bool:
        return (
            mailbox is not None and mailbox.routes() < fewest[0] and time.monotonic() >= adopt_after
        )

    if init is not None:
        # PyVRP reports only improvements on its start: a warm start (VROOM's routes) that
        # it never improves must still count as this job's fleet.
        on_best(init)
    history: int | None = None
    """PyVRP's default until a smaller fleet is adopted (so far the same search as the peer)."""
    while True:
        stop = budget.stop(interrupt=smaller_elsewhere if mailbox is not None else None)
        res = model.run(stop, seed, init, on_best, history)
        budget.spend(res.num_iterations)
        _trace(f"pyvrp: {res.num_iterations} iterations, {res.best.distance_cost()}")
        keep(res.best)
        taken = mailbox.take() if mailbox is not None and stop.interrupted else None
        if taken is None or budget.left() < budget.eps:
            break
        model.limit_fleet(base, model.fleet_of(taken))
        init = model.from_sequences(taken)
        _trace(f"pyvrp: adopt {len(taken)} routes")
        if init is None:
            break
        keep(init)
        fewest[0] = min(fewest[0], init.num_routes())
        history = POLISH_HISTORY
    return best


def _job_fleet(
    prep: Prepared,
    deadline_at: float,
    seed: int,
    fixed: int,
    by_duration: bool,
    mailbox: Mailbox | None = None,
    iterations: int | None = None,
) -> Sequences:
    """Fleet minimisation: drop the smallest route and ask PyVRP to fit its stops elsewhere
    (warm start, stop at the first feasible answer); repeat until it fails, then polish.
    With a mailbox, smaller fleets found by the other process are adopted (a trial at a
    fleet size someone already reached stops), and what this job finds is posted."""
    from postal.routing.pyvrp_engine import PyvrpModel

    budget = Budget(deadline_at, iterations)
    total = budget.left()
    # With breaks or multi-window stops PyVRP plans a relaxation: a fleet it reaches may need
    # one courier more once our rules place the breaks and lunch gaps. There, every fleet is
    # judged as our rules make it (repaired, stops put back), and what the job returns is that.
    relaxed = not prep.exact_for_pyvrp
    held_best: Sequences | None = None
    held_score: Score | None = None

    def keep_held(seqs: Sequences) -> Score:
        """Score ``seqs`` as our rules make them; keep and stream them when the best so far."""
        nonlocal held_best, held_score
        fixed_seqs, dropped = _repaired(prep, seqs, fixed, by_duration)
        score = Candidate(fixed_seqs, tuple(dropped), "").score(prep, by_duration)
        if held_score is None or score < held_score:
            held_best, held_score = fixed_seqs, score
            _emit(fixed_seqs)
        return score

    model = PyvrpModel(prep, fixed, by_duration)
    base = model.data
    # Big exact problems: a failed trial is not the end. Whether PyVRP fits a route's stops
    # in the others depends on its seed and on how well the fleet it starts from is packed,
    # so after a failure the fleet is polished for a moment with a new seed and the trial
    # is tried again, in shorter trials. lr2_10_1 from a 32-route start, 45 s: one trial of
    # 15 s per size ends at 21 routes with seed 0 and at 19 with seed 1; retried (6 s
    # trials, 3 s polish) 19 with seeds 0 and 2. lrc2_10_1: 24 either way.
    retry = not relaxed and len(prep.active) > LARGE and iterations is None
    trial_cap = (RETRY_TRIAL if retry else 0.3) * total
    # A failing attempt at one courier fewer must not eat the polishing time (retried trials
    # polish as they go, so less is kept for the end).
    reserve = (0.15 if retry else 0.25) * total
    retries = 0
    best: Sequences | None = None
    if len(prep.active) > LARGE and iterations is None and not retry:
        # Big relaxed instances: VROOM's quickest construction has far fewer routes than a
        # PyVRP warm-up of the same time (e.g. 101 against 117 on lr1_10_1). Not where the
        # trials are retried: from VROOM's construction (24 routes on lr2_10_1) they stall at
        # 22, from PyVRP's own 10 s warm-up (32 routes) they reach 19 in 45 s.
        from postal.routing.vroom_engine import solve_vroom

        built = solve_vroom(prep, 0.1 * total, fixed, by_duration, threads=1, exploration=0)
        _emit(built.sequences)
        warm = model.from_sequences(built.sequences)
        if not built.dropped and warm is not None and warm.is_feasible():
            best = built.sequences
    if best is None:
        # Small instances get a feasible start in a second; big ones need a real share.
        small = len(prep.active) <= LARGE
        warmup = budget.part(0.08, 0.3, 1.5) if small else budget.part(0.18 if retry else 0.25)
        first = model.run(budget.stop(warmup), seed)
        budget.spend(first.num_iterations)
        if not first.best.is_feasible():
            if budget.left() > budget.eps:
                res = model.run(budget.stop(), seed + 7, first.best)
                return model.to_sequences(res.best)
            return model.to_sequences(first.best)
        best = model.to_sequences(first.best)
    if relaxed:
        keep_held(best)
    else:
        _emit(best)
    if mailbox is not None:
        mailbox.post(best)
    type_of = model.type_of()
    counts = [base.vehicle_type(t).num_available for t in range(base.num_vehicle_types)]
    failed_at: int | None = None
    """Route count from which one fewer was tried and not found."""
    origin = best
    rounds = 0
    best_key: tuple[int, int] | None = None
    """(routes, distance) of the best polished fleet."""

    def smaller_than(n: int) -> Callable[[], bool] | None:
        return None if mailbox is None else (lambda: mailbox.routes() < n)

    while budget.left() > budget.eps:
        if mailbox is not None and mailbox.routes() < len(best):
            taken = mailbox.take()
            if taken is not None and len(taken) < len(best):
                best, counts = taken, model.fleet_of(taken)
                rounds, best_key = 0, None
        n = len(best)
        if n > 1 and failed_at != n and budget.left() > reserve + 4 * budget.eps:
            sizes = {c: len(q) for c, q in best.items()}
            smallest = min(sizes, key=lambda c: (sizes[c], c))
            trial = list(counts)
            trial[type_of[smallest]] = sum(1 for c in best if type_of[c] == type_of[smallest]) - 1
            model.limit_fleet(base, trial)
            init = model.from_sequences({c: q for c, q in best.items() if c != smallest})
            amount = min(budget.left() - reserve, trial_cap)
            stop = budget.stop(amount, first_feasible=True, interrupt=smaller_than(n))
            res = model.run(stop, seed, init)
            budget.spend(res.num_iterations)
            _trace(f"fleet: trial {n - 1} {res.best.is_feasible()} int={stop.interrupted}")
            if stop.interrupted:
                continue
            found = model.to_sequences(res.best)
            if not res.best.is_feasible() or any(
                trial[t] == 0 and any(type_of[c] == t for c in found) for t in range(len(trial))
            ):
                failed_at = n
                continue
            if relaxed:
                assert held_score is not None
                before = held_score
                score = keep_held(found)
                if score[:3] >= before[:3]:
                    # Fewer routes for PyVRP, not for our rules: polish the fleet we have.
                    _trace(f"fleet: trial {n - 1} needs {score[2]} couriers by our rules")
                    failed_at = n
                    continue
            counts, best = trial, found
            rounds, best_key = 0, None
            if not relaxed:
                _emit(best)
            if mailbox is not None:
                mailbox.post(best)
            continue
        if retry and failed_at == n and budget.left() > reserve + trial_cap + RETRY_POLISH * total:
            retries += 1
            model.limit_fleet(base, counts)
            stop = budget.stop(RETRY_POLISH * total, interrupt=smaller_than(n))
            res = model.run(stop, seed + 100 + retries, model.from_sequences(best))
            budget.spend(res.num_iterations)
            _trace(f"fleet: retry {retries}: {res.best.num_routes()} {res.best.distance_cost()}")
            if res.best.is_feasible() and res.best.num_routes() <= n:
                best = model.to_sequences(res.best)
                counts = model.fleet_of(best)
                _emit(best)
                if mailbox is not None:
                    mailbox.post(best)
            failed_at, seed = None, seed + 1
            continue
        # Two shorter polishing runs from the same start: at a reduced fleet the search is
        # basin-bound, and a second seed doubles the chances of the good basin.
        if rounds >= 2:
            break
        if rounds == 0:
            origin = best
        model.limit_fleet(base, counts)
        stop = budget.stop(budget.left() / (2 - rounds), interrupt=smaller_than(n))
        # One run with a long late-acceptance history, one with PyVRP's default: seeds and
        # histories both decide which basin a reduced fleet settles in.
        res = model.run(
            stop,
            seed + 7 + rounds,
            model.from_sequences(origin),
            history=POLISH_HISTORY if rounds == 0 else None,
        )
        budget.spend(res.num_iterations)
        rounds += 1
        polished = res.best
        _trace(f"fleet: polish {polished.num_routes()} {polished.distance_cost()}")
        cost = int(polished.distance_cost())
        if relaxed and polished.is_feasible():
            keep_held(model.to_sequences(polished))
        # Fewer routes first (the courier's fixed cost outweighs any distance): the second
        # run may find one route fewer at a longer distance (lr2_10_1: 21 routes at 48,692
        # after 22 at 46,795), and that is the better plan.
        key = (polished.num_routes(), cost)
        if (
            polished.is_feasible()
            and polished.num_routes() <= len(origin)
            and (best_key is None or key < best_key)
        ):
            best, best_key = model.to_sequences(polished), key
    if relaxed and held_best is not None:
        return held_best
    return best


def _job_neighbourhoods(
    prep: Prepared,
    deadline: float,
    seed: int,
    fixed: int,
    by_duration: bool,
    threads: int = 1,
) -> Sequences:
    """VROOM's quickest construction, then its neighbourhoods solved again by VROOM until the
    deadline (``neighbourhoods.improve``), VROOM on ``threads`` threads throughout. Where a
    shift holds few stops this beats VROOM's own search of a big day, which stalls (see
    NEIGHBOURHOODS_FROM); every better plan is streamed."""
    from postal.routing.neighbourhoods import improve
    from postal.routing.vroom_engine import solve_vroom

    seconds = deadline - time.monotonic()
    # Exploration 0 converges in 2-5 s on a thousand stops; cut shorter, it leaves routes
    # half-built (lr1_10_1: 103 routes at 67,000 when cut at 3 s, against 101 at 63,609).
    built = solve_vroom(
        prep, 0.25 * seconds, fixed, by_duration, threads, exploration=0, with_breaks=False
    )

    def better(seqs: Sequences) -> None:
        _emit({c: list(q) for c, q in seqs.items() if q})

    better(built.sequences)
    if built.dropped:
        return built.sequences
    return improve(
        prep,
        built.sequences,
        deadline,
        fixed,
        by_duration,
        seed,
        threads,
        stops_per_part=SHORT_SHIFT_PART_STOPS,
        part_seconds=SHORT_SHIFT_PART_SECONDS,
        with_breaks=False,
        on_better=better,
    )


def _job_vroom(prep: Prepared, deadline: float, fixed: int, by_duration: bool) -> Sequences:
    """VROOM alone (breaks left to the repair and OR-Tools)."""
    from postal.routing.vroom_engine import solve_vroom

    seconds = deadline - time.monotonic()
    return solve_vroom(prep, seconds, fixed, by_duration, threads=1, with_breaks=False).sequences


def _job_vroom_pyvrp(
    prep: Prepared,
    deadline: float,
    seed: int,
    fixed: int,
    by_duration: bool,
    exploration: int = 3,
    breaks: bool = False,
    mailbox: Mailbox | None = None,
    vroom_share: float = VROOM_SHARE,
    small_share: float = 0.3,
    threads: int = 1,
    vroom_input: str | None = None,
    parts: float = 0.0,
) -> Sequences:
    """VROOM (without breaks, a fast construction) warm-starting PyVRP until the deadline.

    On big instances VROOM gets ``vroom_share`` of the budget. VROOM divides its timeout among
    its local searches (16 at exploration 3 on one thread), so a short timeout cuts every
    search short, while a long one lets them converge and end early, leaving PyVRP the rest.
    With ``parts``, that share of the time VROOM leaves goes first to solving neighbourhoods
    of its routes again (``neighbourhoods.improve``), then PyVRP polishes.
    """
    from postal.routing.vroom_engine import solve_vroom, solve_vroom_input

    seconds = deadline - time.monotonic()
    budget = seconds * vroom_share if len(prep.active) > LARGE else min(seconds * small_share, 10.0)
    v = None
    if vroom_input is not None:
        # The user's own VROOM input: VROOM's plan is the one VROOM itself would give.
        try:
            v = solve_vroom_input(prep, vroom_input, budget, threads, exploration)
        except Exception:  # VROOM's input errors derive from Exception alone
            # Input we honour and VROOM refuses (a vehicle without capacity beside amounts):
            # VROOM gets our translation instead.
            _LOG.info("VROOM refused the input as given; solving the translation")
    if v is None:
        v = solve_vroom(
            prep,
            budget,
            fixed,
            by_duration,
            threads=threads,
            with_breaks=breaks,
            exploration=exploration,
        )
    _emit(v.sequences)
    sequences = v.sequences
    if parts > 0 and len(prep.active) > LARGE and not v.dropped:
        from postal.routing.neighbourhoods import improve

        until = time.monotonic() + (deadline - time.monotonic()) * parts
        sequences = improve(
            prep, sequences, until, fixed, by_duration, seed, threads, with_breaks=breaks
        )
        _emit(sequences)
    if deadline - time.monotonic() < 0.2:
        return sequences
    return _job_pyvrp(prep, deadline, seed, fixed, by_duration, sequences, mailbox)


Job = tuple[Callable[..., Sequences], tuple[Any, ...]]


def _job_process(conn: Connection, fn: Callable[..., Sequences], args: tuple[Any, ...]) -> None:
    """Worker process body: run one job, streaming intermediate candidates, then the last."""
    global _EMIT
    _EMIT = conn.send
    die_with_parent()  # a solve whose caller was killed stops at once, not at its deadline
    try:
        conn.send(fn(*args))
    except Exception:
        # A job that breaks is a bug, but the other jobs and OR-Tools still plan the day.
        _LOG.exception("solver job %s failed", fn.__name__)
        conn.send(None)
    finally:
        conn.close()


def _run_jobs(jobs: list[Job], workers: int, deadline: float) -> list[tuple[Sequences, str]]:
    """Run jobs until the monotonic ``deadline``: in parallel processes, or only the first
    job in-process when a single worker is allowed. A process still running a second after
    the deadline (VROOM does not always honour its timeout) is terminated."""
    global _EMIT
    out: list[tuple[Sequences, str]] = []
    if workers <= 1 or len(jobs) <= 1:
        fn, args = jobs[0]
        # In-process, the first candidate streamed is kept as well, as below (VROOM's plan
        # before PyVRP's relaxation polishes it: random VROOM problems, see vroom_compat).
        streamed: list[Sequences] = []
        saved, _EMIT = _EMIT, (lambda seqs: streamed.append(seqs) if not streamed else None)
        try:
            final = fn(*args)
            out.append((final, fn.__name__))
            if streamed and streamed[0] is not final:
                out.append((streamed[0], f"{fn.__name__}:first"))
        except (RuntimeError, ValueError):
            _LOG.exception("solver job %s failed", fn.__name__)
        finally:
            _EMIT = saved
        return out
    ctx = multiprocessing.get_context("fork")
    running = []
    for fn, args in jobs[:workers]:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_job_process, args=(sender, fn, args), daemon=True)
        proc.start()
        sender.close()
        running.append((proc, receiver, fn.__name__))
    # Keep each job's latest candidate: a job killed at the deadline still contributes what
    # it streamed before. All pipes are drained together, so that a job streaming many
    # candidates never blocks on a full pipe while another job is being waited for. The
    # first is kept too: VROOM's plan, which a relaxation's later plan may not beat once our
    # rules repair it (random VROOM problems with limits or breaks, see vroom_compat).
    last: list[Sequences | None] = [None] * len(running)
    first: list[Sequences | None] = [None] * len(running)
    open_ = {id(r): k for k, (_, r, _) in enumerate(running)}
    receivers = {id(r): r for _, r, _ in running}
    while open_:
        left = deadline + 1.0 - time.monotonic()
        if left <= 0:
            break
        for ready in wait([receivers[i] for i in open_], timeout=left):
            assert isinstance(ready, Connection)
            k = open_[id(ready)]
            try:
                value = ready.recv()
            except (EOFError, OSError):
                del open_[id(ready)]
                continue
            if value is not None:
                last[k] = value
                if first[k] is None:
                    first[k] = value
    for k, (proc, receiver, name) in enumerate(running):
        value = last[k]
        if value is not None:
            out.append((value, name))
        early = first[k]
        if early is not None and early is not value:
            out.append((early, f"{name}:first"))
        receiver.close()
        proc.join(timeout=0.2)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    return out


# --- public entry point ----------------------------------------------------------------------


def solve(problem: Problem, params: SolveParams | None = None) -> Plan:
    """Plan the day: every servable stop routed if the couriers allow, fewest couriers first.

    Raises InvalidProblem for inconsistent input and SolverFailure if an engine's plan fails
    the independent checker (a bug). Stops that cannot be served come back in
    ``Plan.unassigned`` with a reason; an empty problem gives an empty plan.
    """
    params = params or SolveParams()
    t0 = time.perf_counter()
    prep = prepare(problem)
    by_duration = params.travel_cost is TravelCost.DURATION
    fixed, base = cost_scales(prep, by_duration)
    if params.courier_cost is not None:
        fixed = params.courier_cost
        base = max(base, fixed * (len(problem.couriers) + 1))
    if not prep.active or not problem.couriers:
        plan = build_plan(prep, {}, [], params.engine, time.perf_counter() - t0)
        return _checked(problem, plan)
    if problem.priced:
        base = max(base, priced_bound(prep))

    engine = params.engine
    _log(params, t0, f"prepared: {len(prep.active)} stops to route, {len(prep.reasons)} screened")
    if engine == "ours":
        best = _portfolio(prep, params, fixed, base, by_duration, t0)
    else:
        best = _single_engine(prep, params, fixed, base, by_duration, t0)
    if best.dropped and engine == "ours":
        # What is left of the budget, at least a little (the clock: not in deterministic mode).
        left = max(params.time_limit_s - (time.perf_counter() - t0), 0.02 * params.time_limit_s)
        deadline = None if params.iterations is not None else time.monotonic() + left
        best = _swapped_in(prep, best, fixed, by_duration, deadline)
    _log(params, t0, f"best from {best.source}")
    plan = build_plan(prep, best.sequences, best.dropped, engine, time.perf_counter() - t0)
    checked = _checked(problem, plan)
    _log(params, t0, "plan built and checked")
    return checked


def _swapped_in(
    prep: Prepared, best: Candidate, fixed: int, by_duration: bool, deadline: float | None
) -> Candidate:
    """Exchange served stops for dropped ones where that leaves out fewer priorities, then
    fewer stops (VROOM's order), which insertion alone cannot reach; a bounded pass."""
    tries = max(20, 20_000 // max(len(prep.active), 1))
    seqs, dropped = swap_in(prep, best.sequences, best.dropped, fixed, by_duration, tries, deadline)
    cand = Candidate(seqs, tuple(dropped), best.source)
    return cand if cand.score(prep, by_duration) < best.score(prep, by_duration) else best


def _checked(problem: Problem, plan: Plan) -> Plan:
    violations = check_plan(problem, plan)
    if violations:
        raise SolverFailure(
            detail=f"{plan.engine}: plan fails the checker: "
            + "; ".join(f"{v.kind}: {v.message}" for v in violations[:5])
        )
    return plan


def _single_engine(
    prep: Prepared, params: SolveParams, fixed: int, base: int, by_duration: bool, t0: float
) -> Candidate:
    """One peer engine used the textbook way, its routes then held to our rules."""
    left = params.time_limit_s - (time.perf_counter() - t0)
    engine = params.engine
    if engine in ("ortools", "ortools-local"):
        from postal.routing.ortools_engine import OrtoolsModel

        model = OrtoolsModel(prep, fixed, base, by_duration)
        left = params.time_limit_s - (time.perf_counter() - t0)
        # The textbook first solution for pickup and delivery; 'ortools-local' uses the one
        # that copes with breaks and lunch gaps (it serves everything where the other cannot).
        local = engine == "ortools-local"
        first = "LOCAL_CHEAPEST_INSERTION" if local else "PARALLEL_CHEAPEST_INSERTION"
        out = model.solve(left, first=first, log=params.log)
        seqs = out.sequences
    elif engine == "pyvrp":
        from postal.routing.pyvrp_engine import PyvrpModel

        pmodel = PyvrpModel(prep, fixed, by_duration)
        left = params.time_limit_s - (time.perf_counter() - t0)
        seqs = pmodel.solve(left, params.seed, iterations=params.iterations).sequences
    elif engine == "vroom":
        from postal.routing.vroom_engine import solve_vroom

        seqs = solve_vroom(prep, left, fixed, by_duration, threads=params.workers).sequences
    else:
        from postal.routing.errors import InvalidProblem

        raise InvalidProblem(detail=f"unknown engine {engine!r}", field="engine")
    fixed_seqs, dropped = repair(prep, seqs)
    return Candidate(fixed_seqs, tuple(dropped), engine)


def _repaired(
    prep: Prepared, sequences: Sequences, fixed: int, by_duration: bool
) -> tuple[Sequences, list[int]]:
    """Repair an engine's sequences by our rules, then greedily put back what was removed."""
    seqs, dropped = repair(prep, sequences)
    if dropped:
        seqs, dropped = reinsert(prep, seqs, dropped, fixed, by_duration)
    return seqs, dropped


def _log(params: SolveParams, t0: float, msg: str) -> None:
    if params.log:
        print(f"[{time.perf_counter() - t0:6.2f}s] {msg}", flush=True)


def _vroom_led(prep: Prepared, params: SolveParams) -> bool:
    """A VROOM-format problem that VROOM's own search leads (see portfolio_jobs): VROOM sees
    its every rule, priced ones included (PyVRP's fleet objective is not VROOM's cost)."""
    exact = prep.exact_for_pyvrp and not prep.problem.priced
    return (
        params.vroom_first
        and not exact
        and params.use_vroom
        and params.use_pyvrp
        and params.iterations is None
    )


def portfolio_jobs(
    prep: Prepared,
    params: SolveParams,
    until: float,
    fixed: int,
    by_duration: bool,
    mailbox: Mailbox | None,
) -> list[Job]:
    """The portfolio's engine jobs for a problem, each to run in its own process until the
    monotonic ``until``; the first is the one kept when only one worker is allowed."""
    exact = prep.exact_for_pyvrp
    seed = params.seed
    iterations = params.iterations
    use_vroom = params.use_vroom and iterations is None
    jobs: list[Job] = []
    big_exact = exact and len(prep.active) > LARGE and use_vroom
    short = big_exact and short_shifts(prep)  # a big exact problem with short shifts
    share = EXACT_VROOM_SHARE if short else VROOM_SHARE
    exploration = SHORT_SHIFT_EXPLORATION if short else 3
    breaks, small_share = False, 0.3
    if _vroom_led(prep, params):
        # VROOM's format: VROOM sees every rule of those problems (breaks, costs, every
        # capacity dimension), so its own search is the strong start. It gets both cores
        # (two threads) and the whole budget of the jobs at exploration 5, ending early when
        # it converges; PyVRP polishes what is left, then OR-Tools. With half the budget on
        # one thread (and exploration 3 above 250 tasks), VROOM alone served more tasks on
        # 4 of 8 problems of 14-257 tasks at 3 s (`postal bench vroom-compat --problems 8`).
        args = (prep, until, seed, fixed, by_duration, 5, prep.has_breaks, mailbox, 1.0, 1.0)
        return [(_job_vroom_pyvrp, (*args, min(params.workers, 2), params.vroom_input))]
    if short and len(prep.active) > NEIGHBOURHOODS_FROM:
        # VROOM's quickest construction, then its neighbourhoods solved again, VROOM on both
        # cores (NEIGHBOURHOODS_FROM).
        threads = min(params.workers, 2)
        return [(_job_neighbourhoods, (prep, until, seed, fixed, by_duration, threads))]
    if params.use_pyvrp:
        # First job = the one to keep when only one worker is allowed.
        if short:
            # Big exact problems with short shifts, up to NEIGHBOURHOODS_FROM stops: VROOM's
            # search takes the other process,
            # and PyVRP from its own start is the better second opinion than the fleet job,
            # whose trials from VROOM's quick construction settle in a worse basin, however
            # long it polishes. lrc1_10_1, 60 s, seeds 0-3: the fleet job 86 routes at 50,343,
            # 86 at 50,774, 87, 86 at 51,308; PyVRP's own search (which shrinks the fleet
            # too) 86 at 49,716, 87, 86 at 50,060, 86 at 49,853.
            jobs.append(
                (_job_pyvrp, (prep, until, seed + 1, fixed, by_duration, None, mailbox, iterations))
            )
        elif len(prep.problem.couriers) > 1:
            jobs.append(
                (_job_fleet, (prep, until, seed + 1, fixed, by_duration, mailbox, iterations))
            )
        if big_exact or (not exact and use_vroom):
            # Big exact instances: VROOM's local search, polished by PyVRP, beats PyVRP alone.
            # Where a shift holds few stops, VROOM is the stronger of the two per second and
            # may take nearly all the budget (lr1_10_1, 1,054 stops, one core: VROOM converges
            # in 50 s at +6.5% over the best known; given 27 s, +9.5%, which PyVRP's 30 s then
            # improve by 0.14%). Where a shift holds many, PyVRP's search removes couriers
            # VROOM cannot (lrc2_10_1: 27 routes from VROOM, 24 after PyVRP's 33 s; 25 when
            # VROOM took 90%), so it keeps the larger part. Relaxations start from VROOM too.
            # With short shifts, what VROOM leaves goes mostly to solving neighbourhoods of
            # its routes again (SHORT_SHIFT_PARTS), where VROOM is strong, before PyVRP.
            jobs.append(
                (
                    _job_vroom_pyvrp,
                    (
                        prep,
                        until,
                        seed,
                        fixed,
                        by_duration,
                        exploration,
                        breaks,
                        mailbox,
                        share,
                        small_share,
                        1,
                        None,
                        SHORT_SHIFT_PARTS if short else 0.0,
                    ),
                )
            )
        else:
            jobs.append(
                (_job_pyvrp, (prep, until, seed, fixed, by_duration, None, mailbox, iterations))
            )
    elif params.use_vroom:
        jobs.append((_job_vroom, (prep, until, fixed, by_duration)))
    return jobs


def _initial(
    prep: Prepared, params: SolveParams, fixed: int, by_duration: bool
) -> Candidate | None:
    """The caller's initial routes (VROOM's ``steps``) as a candidate, what they leave out
    inserted greedily; None without them, or if one is not feasible by our rules."""
    seqs = {c: list(seq) for c, seq in enumerate(params.initial) if seq}
    active = set(prep.active)
    if not seqs or not all(
        set(seq) <= active and is_feasible(prep, c, seq) for c, seq in seqs.items()
    ):
        return None
    seqs, dropped = _repaired(prep, seqs, fixed, by_duration)
    return Candidate(seqs, tuple(dropped), "initial")


def _portfolio(
    prep: Prepared, params: SolveParams, fixed: int, base: int, by_duration: bool, t0: float
) -> Candidate:
    total = params.time_limit_s
    # A priced problem's working time is seen by OR-Tools alone (its span cost): it polishes.
    exact = prep.exact_for_pyvrp and not prep.problem.priced
    margin = min(0.5, 0.02 * total + 0.05)
    iterations = params.iterations
    if exact:
        # Exact models: PyVRP is the workhorse and gets everything but the time to repair,
        # check and build the plan (a few milliseconds per hundred stops).
        tail = min(0.05 + 0.0004 * len(prep.active), 0.1 * total)
        phase1 = max(total - tail - (time.perf_counter() - t0), 0.1)
    else:
        # Otherwise OR-Tools, which sees every rule, polishes what the jobs found (their
        # fleets already judged by our rules). 65% for the jobs: on Hà Nội's urban-core day
        # (600 stops, 30 s, seeds 0-2) 10/12/11 couriers against 11/12/11 with 45%. VROOM's
        # format, where the job is VROOM's own search: 85% (`postal bench vroom-compat
        # --problems 20 --min-tasks 150 --max-tasks 300 --time-limit 5`: ours no worse than
        # VROOM on 12/20 against 6/20 with 65%), and above VROOM_LED_BIG stops 97%: there
        # VROOM uses its whole budget, and what OR-Tools gains in the rest is less than
        # what VROOM gains in it (`--min-tasks 200 --max-tasks 300`, seeds 0 and 1, one run
        # each: 12/20 and 8/20 at 85%, 15/20 and 11/20 at 97%).
        share = 0.65
        if _vroom_led(prep, params):
            share = 0.97 if len(prep.active) > VROOM_LED_BIG else 0.85
        phase1 = max(total * share - (time.perf_counter() - t0), 0.1) - 0.1
    # Worker processes share the monotonic clock: each job stops at the same instant.
    until = time.monotonic() + phase1
    deterministic = iterations is not None
    # The two PyVRP processes share their smallest fleet (timing-dependent, so not in the
    # deterministic mode, where each job's answer depends on its seed and budget alone).
    mailbox = None
    couriers = len(prep.problem.couriers)
    if params.use_pyvrp and params.workers > 1 and couriers > 1 and not deterministic:
        mailbox = Mailbox(multiprocessing.get_context("fork"), couriers, len(prep.active))
    jobs = portfolio_jobs(prep, params, until, fixed, by_duration, mailbox)
    results = _run_jobs(jobs, params.workers, until) if jobs else []
    candidates = []
    for seqs, name in results:
        fixed_seqs, dropped = _repaired(prep, seqs, fixed, by_duration)
        candidates.append(Candidate(fixed_seqs, tuple(dropped), name))
        _log(params, t0, f"candidate {name}: {candidates[-1].score(prep, by_duration)}")
    initial = _initial(prep, params, fixed, by_duration)
    if initial is not None:
        candidates.append(initial)
    best = min(candidates, key=lambda c: c.score(prep, by_duration)) if candidates else None

    left = total - (time.perf_counter() - t0) - margin
    # Deterministic mode: OR-Tools stops at a number of solutions, the clock is a safety net.
    solutions = None if iterations is None else max(iterations // 10, 10)
    if (left > 0.2 or deterministic) and (best is None or best.dropped or not exact):
        from postal.routing.ortools_engine import OrtoolsModel

        model = OrtoolsModel(prep, fixed, base, by_duration)
        left = total - (time.perf_counter() - t0) - margin
        if deterministic:
            left = max(left, 1.0)
        if left > 0.1:
            out = model.solve(
                left,
                initial=best.sequences if best else None,
                first="LOCAL_CHEAPEST_INSERTION",
                log=params.log,
                solutions=solutions,
            )
            if out.found:
                seqs, dropped = _repaired(prep, out.sequences, fixed, by_duration)
                cand = Candidate(seqs, tuple(dropped), "ortools")
                _log(params, t0, f"candidate ortools: {cand.score(prep, by_duration)}")
                if best is None or cand.score(prep, by_duration) < best.score(prep, by_duration):
                    best = cand
    if best is None:
        best = Candidate({}, tuple(prep.active), "none")
    return replace(best, source=best.source)
