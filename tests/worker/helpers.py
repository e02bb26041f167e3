"""Helpers shared by the worker tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(what: Callable[[], Any], timeout: float, message: str) -> Any:
    """The first true value of ``what()``, asked every 0.2 s; fails after ``timeout`` seconds
    naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out: {message}")
