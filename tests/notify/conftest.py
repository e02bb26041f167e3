"""Local stand-ins for the outside world: an HTTP gateway (SMS, Zalo, webhook receiver) and an
SMTP server, both started by the tests on 127.0.0.1 and never anything else."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Gateway:
    """A local HTTP server that records every request and answers from a script.

    ``replies`` holds (status, body) pairs used in order, then ``default``; a status of 0 makes
    the server hang (longer than the senders' timeout) instead of answering.
    """

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: deque[tuple[int, str]] = field(default_factory=deque)
    default: tuple[int, str] = (200, '{"error": 0, "message": "Success"}')
    delay_s: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def json(self, index: int = -1) -> Any:
        """The JSON body of a recorded request."""
        return json.loads(self.requests[index]["body"].decode("utf-8"))


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A gateway on a free port of 127.0.0.1."""
    gw = Gateway()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with gw.lock:
                gw.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, text = gw.replies.popleft() if gw.replies else gw.default
            if gw.delay_s:
                time.sleep(gw.delay_s)
            if status == 0:
                gw.release.wait(5)  # hang until the test ends (the sender times out first)
                return
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield gw
    gw.release.set()
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: str | None = None  # an SMTP reply to every RCPT, e.g. "550 5.1.1 no such user"


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.box.refuse:
            return self.box.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.box.messages.append(parsed)
        self.box.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """An aiosmtpd server on a free port of 127.0.0.1."""
    box = Mailbox(port=_free_port())
    controller = Controller(_Handler(box), hostname=box.host, port=box.port)
    controller.start()
    yield box
    controller.stop()
