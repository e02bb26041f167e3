"""The FastAPI application: app factory, routers, and the one error handler (RFC 9457)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import access_log
from api.deps import SESSION_COOKIE, request_language
from api.edge import RefuseControlCharacters, SameOriginForms, SecurityHeaders
from api.principals import PrincipalCache
from postal.auth.service import HashGate
from postal.config import Settings, get_settings
from postal.db import make_engine
from postal.errors import PostalError, TooManyRequests
from postal.i18n import message
from postal.notify.delivery import check_at_start
from postal.ratelimit import make_counters
from postal.tracking.config import get_tracking_settings
from postal.tracking.group import GroupWriter
from postal.worker.enqueue import send_new_messages_on_commit
from postal.worker.queue import is_postgres
from postal.worker.run import EmbeddedWorker

log = logging.getLogger("postal.api")
PROBLEM = "application/problem+json"
_STATIC = Path(__file__).parent / "static"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem details reply."""
    body: dict[str, Any] = {
        "type": f"https://postal.example/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _lang(request: Request) -> str:
    return request_language(request, request.headers.get("accept-language"))


async def _postal_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PostalError)
    lang = _lang(request)
    errors = [
        {
            "field": e["field"],
            "code": e["code"],
            "message": message(e["code"], lang, **e.get("params", {})),
        }
        for e in exc.errors
    ]
    if not errors and exc.field and exc.status == 422:
        errors = [
            {"field": exc.field, "code": exc.code, "message": message(exc.code, lang, **exc.params)}
        ]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    page = _error_page(request, lang, exc.status, message(exc.code, lang, **exc.params), headers)
    if page is not None:  # a browser asked for a page: the site's error page, not JSON
        return page
    detail = message(exc.code, lang, **exc.params)
    if exc.detail and exc.detail != exc.code:
        # A raiser that knows more (the file and line, the place in a problem) says it too.
        detail = f"{detail} ({exc.detail})"
    return problem(exc.status, exc.code, detail, errors or None, headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[-1] if loc else "body")


def _pydantic_code(kind: str) -> str:
    if kind == "missing":
        return "field_required"
    if kind in ("extra_forbidden",):
        return "field_not_allowed"
    if kind.startswith(("date", "datetime")):
        return "invalid_date"
    if kind in ("enum", "literal_error"):
        return "invalid_choice"
    return "invalid_value"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    lang = _lang(request)
    errors = []
    for err in exc.errors():
        code = _pydantic_code(str(err.get("type", "")))
        field = _field_of(tuple(err.get("loc", ())))
        errors.append({"field": field, "code": code, "message": message(code, lang, field=field)})
    first = errors[0] if errors else {"code": "validation_failed", "field": "body"}
    text = message("validation_failed", lang, field=first["field"])
    page = _error_page(request, lang, 422, text, None)
    if page is not None:  # a page address with a bad part (an id out of range): the site's page
        return page
    return problem(422, str(first["code"]), text, errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
        exc.status_code, "http_error"
    )
    headers = dict(exc.headers) if exc.headers else None
    lang = _lang(request)
    page = _error_page(request, lang, exc.status_code, message(code, lang), headers)
    if page is not None:  # a browser asked for a page: the site's error page, not JSON
        return page
    return problem(exc.status_code, code, message(code, lang), headers=headers)


def _error_page(
    request: Request, lang: str, status: int, text: str, headers: dict[str, str] | None
) -> Response | None:
    from api.routes.ui_common import error_page  # late: the page routes import folium

    return error_page(request, lang, status, text, headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    lang = _lang(request)
    page = _error_page(request, lang, 500, message("internal_error", lang), None)
    return page or problem(500, "internal_error", message("internal_error", lang))


_frozen = False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Freeze what start-up built out of the collector's way, open a database connection and
    start the ledger's group writer; on shutdown, record the event batches still queued.

    A full collection of the cycle collector walks every tracked object: with the modules,
    reference data and mappers of a started server that took 200-240 ms, stalling every request
    of the process (the ledger bench's p99). Frozen, they are never walked; what requests create
    is collected as before.
    """
    global _frozen
    if not _frozen:  # once per process: what start-up built lives as long as the process
        gc.collect()
        gc.freeze()
        _frozen = True
    await run_in_threadpool(_connect, app.state.engine)  # the first request does not wait for it
    if app.state.ledger_writer.stopped:  # started again: a stopped writer is done
        app.state.ledger_writer = _ledger_writer(app)
    send_new_messages_on_commit(app.state.settings)
    worker = _embedded_worker(app)
    try:
        yield
    finally:
        if worker is not None:
            await run_in_threadpool(worker.stop)
        await run_in_threadpool(app.state.ledger_writer.stop)


def _embedded_worker(app: FastAPI) -> EmbeddedWorker | None:
    """On the embedded SQLite default (or when asked), a worker thread runs the tasks this
    process enqueues; on PostgreSQL, `postal worker` processes do."""
    settings: Settings = app.state.settings
    wanted = settings.embedded_worker
    if wanted is None:
        wanted = not is_postgres(settings.database_url)
    if not wanted or getattr(app.state, "embedded_worker_off", False):
        return None
    worker = EmbeddedWorker(settings, app.state.engine)
    worker.start()
    return worker


def _ledger_writer(app: FastAPI) -> GroupWriter:
    return GroupWriter(app.state.engine, app.state.settings, get_tracking_settings())


def _connect(engine: Engine) -> None:
    """Open one pooled database connection; a database still away is only logged (requests
    will say so until it is back)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError:
        log.warning("the database did not answer at start-up", exc_info=True)


def _check_messages(settings: Settings) -> None:
    """Refuse to start with a broken message template; name the channels not configured."""
    for warning in check_at_start(settings):
        log.warning(warning)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: the environment's)."""
    from api.routes import (
        auth,
        bookings,
        catalogue,
        handover_records,
        messages,
        messages_ui,
        optimise,
        pages,
        planning,
        staff_pages,
        staff_ui,
        tracking,
    )
    from postal.tracking.events import IllegalTransition

    settings = settings or get_settings()
    _check_messages(settings)
    access_log.install()  # no citizen token in uvicorn's access log
    app = FastAPI(
        title="Postal one-stop service API",
        version="1.0.0",
        description=(
            "Bookings of dossier pickups and result deliveries between citizens and Vietnam's "
            "one-stop desks, carried by the public postal service. Errors are RFC 9457 problem "
            "details with a stable `code`; `detail` follows Accept-Language (vi default, en)."
        ),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.principals = PrincipalCache(settings.auth_cache_seconds)
    app.state.rate_limits = make_counters(settings, app.state.engine)
    app.state.hash_gate = HashGate(settings.login_max_concurrent_hashes, settings.login_hash_wait_s)
    app.state.ledger_writer = _ledger_writer(app)
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(SameOriginForms, cookie=SESSION_COOKIE)
    # HSTS only where the cookie is HTTPS-only too: a deployment behind TLS.
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure)
    app.add_exception_handler(PostalError, _postal_error)
    app.add_exception_handler(IllegalTransition, tracking.illegal_transition)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(auth.router, prefix="/api/v1")
    app.include_router(bookings.router, prefix="/api/v1")
    app.include_router(catalogue.router, prefix="/api/v1")
    app.include_router(tracking.router, prefix="/api/v1")
    app.include_router(handover_records.router, prefix="/api/v1")
    app.include_router(planning.router, prefix="/api/v1")
    app.include_router(optimise.router, prefix="/api/v1")
    app.include_router(messages.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(staff_pages.router)
    app.include_router(staff_ui.router)
    app.include_router(messages_ui.router)
    if settings.demo_phone:
        from api.routes import demo_phone

        app.include_router(demo_phone.router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app
