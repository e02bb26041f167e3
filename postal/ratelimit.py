"""Rate limits: fixed-window counters shared by every server process.

Two stores, one behaviour. With ``POSTAL_RATE_LIMIT_STORAGE=redis://...`` the counting is the
`limits` library's (its fixed-window strategy on Redis, expiry by Redis's clock). Otherwise
(`database`, the default, and what the embedded SQLite demo uses) each counter is one row of
``rate_limit_counter``, moved by a single atomic upsert, in a transaction of its own, so a
refused request's rollback never undoes its count.

Callers must not hold a write transaction of the same database while they count: on SQLite a
second writer would wait for the first. The API counts before a request's session writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Column, Float, case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from postal.config import Settings
from postal.db import reader
from postal.errors import ServiceUnavailable, TooManyRequests

log = logging.getLogger("postal.ratelimit")


class RateLimitCounter(SQLModel, table=True):
    """One fixed-window counter of the database store: hits so far and when the window ends."""

    __tablename__ = "rate_limit_counter"

    key: str = Field(primary_key=True, max_length=120)
    hits: int
    reset_at: float = Field(sa_column=Column(Float, nullable=False))  # Unix seconds


@dataclass(frozen=True)
class Rule:
    """At most ``amount`` hits per ``seconds`` for one key; ``name`` keeps rules apart."""

    name: str
    amount: int
    seconds: int


@dataclass(frozen=True)
class Window:
    """A counter's state after a hit or a look: hits in the window and seconds to its end."""

    hits: int
    retry_after: int
    allowed: bool


def _key(rule: Rule, key: str) -> str:
    # Keys are user names and addresses: stored hashed, bounded in length.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{rule.name}:{digest}"


class Counters(Protocol):
    """A store of fixed-window counters."""

    def hit(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """Count one hit; ``allowed`` says whether it is within the rule."""

    def peek(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """The counter without a hit; ``allowed`` says whether one more hit would be."""

    def clear(self, rule: Rule, key: str) -> None:
        """Forget the counter (a successful sign-in clears its failures)."""


class DatabaseCounters:
    """Counters in the service's database: one row per rule and key, atomic upserts."""

    PURGE_EVERY = 1000  # hits between two deletions of ended windows, per process

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._hits = 0
        self._lock = threading.Lock()

    def hit(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """Count one hit with one INSERT ... ON CONFLICT DO UPDATE ... RETURNING."""
        table = RateLimitCounter.__table__  # type: ignore[attr-defined]
        stamp = now.timestamp()
        fresh = stamp + rule.seconds
        ins = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(table)
        ended = table.c.reset_at <= literal(stamp)
        stmt = (
            ins.values(key=_key(rule, key), hits=1, reset_at=fresh)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "hits": case((ended, 1), else_=table.c.hits + 1),
                    "reset_at": case((ended, fresh), else_=table.c.reset_at),
                },
            )
            .returning(table.c.hits, table.c.reset_at)
        )
        try:
            with self.engine.begin() as conn:
                hits, reset_at = conn.execute(stmt).one()
                if self._due():
                    conn.execute(delete(table).where(table.c.reset_at < stamp))
        except SQLAlchemyError as exc:
            log.warning("rate-limit counter not written", exc_info=True)
            raise ServiceUnavailable("rate_limit_unavailable") from exc
        return Window(int(hits), _seconds(reset_at - stamp), int(hits) <= rule.amount)

    def peek(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """Read the counter; an ended window reads as empty."""
        table = RateLimitCounter.__table__  # type: ignore[attr-defined]
        stamp = now.timestamp()
        try:
            with reader(self.engine).connect() as conn:
                row = conn.execute(table.select().where(table.c.key == _key(rule, key))).first()
                conn.rollback()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("rate_limit_unavailable") from exc
        if row is None or row.reset_at <= stamp:
            return Window(0, 0, True)
        return Window(int(row.hits), _seconds(row.reset_at - stamp), row.hits < rule.amount)

    def clear(self, rule: Rule, key: str) -> None:
        """Delete the counter's row."""
        table = RateLimitCounter.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key == _key(rule, key)))

    def _due(self) -> bool:
        with self._lock:
            self._hits += 1
            return self._hits % self.PURGE_EVERY == 0


class RedisCounters:
    """Counters on Redis through the `limits` library's fixed-window strategy."""

    def __init__(self, url: str) -> None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        self.storage = storage_from_string(url)
        self.limiter = FixedWindowRateLimiter(self.storage)

    @staticmethod
    def _item(rule: Rule) -> object:
        from limits import RateLimitItemPerSecond

        return RateLimitItemPerSecond(rule.amount, rule.seconds, namespace="postal")

    def hit(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """Count one hit (Redis INCR with the window's expiry)."""
        item = self._item(rule)
        try:
            allowed = self.limiter.hit(item, _key(rule, key))  # type: ignore[arg-type]
            stats = self.limiter.get_window_stats(item, _key(rule, key))  # type: ignore[arg-type]
        except Exception as exc:  # the client's errors are many; all mean "not counted"
            log.warning("rate-limit counter not written", exc_info=True)
            raise ServiceUnavailable("rate_limit_unavailable") from exc
        hits = rule.amount - stats.remaining
        return Window(hits, _seconds(stats.reset_time - time.time()), allowed)

    def peek(self, rule: Rule, key: str, now: dt.datetime) -> Window:
        """Read the counter without counting."""
        item = self._item(rule)
        try:
            allowed = self.limiter.test(item, _key(rule, key))  # type: ignore[arg-type]
            stats = self.limiter.get_window_stats(item, _key(rule, key))  # type: ignore[arg-type]
        except Exception as exc:
            raise ServiceUnavailable("rate_limit_unavailable") from exc
        hits = rule.amount - stats.remaining
        return Window(hits, _seconds(stats.reset_time - time.time()) if hits else 0, allowed)

    def clear(self, rule: Rule, key: str) -> None:
        """Forget the counter."""
        self.limiter.clear(self._item(rule), _key(rule, key))  # type: ignore[arg-type]


def _seconds(value: float) -> int:
    return max(1, math.ceil(value))


def make_counters(settings: Settings, engine: Engine) -> Counters:
    """The store ``rate_limit_storage`` names: Redis by URL, else the database."""
    storage = settings.rate_limit_storage.strip()
    if storage.startswith(("redis://", "rediss://", "redis+")):
        return RedisCounters(storage)
    if storage not in ("", "database"):
        raise ValueError(f"POSTAL_RATE_LIMIT_STORAGE: unknown storage {storage!r}")
    return DatabaseCounters(engine)


def enforce(counters: Counters, rule: Rule, key: str, now: dt.datetime, code: str) -> None:
    """Count a hit; raise TooManyRequests(``code``) with the window's rest when beyond."""
    window = counters.hit(rule, key, now)
    if not window.allowed:
        raise TooManyRequests(code, retry_after=window.retry_after, limit=rule.amount)
