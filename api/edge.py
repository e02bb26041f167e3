"""Refuse control characters at the edge: 422 naming the field, before any route or database.

A NUL byte in any text reaches PostgreSQL as an error ("cannot contain NUL"), and the other C0
control characters have no business in a name, an address or a code. Tab, line feed and
carriage return stay allowed (a multi-line address). The query string, the path, and JSON and
form bodies are checked; a JSON body is only parsed here when its raw bytes hold a suspect
escape, so the common request pays one scan.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u00[01][0-9a-fA-F]|\\u007[fF]")
MAX_CHECKED_BODY = 1_000_000  # bigger bodies are refused by the routes' own limits


def _json_field(value: Any, path: str = "") -> str | None:
    """The first place in a JSON document holding a control character, as a dotted path."""
    if isinstance(value, str):
        return (path or "body") if CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if CONTROL.search(str(key)):
                return here
            found = _json_field(item, here)
            if found:
                return found
    if isinstance(value, list):
        for k, item in enumerate(value):
            found = _json_field(item, f"{path}.{k}" if path else str(k))
            if found:
                return found
    return None


def _body_field(content_type: str, body: bytes) -> str | None:
    if not _RAW.search(body) and b"%" not in body:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            if CONTROL.search(key) or CONTROL.search(value):
                return key
        return None
    if not _RAW.search(body):
        return None
    if "json" in content_type:
        try:
            return _json_field(json.loads(body))
        except ValueError:
            return None  # malformed JSON: the route says so
    return None


class RefuseControlCharacters:
    """ASGI middleware: a request carrying a control character answers 422 (RFC 9457)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = self._query_field(scope)
        if field is None and CONTROL.search(unquote(scope.get("path", ""))):
            field = "path"
        replay: list[Message] = []
        if field is None:
            headers = dict(scope.get("headers") or [])
            content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            if "json" in content_type or "x-www-form-urlencoded" in content_type:
                body, replay = await self._read(receive)
                if len(body) <= MAX_CHECKED_BODY:
                    field = _body_field(content_type, body)
        if field is not None:
            await self._refuse(scope, receive, send, field)
            return
        if replay:
            receive = self._replaying(replay, receive)
        await self.app(scope, receive, send)

    @staticmethod
    def _query_field(scope: Scope) -> str | None:
        raw = bytes(scope.get("query_string", b"")).decode("latin-1")
        if not raw:
            return None
        for key, value in parse_qsl(raw, keep_blank_values=True):
            if CONTROL.search(key) or CONTROL.search(value):
                return str(key)
        return None

    @staticmethod
    async def _read(receive: Receive) -> tuple[bytes, list[Message]]:
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks), messages

    @staticmethod
    def _replaying(messages: list[Message], receive: Receive) -> Receive:
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, field: str) -> None:
        from starlette.requests import Request

        from api.deps import request_language
        from api.main import problem
        from postal.i18n import message

        request = Request(scope, receive)
        lang = request_language(request, request.headers.get("accept-language"))
        text = message("control_character", lang, field=field)
        response = problem(
            422,
            "control_character",
            message("validation_failed", lang, field=field),
            [{"field": field, "code": "control_character", "message": text}],
        )
        await response(scope, receive, send)


#: The pages' policy: scripts, styles and frames only from this site (no inline code: the
#: templates keep scripts and styles in /static), images also from the map tiles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: https://*.tile.openstreetmap.org; "
    "connect-src 'self'; worker-src 'self'; frame-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
#: The folium map pages (framed by our own pages) and the API's documentation pages are
#: generated with inline code by their libraries: they get inline code, nothing more.
LOOSE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: blob: https://*.tile.openstreetmap.org https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
_LOOSE_PATHS = ("/api/v1/docs", "/api/v1/redoc")
_NO_STORE = ("/my-booking", "/staff", "/dispatcher", "/desk", "/courier", "/api/v1/bookings")


class SecurityHeaders:
    """ASGI middleware: headers every response carries (a content security policy, no
    sniffing, no framing by other sites, no token URL leaking through Referer; HSTS behind
    HTTPS) and no caching of the pages and replies that show a booking or staff work. A
    response that sets its own policy (the map pages) keeps it."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        private = path.startswith(_NO_STORE)
        loose = path.startswith(_LOOSE_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                policy = LOOSE_CONTENT_SECURITY_POLICY if loose else CONTENT_SECURITY_POLICY
                extra = [
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                if private:
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SameOriginForms:
    """ASGI middleware against cross-site request forgery on the cookie-signed pages: a
    request that changes something, carries the staff session cookie and comes from a page
    of another origin (browsers send ``Origin``, else ``Referer``) is refused with 403. API
    clients sign requests with a header, which another site cannot make a browser send."""

    def __init__(self, app: ASGIApp, cookie: str) -> None:
        self.app = app
        self.cookie = cookie.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in _UNSAFE and self._foreign(scope):
            from api.main import problem
            from postal.i18n import message

            response = problem(403, "cross_site_request", message("cross_site_request", "vi"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope) -> bool:
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        if self.cookie + b"=" not in headers.get(b"cookie", b""):
            return False
        if b"authorization" in headers or b"x-api-key" in headers:
            return False
        source = headers.get(b"origin") or headers.get(b"referer")
        if not source or source == b"null":
            return source == b"null"  # a sandboxed or privacy-stripped origin: not ours
        host = headers.get(b"host", b"").decode("latin-1").lower()
        netloc = urlsplit(source.decode("latin-1")).netloc.lower()
        return bool(netloc != host)
