"""The task bodies, on one procrastinate blueprint (namespace ``postal``).

Each task is idempotent (it may run twice after a crash) and does its database work in a
thread (``asyncio.to_thread``) and its solving in a child process (``postal.worker.child``),
so a worker's event loop keeps its heartbeat going however long a solve takes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryStrategy, builtin_tasks
from procrastinate.exceptions import AlreadyEnqueued

from postal.worker import child, runtime

log = logging.getLogger("postal.worker")
MAX_ATTEMPTS = 3
_RETRY = RetryStrategy(max_attempts=MAX_ATTEMPTS - 1, wait=2)  # retries after the first run


async def defer_async(
    app: procrastinate.App,
    task: str,
    lock: str | None = None,
    job_lock: str | None = None,
    **kwargs: Any,
) -> bool:
    """``defer`` from inside a task (the worker's own, opened app)."""
    try:
        await app.configure_task(f"postal:{task}", queueing_lock=lock, lock=job_lock).defer_async(
            **kwargs
        )
    except AlreadyEnqueued:
        return False
    return True


def _app(context: JobContext) -> procrastinate.App:
    assert context.app is not None
    return context.app


# ---------------------------------------------------------------- planning


async def plan_fan_out(context: JobContext, plan_id: int) -> None:
    """Split a plan into parts (once) and enqueue each part still to solve; a plan whose
    fan-out fails on every attempt says failed (its post offices free again)."""
    from postal.planning import parts

    rt = runtime.current()
    try:
        part_ids = await asyncio.to_thread(parts.fan_out, rt.engine, rt.settings, plan_id)
    except Exception as exc:
        log.exception("plan %s: fan-out failed", plan_id)
        attempts = (context.job.attempts or 0) + 1
        if attempts < MAX_ATTEMPTS:
            raise  # the queue tries again
        await asyncio.to_thread(parts.fail_plan, rt.engine, plan_id, f"{type(exc).__name__}: {exc}")
        return
    for part_id in part_ids:
        await defer_part(_app(context), part_id)


async def defer_part(app: procrastinate.App, part_id: int) -> bool:
    """Enqueue a part; its lock keeps two copies from ever running at once."""
    return await defer_async(
        app, "plan_part", lock=f"part-{part_id}", job_lock=f"part-{part_id}", part_id=part_id
    )


async def plan_part(part_id: int) -> None:
    """Solve one part with the plan's whole budget and record its routes once; stop within
    a second or two of the plan being cancelled. Any failure counts as an attempt of the
    part: after the last one the part and its plan say failed, never left running."""
    from postal.planning import parts

    rt = runtime.current()
    try:
        await _solve_part(rt, part_id)
    except Exception as exc:
        log.exception("plan part %s failed", part_id)
        reason = f"{type(exc).__name__}: {exc}"
        if await asyncio.to_thread(parts.part_failed, rt.engine, part_id, reason):
            return
        raise  # the queue tries again


async def _solve_part(rt: runtime.Runtime, part_id: int) -> None:
    from postal.planning import parts
    from postal.routing import model as rm

    prepared = await asyncio.to_thread(parts.prepare_part, rt.engine, rt.settings, part_id)
    if prepared is None:
        return

    async def stopped() -> bool:
        return await asyncio.to_thread(parts.plan_stopped, rt.engine, prepared.plan_id)

    problem = prepared.office_problem.problem
    try:
        if problem.stops:
            result = await child.run_in_child(
                child.solve, (problem, prepared.params), stopped, poll_s=0.5
            )
        else:
            result = rm.Plan(routes=())
    except child.Cancelled:
        await asyncio.to_thread(parts.stop_part, rt.engine, part_id)
        return
    await asyncio.to_thread(parts.record_part, rt.engine, rt.settings, prepared, result)


# ---------------------------------------------------------------- optimise


async def solve_optimise(job_id: str) -> None:
    """Solve a VROOM-format problem submitted to POST /optimise and store its plan; any
    failure is stored on the job (its client is never left waiting on it)."""
    from postal.optimise import service

    rt = runtime.current()
    parsed = None
    try:
        parsed = await asyncio.to_thread(service.start, rt.engine, rt.settings, job_id)
        if parsed is None:
            return
        params = await asyncio.to_thread(service.params, rt.engine, rt.settings, job_id)

        async def never() -> bool:
            return False

        plan = await child.run_in_child(child.solve, (parsed[0], params), never)
    except Exception as exc:
        log.exception("optimise %s failed", job_id)
        await asyncio.to_thread(
            service.finish, rt.engine, job_id, parsed, None, f"{type(exc).__name__}: {exc}"
        )
        return
    await asyncio.to_thread(service.finish, rt.engine, job_id, parsed, plan)


# ---------------------------------------------------------------- messages


async def deliver_message(message_id: int) -> None:
    """Send one message to a citizen (at most once per success; retries are scheduled by the
    outbox's own back-off, dead letters kept for staff)."""
    from postal.notify import delivery

    rt = runtime.current()
    await asyncio.to_thread(delivery.deliver_message, rt.engine, rt.settings, message_id, _now())


async def deliver_webhook(delivery_id: int) -> None:
    """Send one webhook to the one-stop information system."""
    from postal.notify import webhooks

    rt = runtime.current()
    await asyncio.to_thread(webhooks.deliver_webhook, rt.engine, rt.settings, delivery_id, _now())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- periodic jobs


async def retry_stalled(context: JobContext, timestamp: int) -> None:
    """Give the tasks of workers that stopped sending heartbeats (killed, machine lost) to
    the workers still alive."""
    rt = runtime.current()
    manager = _app(context).job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=rt.settings.worker_stalled_after_s
    )
    for job in stalled:
        log.warning("task %s (%s) of a silent worker: retried", job.id, job.task_name)
        try:
            await manager.retry_job(job)
        except Exception:  # retried meanwhile, or a fresh copy waits: the next job
            log.warning("task %s could not be retried", job.id, exc_info=True)


async def sweep_outbox(context: JobContext, timestamp: int) -> None:
    """Enqueue the messages and webhooks that are due (new, or back-off elapsed)."""
    rt = runtime.current()
    messages, hooks = await asyncio.to_thread(_due, rt.engine)
    for message_id in messages:
        await defer_async(
            _app(context), "deliver_message", lock=f"message-{message_id}", message_id=message_id
        )
    for delivery_id in hooks:
        await defer_async(
            _app(context),
            "deliver_webhook",
            lock=f"webhook-{delivery_id}",
            delivery_id=delivery_id,
        )


def _due(engine: Any) -> tuple[list[int], list[int]]:
    from sqlmodel import Session

    from postal.notify import delivery, webhooks

    with Session(engine) as session:
        now = _now()
        claim = runtime.current().settings.message_claim_timeout_s
        return (
            delivery.due_messages(session, now, 500, claim_timeout_s=claim),
            webhooks.due_webhooks(session, now, 500, claim_timeout_s=claim),
        )


async def reconcile(context: JobContext, timestamp: int) -> None:
    """Enqueue again the work nobody will run: plans never fanned out (a web process lost
    between its commit and its enqueue), parts and optimise problems whose task failed for
    good or was lost; fail optimise problems far past their time."""
    rt = runtime.current()
    await reconcile_work(_app(context), rt.engine, dt.timedelta(seconds=60))


async def reconcile_work(
    app: procrastinate.App, engine: Any, older_than: dt.timedelta
) -> tuple[int, int, int]:
    """Enqueue the plans, parts and optimise problems older than ``older_than`` that have no
    task waiting or running; returns how many of each were enqueued. Safe to repeat: a copy
    still waiting is refused by its queueing lock, and the tasks are idempotent."""
    from postal.optimise import service as optimise
    from postal.planning import parts

    plans, open_parts = await asyncio.to_thread(parts.stale_plans, engine, older_than)
    jobs = await asyncio.to_thread(optimise.unfinished, engine, dt.timedelta(minutes=30))
    counts = [0, 0, 0]
    for plan_id in plans:
        if not await _has_live_job(app, f"plan-{plan_id}"):
            counts[0] += await defer_async(
                app, "plan_fan_out", lock=f"plan-{plan_id}", plan_id=plan_id
            )
    for part_id in open_parts:
        if not await _has_live_job(app, f"part-{part_id}"):
            counts[1] += await defer_part(app, part_id)
    for job_id in jobs:
        if not await _has_live_job(app, f"optimise-{job_id}"):
            counts[2] += await defer_async(
                app, "solve_optimise", lock=f"optimise-{job_id}", job_id=job_id
            )
    return counts[0], counts[1], counts[2]


async def _has_live_job(app: procrastinate.App, queueing_lock: str) -> bool:
    for status in ("todo", "doing"):
        found = await app.job_manager.list_jobs_async(queueing_lock=queueing_lock, status=status)
        if list(found):
            return True
    return False


async def purge(context: JobContext, timestamp: int) -> None:
    """Delete expired idempotency records, old sent messages and delivered webhooks, and
    the queue's finished jobs, after their retention periods."""
    from postal.worker import housekeeping

    rt = runtime.current()
    await asyncio.to_thread(housekeeping.purge, rt.engine, rt.settings, _now())
    days = min(rt.settings.outbox_retention_days, rt.settings.idempotency_retention_days)
    await builtin_tasks.remove_old_jobs(
        context, max_hours=24 * days, remove_failed=True, remove_cancelled=True, remove_aborted=True
    )


async def verify_ledger(timestamp: int) -> None:
    """Verify the custody ledger from the last good checkpoint; log a broken chain."""
    from postal.worker import housekeeping

    rt = runtime.current()
    await asyncio.to_thread(housekeeping.verify_ledger, rt.engine)


async def send_reminders(timestamp: int) -> None:
    """Queue the day-before reminders for the next working day's bookings."""
    from postal.worker import housekeeping

    rt = runtime.current()
    await asyncio.to_thread(housekeeping.reminders, rt.engine, rt.settings, _now())


@dataclass(frozen=True)
class TaskSpec:
    """How a task body is registered: its queue, whether it gets the job context, its
    retry strategy, and for a periodic job its cron (seconds as a sixth field)."""

    fn: Callable[..., Awaitable[None]]
    queue: str
    priority: int = 0
    """Higher first: a worker busy with a province's parts still takes the periodic jobs
    and the messages (milliseconds each) before the next part."""
    context: bool = False
    retry: RetryStrategy | None = None
    cron: str | None = None


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(plan_fan_out, "planning", 5, context=True, retry=_RETRY),
    TaskSpec(plan_part, "planning", 0, retry=_RETRY),
    TaskSpec(solve_optimise, "planning", 1, retry=_RETRY),
    TaskSpec(deliver_message, "messages", 20, retry=_RETRY),
    TaskSpec(deliver_webhook, "messages", 20, retry=_RETRY),
    TaskSpec(retry_stalled, "default", 30, context=True, cron="* * * * * */5"),
    TaskSpec(sweep_outbox, "default", 25, context=True, cron="* * * * * */5"),
    TaskSpec(reconcile, "default", 25, context=True, cron="* * * * * */30"),
    TaskSpec(purge, "default", 10, context=True, cron="17 * * * *"),
    TaskSpec(verify_ledger, "default", 10, cron="*/10 * * * *"),
    TaskSpec(send_reminders, "default", 10, cron="0 10 * * *"),  # 17:00 in Hà Nội
)


def register(app: procrastinate.App) -> procrastinate.App:
    """Register every task (named ``postal:<function>``) and periodic job on ``app``."""
    for spec in TASKS:
        name = spec.fn.__name__
        options: dict[str, Any] = {
            "name": f"postal:{name}",
            "queue": spec.queue,
            "priority": spec.priority,
            "pass_context": spec.context,
            "retry": spec.retry or False,
            # A periodic job waits in the queue at most once and runs once at a time.
            "queueing_lock": name if spec.cron else None,
            "lock": name if spec.cron else None,
        }
        task = app.task(**options)(spec.fn)
        if spec.cron:
            app.periodic(cron=spec.cron)(task)
    return app
