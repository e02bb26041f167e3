"""Put tasks on the queue: what web processes (and tasks) call; nothing here runs a task.

A task may be enqueued twice (a retry, a sweep that finds the same row): each carries a
queueing lock naming its row, so a second copy waiting in the queue is refused by the queue
itself, and the task bodies are idempotent for the copies that get through.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from postal.config import Settings
from postal.worker.queue import enqueue_app

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
    try:
        app.configure_task(f"postal:{task}", queueing_lock=lock).defer(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


def defer_plan(settings: Settings, plan_id: int) -> None:
    """Enqueue a plan's fan-out (after the plan's row is committed)."""
    defer(settings, "plan_fan_out", lock=f"plan-{plan_id}", plan_id=plan_id)


def defer_optimise(settings: Settings, job_id: str) -> None:
    """Enqueue an optimise problem (after its row is committed)."""
    defer(settings, "solve_optimise", lock=f"optimise-{job_id}", job_id=job_id)


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
