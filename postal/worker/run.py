"""Run a worker: `postal worker` in its own process, or embedded in a serving process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from typing import Any

import procrastinate
from sqlalchemy.engine import Engine

from postal.config import Settings
from postal.worker import runtime
from postal.worker.queue import QUEUES, is_postgres, queue_app, set_worker_loop

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


def lanes(options: dict[str, Any]) -> list[dict[str, Any]]:
    """The worker's lanes: planning apart from messages and periodic jobs, so that a lane
    busy with a part (seconds to minutes) never holds back a one-time code or the
    heartbeat-driven recovery of another worker's tasks."""
    queues = list(options["queues"])
    quick = [q for q in queues if q != "planning"]
    if "planning" not in queues or not quick:
        return [options]
    return [
        {**options, "queues": ["planning"], "name": "planning"},
        {**options, "queues": quick, "concurrency": 1, "name": ",".join(quick)},
    ]


async def run_lanes(app: procrastinate.App, options: dict[str, Any]) -> None:
    """Run the lanes side by side on this event loop until cancelled."""
    await asyncio.gather(
        *(app.run_worker_async(**{**lane, "install_signal_handlers": False})
          for lane in lanes(options))
    )  # fmt: skip


def run_worker(
    settings: Settings, engine: Engine, concurrency: int | None = None,
    queues: list[str] | None = None,
) -> None:  # fmt: skip
    """Run a worker in the foreground until SIGINT/SIGTERM (the `postal worker` command)."""
    from postal.notify.delivery import check_at_start

    if not is_postgres(settings.database_url):
        raise ValueError(
            "database_url: `postal worker` needs PostgreSQL (the queue lives there); on SQLite "
            "`postal serve` and `postal demo` run the worker inside the server"
        )
    for warning in check_at_start(settings):  # a broken template stops the worker here
        log.warning(warning)
    runtime.bind(settings, engine)
    options = worker_options(settings, concurrency, queues)
    log.info("worker: queues %s, concurrency %s", options["queues"], options["concurrency"])
    app = queue_app(settings)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        assert main is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, main.cancel)
        async with app.open_async():
            with contextlib.suppress(asyncio.CancelledError):
                await run_lanes(app, options)

    asyncio.run(serve())


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

    # Only the waiting tasks: periodic jobs follow the real clock, not a test's.
    registry = queue_app(settings).periodic_registry
    periodic = dict(registry.periodic_tasks)
    registry.periodic_tasks.clear()
    thread = threading.Thread(target=run, name="postal-drain")
    try:
        thread.start()
        thread.join()
    finally:
        registry.periodic_tasks.update(periodic)
    if failure:
        raise failure[0]


async def enqueue_unfinished(app: procrastinate.App, engine: Engine) -> tuple[int, int, int]:
    """Enqueue again what an earlier process left open (an in-memory queue starts empty):
    plans not fanned out, parts not recorded, optimise problems not solved."""
    import datetime as dt

    from postal.worker.tasks import reconcile_work

    return await reconcile_work(app, engine, dt.timedelta(0))


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
                set_worker_loop(app, asyncio.get_running_loop())
                await enqueue_unfinished(app, self.engine)
            self._ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await run_lanes(app, options)

    def stop(self) -> None:
        """Stop the worker (running tasks are cancelled; the queue keeps nothing in memory,
        so the plans they belonged to are picked up again at the next start)."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            log.warning("the embedded worker did not stop within 15 s")
