"""Run a worker: `postal worker` in its own process, or embedded in a serving process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import procrastinate
from sqlalchemy.engine import Engine

from postal.config import Settings
from postal.worker import runtime
from postal.worker.queue import QUEUES, is_postgres, queue_app

log = logging.getLogger("postal.worker")


def worker_options(
    settings: Settings, concurrency: int | None = None, queues: list[str] | None = None
) -> dict[str, Any]:
    """procrastinate worker options from the settings (heartbeat, stalled timeout, polling)."""
    chosen = queues or [q for q in settings.worker_queues.split(",") if q]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown:
        raise ValueError(f"queues: unknown {', '.join(unknown)} (known: {', '.join(QUEUES)})")
    return {
        "queues": chosen,
        "concurrency": concurrency or settings.worker_concurrency,
        "update_heartbeat_interval": settings.worker_heartbeat_s,
        "stalled_worker_timeout": settings.worker_stalled_after_s,
        "fetch_job_polling_interval": settings.worker_poll_s,
        "delete_jobs": "successful",
    }


def run_worker(
    settings: Settings, engine: Engine, concurrency: int | None = None,
    queues: list[str] | None = None,
) -> None:  # fmt: skip
    """Run a worker in the foreground until SIGINT/SIGTERM (the `postal worker` command)."""
    if not is_postgres(settings.database_url):
        raise ValueError(
            "database_url: `postal worker` needs PostgreSQL (the queue lives there); on SQLite "
            "`postal serve` and `postal demo` run the worker inside the server"
        )
    from postal.notify.delivery import check_at_start

    for warning in check_at_start(settings):  # a broken template stops the worker here
        log.warning(warning)
    runtime.bind(settings, engine)
    options = worker_options(settings, concurrency, queues)
    log.info("worker: queues %s, concurrency %s", options["queues"], options["concurrency"])
    queue_app(settings).run_worker(**options)


def drain(settings: Settings, engine: Engine) -> None:
    """Run every task waiting in the queue, and the ones they enqueue, then return (tests,
    and tools that want the work done in this process)."""
    runtime.bind(settings, engine)
    options = worker_options(settings, concurrency=1, queues=list(QUEUES))
    options.update(wait=False, install_signal_handlers=False, listen_notify=False)
    options["fetch_job_polling_interval"] = 0.05
    # On a thread of its own: the caller's thread may have an event loop running already (a
    # browser driver's), where the worker's own loop cannot start.
    failure: list[BaseException] = []

    def run() -> None:
        try:
            queue_app(settings).run_worker(**options)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="postal-drain")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def enqueue_unfinished(app: procrastinate.App, engine: Engine) -> tuple[int, int]:
    """Enqueue again what an earlier process left open (plans not fanned out, parts not
    recorded): an in-memory queue starts empty. Returns (plans, parts) enqueued; copies of
    tasks still waiting are refused by their queueing locks, and the tasks are idempotent."""
    import datetime as dt

    from postal.planning import parts
    from postal.worker.tasks import defer_async

    plans, open_parts = await asyncio.to_thread(parts.stale_plans, engine, dt.timedelta(0))
    for plan_id in plans:
        await defer_async(app, "plan_fan_out", lock=f"plan-{plan_id}", plan_id=plan_id)
    for part_id in open_parts:
        await defer_async(app, "plan_part", lock=f"part-{part_id}", part_id=part_id)
    return len(plans), len(open_parts)


class EmbeddedWorker:
    """A worker on a thread of the serving process, with an event loop of its own: the
    embedded SQLite default (an in-memory queue only this process can see)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="postal-worker", daemon=True)

    def start(self) -> None:
        """Start the worker thread; returns once its queue is open."""
        runtime.bind(self.settings, self.engine)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        app: procrastinate.App = queue_app(self.settings)
        options = worker_options(self.settings, queues=list(QUEUES))
        options.update(install_signal_handlers=False, shutdown_graceful_timeout=5)
        async with app.open_async():
            self._task = asyncio.current_task()
            if not is_postgres(self.settings.database_url):
                await enqueue_unfinished(app, self.engine)
            self._ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await app.run_worker_async(**options)

    def stop(self) -> None:
        """Stop the worker (running tasks are cancelled; the queue keeps nothing in memory,
        so the plans they belonged to are picked up again at the next start)."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=15)
