"""Put tasks on the queue: what web processes (and tasks) call; nothing here runs a task.

A task may be enqueued twice (a retry, a sweep that finds the same row): each carries a
queueing lock naming its row, so a second copy waiting in the queue is refused by the queue
itself, and the task bodies are idempotent for the copies that get through.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from postal.config import Settings
from postal.worker.queue import enqueue_app, worker_loop

log = logging.getLogger("postal.worker")
_opened: dict[int, procrastinate.App] = {}  # holding the app keeps its id unique
_lock = threading.Lock()


def _open(app: procrastinate.App) -> procrastinate.App:
    with _lock:
        if id(app) not in _opened:
            app.open()
            _opened[id(app)] = app
    return app


def defer(settings: Settings, task: str, lock: str | None = None, **kwargs: Any) -> bool:
    """Enqueue ``postal:<task>`` with ``kwargs``; False when a copy already waits."""
    app = _open(enqueue_app(settings))
    configured = app.configure_task(f"postal:{task}", queueing_lock=lock)
    loop = worker_loop(app)
    try:
        if loop is not None and loop.is_running():
            # An in-memory queue belongs to its worker's event loop: enqueue there, never
            # beside it from another thread.
            future = asyncio.run_coroutine_threadsafe(configured.defer_async(**kwargs), loop)
            future.result(timeout=30)
        else:
            configured.defer(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


def defer_plan(settings: Settings, plan_id: int) -> None:
    """Enqueue a plan's fan-out (after the plan's row is committed)."""
    _defer_committed(settings, "plan_fan_out", f"plan-{plan_id}", plan_id=plan_id)


def defer_optimise(settings: Settings, job_id: str) -> None:
    """Enqueue an optimise problem (after its row is committed)."""
    _defer_committed(settings, "solve_optimise", f"optimise-{job_id}", job_id=job_id)


def _defer_committed(settings: Settings, task: str, lock: str, **kwargs: Any) -> None:
    # The row is committed already: a queue that does not answer now must not turn the
    # reply into an error (a retry would be refused as a duplicate). The periodic
    # `reconcile` job enqueues what has no task within a minute.
    try:
        defer(settings, task, lock=lock, **kwargs)
    except Exception:
        log.warning("%s left to the reconcile job", lock, exc_info=True)


def defer_message(settings: Settings, message_id: int) -> None:
    """Enqueue the delivery of a message to a citizen."""
    defer(settings, "deliver_message", lock=f"message-{message_id}", message_id=message_id)


def defer_webhook(settings: Settings, delivery_id: int) -> None:
    """Enqueue the delivery of a webhook."""
    defer(settings, "deliver_webhook", lock=f"webhook-{delivery_id}", delivery_id=delivery_id)


def forget_opened() -> None:
    """Tests: apps built anew must be opened anew."""
    with _lock:
        _opened.clear()


def send_new_messages_on_commit(settings: Settings) -> None:
    """After a session on this database commits messages to the outbox, enqueue their
    delivery at once (a one-time code should not wait for the periodic sweep). A failure to
    enqueue is only logged: the sweep sends the message anyway."""
    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from postal.notify.outbox import NEW_MESSAGES

    first = not _hooked
    _hooked[make_url(settings.database_url).render_as_string(hide_password=False)] = settings
    if not first:
        return

    def after_commit(session: Session) -> None:
        ids = session.info.pop(NEW_MESSAGES, None)
        bind = session.get_bind() if ids else None
        url = bind.engine.url.render_as_string(hide_password=False) if bind else ""
        target = _hooked.get(url)
        if not ids or target is None:
            return
        for message_id in ids:
            try:
                defer_message(target, message_id)
            except Exception:  # the sweep sends it; never fail the committed request
                log.warning("message %s left to the sweep", message_id, exc_info=True)

    def after_rollback(session: Session, _transaction: object) -> None:
        session.info.pop(NEW_MESSAGES, None)

    event.listen(Session, "after_commit", after_commit)
    event.listen(Session, "after_soft_rollback", after_rollback)


_hooked: dict[str, Settings] = {}
