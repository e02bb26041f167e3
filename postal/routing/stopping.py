"""A PyVRP stopping criterion that knows the portfolio's clock (no PyVRP import here)."""

from __future__ import annotations

import time
from collections.abc import Callable

_INT_MAX = 2**63 - 1
"""What PyVRP's cost evaluator returns for an infeasible best solution."""


class Until:
    """PyVRP stopping criterion: an absolute monotonic deadline (so that PyVRP's set-up time
    counts against the budget, unlike MaxRuntime), an optional iteration budget (the
    deterministic mode), the first feasible solution, or a watcher asking to stop early
    (another process found a smaller fleet)."""

    def __init__(
        self,
        deadline: float,
        iterations: int | None = None,
        first_feasible: bool = False,
        interrupt: Callable[[], bool] | None = None,
    ) -> None:
        self.deadline = deadline
        self.iterations = iterations
        self.first_feasible = first_feasible
        self.interrupt = interrupt
        self.calls = 0
        self.interrupted = False

    def __call__(self, best_cost: int) -> bool:
        if self.first_feasible and best_cost < _INT_MAX:
            return True
        self.calls += 1
        if self.iterations is not None and self.calls > self.iterations:
            return True
        if time.monotonic() >= self.deadline:
            return True
        if self.interrupt is not None and self.calls % 8 == 0 and self.interrupt():
            self.interrupted = True
            return True
        return False
