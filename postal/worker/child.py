"""Solve in a child process that a cancel can stop at once and a dead worker takes along.

The solver forks processes of its own and keeps both cores busy, so a task never solves in
the worker's (or a web server's) own process: the child starts from a fork server (a clean,
single-threaded process with the solver already imported), leads its own process group (a
cancel kills the solver's processes with it) and asks the kernel to kill it when its parent
dies (a worker killed with ``kill -9`` leaves no solver behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import Any

from postal.procs import die_with_parent
from postal.routing import model as rm

_context: ForkServerContext | None = None


class Cancelled(Exception):
    """The work was no longer wanted; the child was killed."""


class ChildFailed(Exception):
    """The solver raised, or its process died, in the child."""


def _context_() -> ForkServerContext:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        # Each child runs the main module again before its work: for the `postal` command
        # that imports the CLI and everything it mounts (about a second a part) unless the
        # fork server has imported it already.
        ctx.set_forkserver_preload(["postal.cli", "postal.routing.solver"])
        _context = ctx
    return _context


def _release_fork_server() -> None:
    """Close this child's copy of the fork server's "alive" pipe.

    The fork server exits when every holder of that pipe's write end is gone, and hands a
    copy to each child it forks. A solver child keeping its copy would keep the fork server
    alive after a ``kill -9`` of the worker, and the child (which dies with the fork server)
    alive with it: both would outlive the worker and hold what it held.
    """
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if server is not None and alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None


def _run(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.setpgrp()
    _release_fork_server()
    die_with_parent(forked=False)  # its parent is the fork server, which dies with the worker
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # reported to the parent, which decides
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_in_child(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    should_stop: Callable[[], Awaitable[bool]],
    poll_s: float = 0.5,
    stop_check_every: int = 2,
) -> Any:
    """Run ``fn(*args)`` in a child process and return its result; every ``poll_s`` seconds
    look at the child, and every ``stop_check_every`` looks ask ``should_stop``: when it says
    yes, kill the child's whole process group and raise Cancelled."""
    ctx = _context_()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_run, args=(sender, fn, args))
    proc.start()
    sender.close()
    looks = 0
    try:
        while True:
            # Wait on the pipe itself (in a thread): the result is taken the moment it comes.
            if await asyncio.to_thread(receiver.poll, poll_s):
                try:
                    kind, value = receiver.recv()
                except EOFError as exc:
                    raise ChildFailed(f"solver process ended ({proc.exitcode})") from exc
                if kind == "error":
                    raise ChildFailed(value)
                return value
            if not proc.is_alive() and not receiver.poll():
                raise ChildFailed(f"solver process ended ({proc.exitcode})")
            looks += 1
            if looks % stop_check_every == 0 and await should_stop():
                raise Cancelled
    finally:
        assert proc.pid is not None
        _kill_group(proc.pid)  # the solver's own processes too, whatever happened
        if proc.is_alive():  # stopped before it led its own group
            proc.kill()
        proc.join(timeout=5)
        receiver.close()


def solve(problem: rm.Problem, params: rm.SolveParams) -> rm.Plan:
    """The solver's entry point, importable by the fork server."""
    from postal.routing.solver import solve as solve_problem

    return solve_problem(problem, params)
