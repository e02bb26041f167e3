"""Group commit: the event batches of many requests recorded in one transaction, one commit.

Every event is chained to the whole ledger, so writers take turns on the chain head and each
commit waits for its WAL flush (milliseconds on this kind of disk) while holding it. One
writer thread per server process takes every batch waiting in its queue and records them in a
single transaction, with the outcome they would have one after the other, as one batch
(``events.record_batches``): one locking read of all their items, checks in memory, one write
under the chain head lock, one commit. A queue of N batches costs one flush instead of N, and
no request waits behind another's flush. A batch is acknowledged only after its commit.

If a batch breaks the group (a value the database refuses, a lock it cannot get in time, a
bug), the transaction is rolled back and each batch of the group is recorded again in a
transaction of its own, so one bad batch fails alone and the others are still recorded. If
the database itself is away (the connection is lost), the whole group fails at once: the
devices re-send, and their event ids make the re-sends safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session

from postal.auth.service import Principal
from postal.config import Settings
from postal.errors import PostalError, ServiceUnavailable
from postal.tracking import events, ledger
from postal.tracking.config import TrackingSettings
from postal.tracking.events import Submitted
from postal.tracking.schemas import EventIn, EventResult

log = logging.getLogger(__name__)

# SQLSTATEs that blame one batch, not the database: lock_not_available, deadlock_detected.
_BATCH_SQLSTATES = frozenset({"55P03", "40P01"})


@dataclass
class _Job:
    """One request's batch, waiting for the writer."""

    batch: Submitted
    future: Future[list[EventResult]] = field(default_factory=Future)


class GroupWriter:
    """Threads that record queued event batches in groups, one transaction and commit each.

    ``ledger_group_max_events`` bounds a group: a long transaction holds the chain head longer
    and makes the other server processes wait. With more than one thread
    (``ledger_group_writers``; always one on SQLite, whose writers take turns on the whole
    database anyway) one group is checked while another waits for the chain head or its
    commit's flush; the database's row locks order them (items, then the head).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        tsettings: TrackingSettings,
        autostart: bool = True,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._tsettings = tsettings
        self._max_events = tsettings.ledger_group_max_events
        self._postgres = engine.dialect.name == "postgresql"
        writers = tsettings.ledger_group_writers if self._postgres else 1
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"ledger-group-writer-{k}", daemon=True)
            for k in range(writers)
        ]
        self._started = False
        self._autostart = autostart
        self._stopped = False
        self._lock = threading.Lock()
        self.groups = 0  # groups committed (for tests and diagnostics)

    def submit(
        self, principal: Principal, batch: list[EventIn], now: dt.datetime, lang: str
    ) -> Future[list[EventResult]]:
        """Queue a batch; the future resolves to its results once their group has committed.

        Raises ServiceUnavailable when the writer has stopped or its threads have died.
        """
        job = _Job(Submitted(principal, batch, now, lang))
        with self._lock:
            if self._stopped:
                raise ServiceUnavailable("ledger_writer_stopped")
            if not self._started and self._autostart:
                self._start()
            if self._started and not any(t.is_alive() for t in self._threads):
                raise ServiceUnavailable("ledger_writer_stopped")
            self._queue.put(job)
        return job.future

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called: a stopped writer takes no more batches."""
        return self._stopped

    def start(self) -> None:
        """Start the writer threads (``submit`` does it unless built with ``autostart=False``)."""
        with self._lock:
            if not self._started:
                self._start()

    def _start(self) -> None:
        for thread in self._threads:
            thread.start()
        self._started = True

    def stop(self, timeout: float = 10.0) -> None:
        """Record what is queued, then end the threads."""
        with self._lock:
            self._stopped = True
            if not self._started:
                return
            for _ in self._threads:
                self._queue.put(None)  # one each: a thread ends on the first it takes
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._gather(first)
            try:
                self._record(group)
            except Exception as exc:  # never leave a request waiting, never end the thread
                log.exception("the ledger group writer failed")
                for job in group:
                    _settle(job.future, exc)
            if stop:
                return

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """The first job and whatever else is already waiting, up to ``max_events``."""
        group, size = [first], len(first.batch.events)
        while size < self._max_events:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return group, True
            group.append(job)
            size += len(job.batch.events)
        return group, False

    def _record(self, group: list[_Job]) -> None:
        """Record the group in one transaction; if a batch breaks it, each batch alone."""
        with Session(self._engine, expire_on_commit=False) as session:
            try:
                if self._postgres:
                    # A row held elsewhere (an idle transaction) must not stall the whole queue.
                    ms = int(self._tsettings.ledger_lock_timeout_s * 1000)
                    session.execute(text(f"SET LOCAL lock_timeout = {ms}"))
                results = events.record_batches(
                    session, self._settings, self._tsettings, [job.batch for job in group]
                )
                session.commit()
            except Exception as exc:
                session.rollback()
                ledger.discard(session)
                if len(group) == 1 or _database_away(exc):
                    if not isinstance(exc, PostalError):
                        log.warning("recording %d batch(es) failed", len(group), exc_info=True)
                    # The database busy or away is worth a retry (503), not a server error.
                    busy = isinstance(exc, (OperationalError, InterfaceError))
                    failure = ServiceUnavailable("ledger_busy") if busy else exc
                    for job in group:
                        _settle(job.future, failure)
                    return
            else:
                with self._lock:
                    self.groups += 1
                for job, outcome in zip(group, results, strict=True):
                    _settle(job.future, outcome)
                return
        for job in group:  # a batch broke the group: record each alone to find it
            self._record([job])


def _database_away(exc: Exception) -> bool:
    """Whether ``exc`` says the database cannot be used now (as opposed to blaming a batch)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return getattr(exc.orig, "sqlstate", None) not in _BATCH_SQLSTATES


def _settle(future: Future[list[EventResult]], outcome: list[EventResult] | Exception) -> None:
    """Resolve a job's future, unless its request gave up waiting (the batch is recorded all
    the same: its device will re-send it and get the replay)."""
    if future.cancelled():
        return
    try:
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:  # cancelled meanwhile
        pass
