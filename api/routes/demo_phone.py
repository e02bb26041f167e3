"""The demo's stand-in for an SMS gateway and the citizens' phones (``POSTAL_DEMO_PHONE``).

`postal demo` points the SMS channel at ``/demo/sms-gateway`` of its own server, so the
messages the worker sends (booking confirmations, one-time codes, outcomes) can be read at
``/demo/phone`` by whoever plays the citizen. Messages live in the server's memory only, and
the router is mounted only when the setting is on: never in a real deployment.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import LangDep
from api.routes.pages import _render
from postal.calendar import to_local

router = APIRouter(include_in_schema=False)
INBOX_SIZE = 300


def _inbox(request: Request) -> deque[dict[str, Any]]:
    state = request.app.state
    if getattr(state, "demo_inbox", None) is None:
        state.demo_inbox = deque(maxlen=INBOX_SIZE)
    inbox: deque[dict[str, Any]] = state.demo_inbox
    return inbox


@router.post("/demo/sms-gateway")
def receive(request: Request, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """Take an SMS as a gateway would (JSON {to, brandname, message, tracking_id})."""
    inbox = _inbox(request)
    key = str(payload.get("tracking_id", ""))
    if not any(m["tracking_id"] == key for m in inbox):  # the gateway honours the key
        inbox.appendleft(
            {
                "to": str(payload.get("to", "")),
                "brandname": str(payload.get("brandname", "")),
                "message": str(payload.get("message", "")),
                "tracking_id": key,
                "at": dt.datetime.now(dt.UTC),
            }
        )
    return JSONResponse({"error": 0, "message": "Success"})


@router.get("/demo/phone", response_class=HTMLResponse)
def phone(
    request: Request,
    lang: LangDep,
    to: str = Query(default="", max_length=20, description="Show one phone number's messages"),
    live: bool = Query(default=True, description="Reload the page every 5 seconds"),
) -> HTMLResponse:
    """The messages the demo has sent, newest first; ``?to=`` keeps one phone's. The page
    reloads itself every 5 seconds unless ``?live=0`` (a link on the page turns it off)."""
    wanted = "".join(c for c in to if c.isdigit())
    messages = [
        {**m, "local": to_local(m["at"]).strftime("%H:%M:%S %d/%m")}
        for m in _inbox(request)
        if not wanted or m["to"].lstrip("+").endswith(wanted.lstrip("0"))
    ]
    ctx = {"messages": messages, "to": to, "live": live}
    response = _render(request, "demo_phone.html", lang, ctx)
    if live:
        response.headers["Refresh"] = "5"
    return response
