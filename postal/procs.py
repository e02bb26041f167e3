"""Processes that end with the process that started them (Linux's parent-death signal)."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(forked: bool = True) -> None:
    """Ask the kernel to kill this process when its parent dies (a worker killed with
    ``kill -9`` then leaves no solver behind). A process ``forked`` straight from its
    multiprocessing parent exits at once if that parent is gone already (a fork server's
    child has the server as its parent, and is not checked)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process ends with its time limit
        return
    parent = multiprocessing.parent_process() if forked else None
    if parent is not None and parent.pid is not None and os.getppid() != parent.pid:
        os._exit(1)  # the parent died before the signal was asked for
