"""A short-lived cache of who holds which credential, so a courier's burst of requests signs in
once instead of reading the token, the user and the bindings on every request.

Entries live ``auth_cache_seconds`` (a revoked token or a deactivated user is refused by every
server process at most that long after; a logout through this process is refused at once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from postal.auth.service import Principal, token_digest


def cache_key(*, token: str | None = None, api_key: str | None = None) -> str:
    """The cache key of a credential: its kind is part of it (a staff token sent as an API key
    must not resolve)."""
    return f"api-key:{api_key}" if api_key else f"token:{token}"


class PrincipalCache:
    """Credential digest -> principal, for ``ttl`` seconds, at most ``size`` entries (LRU)."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._revoked: dict[str, float] = {}  # digest -> when forgotten (kept one ttl)
        self._lock = threading.Lock()

    def get(self, credential: str) -> Principal | None:
        """The cached principal of ``credential``, or None when absent or expired."""
        if self.ttl <= 0:
            return None
        key = token_digest(credential)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    @staticmethod
    def clock() -> float:
        """The cache's clock: take it before reading a credential, pass it to ``put``."""
        return time.monotonic()

    def put(self, credential: str, principal: Principal, read_at: float) -> None:
        """Remember ``principal`` for ``credential``, read from the database at ``read_at``.

        A credential forgotten (revoked) after that read is not remembered: the read may have
        seen it just before its revocation.
        """
        if self.ttl <= 0:
            return
        key = token_digest(credential)
        with self._lock:
            if self._revoked.get(key, float("-inf")) >= read_at:
                return
            self._entries[key] = (time.monotonic() + self.ttl, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, credential: str) -> None:
        """Drop ``credential`` (its token was just revoked) and refuse reads of it from before."""
        key = token_digest(credential)
        now = time.monotonic()
        with self._lock:
            self._entries.pop(key, None)
            self._revoked[key] = now
            for old in [k for k, at in self._revoked.items() if at < now - max(self.ttl, 1.0)]:
                del self._revoked[old]
