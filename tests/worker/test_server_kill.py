"""`kill -9` of `postal serve` (SQLite, the embedded worker) in the middle of a plan: no solver
process outlives the server or holds its socket, the server starts again on the same port at
once, takes the stale plan up again and finishes it, and a cancel sent then sticks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_user
from postal.config import REPO_ROOT
from postal.db import make_engine
from tests.booking.helpers import booking_body
from tests.worker.helpers import wait_for

PASSWORD = "correct-horse-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marked(mark: str) -> list[int]:
    """The processes whose environment carries ``mark`` (the server and all it started)."""
    return list(_marked_parents(mark))


def _solvers(server: Server) -> list[int]:
    """The solving processes: below the server's own helpers (the fork server, the resource
    tracker), which wait idle beside it."""
    assert server.proc is not None
    parents = _marked_parents(server.mark)
    return [pid for pid, ppid in parents.items() if server.proc.pid not in (pid, ppid)]


def _tree(server: Server) -> str:
    """The marked processes with their command lines, for failure messages."""
    lines = []
    for pid, ppid in _marked_parents(server.mark).items():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:80]
        except OSError:
            cmd = b"?"
        lines.append(f"{pid}<-{ppid}: {cmd.decode(errors='replace')}")
    return "; ".join(lines)


def _marked_parents(mark: str) -> dict[int, int]:
    """Marked process -> its parent."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if mark.encode() in environ and state != "Z":
            found[int(entry.name)] = int(ppid)
    return found


class Server:
    """`postal serve` on an SQLite file, as a process of its own."""

    def __init__(self, db: Path, port: int, log: Path) -> None:
        self.mark = f"postal-kill-test-{uuid.uuid4()}"
        self.env = dict(
            os.environ,
            POSTAL_DATABASE_URL=f"sqlite:///{db}",
            POSTAL_SECRET_KEY="test-secret-key-0123456789",
            POSTAL_DATA_DIR=str(REPO_ROOT / "data"),
            POSTAL_COOKIE_SECURE="false",
            POSTAL_WORKER_POLL_S="0.2",
            POSTAL_PLAN_TIME_LIMIT_S="30",
            POSTAL_BOOKING_LIMIT_PER_ADDRESS="100000",
            POSTAL_KILL_TEST_MARK=self.mark,
        )
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("postal")), "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
        )  # fmt: skip
        wait_for(self._up, 60, f"the server to answer ({self.log.read_text()[-2000:]})")

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/api/v1/procedures", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in _marked(self.mark):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path) -> Iterator[Server]:
    db = tmp_path / "serve.db"
    shutil.copy(sqlite_template, db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        create_user(session, username="disp", password=PASSWORD, role=Role.dispatcher,
                    full_name="Disp", post_office_codes=["115100"])  # fmt: skip
        for k, name in enumerate(("Nguyễn Văn Tâm", "Trần Thị Bình")):
            create_user(session, username=f"bt{k}", password=PASSWORD, role=Role.courier,
                        full_name=name, post_office_codes=["115100"])  # fmt: skip
        session.commit()
    engine.dispose()
    srv = Server(db, _free_port(), tmp_path / "serve.log")
    yield srv
    srv.stop()


def _plan_status(db_url: str, plan_id: int) -> str:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM plan_run WHERE id = :p"), {"p": plan_id})
        value = str(status.scalar())
    engine.dispose()
    return value


@pytest.mark.xdist_group("server_kill")
def test_a_killed_server_leaves_no_solver_and_takes_its_plan_up_again(server: Server) -> None:
    server.start()
    with httpx.Client(base_url=server.base, timeout=30) as web:
        # Today's bookings are made over HTTP: the server's clock is the real one, so book the
        # working day after next from now (enough for any cut-off).
        from postal.calendar import to_local
        from postal.catalogue import service as catalogue
        from postal.db import utcnow

        engine = make_engine(server.env["POSTAL_DATABASE_URL"])
        with Session(engine) as session:
            cal = catalogue.work_calendar(session)
            day = cal.next_working_day(cal.next_working_day(to_local(utcnow()).date()))
            bodies = [
                booking_body(session, service_form="dossier_pickup", phone=f"09120002{k:02d}",
                             date=day.isoformat(), slot="morning" if k % 2 else "afternoon")
                for k in range(12)
            ]  # fmt: skip
        engine.dispose()
        for body in bodies:
            assert web.post("/api/v1/bookings", json=body).status_code == 201
        token = web.post("/api/v1/auth/token", data={"username": "disp", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        started = web.post(
            "/api/v1/plans",
            json={"date": day.isoformat(), "post_office_codes": ["115100"], "time_limit_s": 20},
            headers=auth,
        )
        assert started.status_code == 202, started.text
        plan_id = started.json()["id"]
        # The solver runs in processes of its own beside the server.
        wait_for(
            lambda: _solvers(server),
            60,
            f"a solver process ({_tree(server)}, plan "
            f"{web.get(f'/api/v1/plans/{plan_id}', headers=auth).text})",
        )
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    # Nothing the server started survives it, so nothing holds its port.
    try:
        wait_for(lambda: not _marked(server.mark), 10, "every process of the server to end")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_tree(server)}") from None
    with socket.socket() as s:
        s.bind(("127.0.0.1", server.port))
    url = server.env["POSTAL_DATABASE_URL"]
    assert _plan_status(url, plan_id) == "running"  # stale: nobody works on it now
    server.start()  # same port, at once; it takes the plan up again
    with httpx.Client(base_url=server.base, timeout=30) as web:
        token = web.post("/api/v1/auth/token", data={"username": "disp", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        wait_for(lambda: _solvers(server), 60, "the plan solving again")
        # A cancel sent while it solves sticks: the plan ends cancelled, with no routes.
        cancelled = web.post(f"/api/v1/plans/{plan_id}/cancel", headers=auth)
        assert cancelled.status_code == 200, cancelled.text
        wait_for(lambda: not _solvers(server), 30, "the solver to stop")
        time.sleep(1.5)
        plan = web.get(f"/api/v1/plans/{plan_id}", headers=auth).json()
        assert plan["status"] == "cancelled"
        routes = web.get(f"/api/v1/plans/{plan_id}/routes", headers=auth).json()
        assert routes["routes"] == []
