"""A shared-memory slot through which the portfolio's PyVRP processes pass the smallest fleet.

The fleet-minimisation job and the plain PyVRP job search the same model in two processes.
Whoever finds a feasible solution with fewer routes than the slot holds posts it; the fleet
job checks the slot during its attempts (a read of one shared integer) and, when the plain
search already reached the fleet size it is trying, stops and continues from that solution;
the plain search does the same (late in its budget) with the fleet job's smaller fleets.
Only the latest, smallest solution matters, so the slot never queues and a post never blocks.
"""

from __future__ import annotations

from multiprocessing.context import BaseContext
from typing import Any

Sequences = dict[int, list[int]]
NONE_POSTED = 2**62


class Mailbox:
    """One solution (courier -> stops) with its route count, shared by forked processes."""

    def __init__(self, ctx: BaseContext, couriers: int, stops: int) -> None:
        self._lock: Any = ctx.Lock()
        self._routes: Any = ctx.Value("q", NONE_POSTED, lock=False)
        self._data: Any = ctx.Array("q", 1 + 2 * couriers + stops, lock=False)

    def routes(self) -> int:
        """Route count of the posted solution (NONE_POSTED when empty); no lock needed."""
        return int(self._routes.value)

    def post(self, sequences: Sequences) -> bool:
        """Post ``sequences`` if it has fewer routes than the posted one; True if posted."""
        used = {c: q for c, q in sequences.items() if q}
        with self._lock:
            if len(used) >= self._routes.value:
                return False
            flat = [len(used)]
            for c in sorted(used):
                flat += [c, len(used[c]), *used[c]]
            if len(flat) > len(self._data):
                return False
            self._data[: len(flat)] = flat
            self._routes.value = len(used)
            return True

    def take(self) -> Sequences | None:
        """The posted solution (None when nothing was posted)."""
        with self._lock:
            if self._routes.value == NONE_POSTED:
                return None
            data = self._data
            n, k = int(data[0]), 1
            out: Sequences = {}
            for _ in range(n):
                c, length = int(data[k]), int(data[k + 1])
                out[c] = [int(x) for x in data[k + 2 : k + 2 + length]]
                k += 2 + length
            return out
