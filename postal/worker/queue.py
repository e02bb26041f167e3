"""The procrastinate app of this process: PostgreSQL queue, or in-memory on SQLite."""

from __future__ import annotations

import asyncio
import threading

import procrastinate
from procrastinate.testing import InMemoryConnector
from sqlalchemy.engine import make_url

from postal.config import Settings
from postal.worker.tasks import register

QUEUES = ("planning", "messages", "default")
_apps: dict[str, procrastinate.App] = {}
_lock = threading.Lock()


def is_postgres(database_url: str) -> bool:
    """True when the database (and so the queue) is PostgreSQL."""
    return make_url(database_url).get_backend_name() == "postgresql"


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq's connection string (no driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _connector(settings: Settings) -> procrastinate.BaseConnector:
    if is_postgres(settings.database_url):
        return procrastinate.PsycopgConnector(conninfo=libpq_url(settings.database_url))
    # SQLite has no queue of its own: one in-memory queue per process, shared by the web
    # threads that enqueue and the embedded worker that runs the tasks.
    return InMemoryConnector()


def queue_app(settings: Settings) -> procrastinate.App:
    """The process's procrastinate app for ``settings.database_url`` (built once, not opened)."""
    with _lock:
        app = _apps.get(settings.database_url)
        if app is None:
            app = register(procrastinate.App(connector=_connector(settings)))
            _apps[settings.database_url] = app
        return app


def enqueue_app(settings: Settings) -> procrastinate.App:
    """The app web processes enqueue with: on PostgreSQL a synchronous connection pool of
    its own (the worker's async pool belongs to the worker's event loop); in memory, the
    worker's own app."""
    app = queue_app(settings)
    if not is_postgres(settings.database_url):
        return app
    key = "sync:" + settings.database_url
    with _lock:
        sync_app = _apps.get(key)
        if sync_app is None:
            sync_app = register(
                procrastinate.App(
                    connector=procrastinate.SyncPsycopgConnector(
                        conninfo=libpq_url(settings.database_url), min_size=1, max_size=4
                    )
                )
            )
            _apps[key] = sync_app
        return sync_app


_loops: dict[int, asyncio.AbstractEventLoop] = {}


def set_worker_loop(app: procrastinate.App, loop: asyncio.AbstractEventLoop | None) -> None:
    """Note (or forget) the event loop of the worker running an in-memory ``app``."""
    with _lock:
        if loop is None:
            _loops.pop(id(app), None)
        else:
            _loops[id(app)] = loop


def worker_loop(app: procrastinate.App) -> asyncio.AbstractEventLoop | None:
    """The loop of the embedded worker of an in-memory ``app``, if one runs."""
    return _loops.get(id(app))


def forget(settings: Settings) -> None:
    """Drop the process's app for this database (tests, and a process that changes database)."""
    with _lock:
        _apps.pop(settings.database_url, None)
        _apps.pop("sync:" + settings.database_url, None)
