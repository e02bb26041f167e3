"""What the task bodies of this process work with: the settings and the database engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from postal.config import Settings


@dataclass(frozen=True)
class Runtime:
    """The settings and engine tasks use in this process."""

    settings: Settings
    engine: Engine


_current: Runtime | None = None


def bind(settings: Settings, engine: Engine) -> Runtime:
    """Give this process's tasks their settings and engine (a worker at start, a web process
    with an embedded worker, a test)."""
    global _current
    _current = Runtime(settings, engine)
    return _current


def current() -> Runtime:
    """The bound runtime; a task in a process that never bound one is a programming error."""
    if _current is None:
        raise RuntimeError("postal.worker.runtime.bind() was not called in this process")
    return _current
