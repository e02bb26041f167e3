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


class PrincipalCache:
    """Credential digest -> principal, for ``ttl`` seconds, at most ``size`` entries (LRU)."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
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

    def put(self, credential: str, principal: Principal) -> None:
        """Remember ``principal`` for ``credential`` for the cache's lifetime."""
        if self.ttl <= 0:
            return
        key = token_digest(credential)
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, credential: str) -> None:
        """Drop ``credential`` (its token was just revoked)."""
        with self._lock:
            self._entries.pop(token_digest(credential), None)
