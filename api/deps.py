"""Request dependencies: database session, settings, clock, language and the principal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.principals import PrincipalCache, cache_key
from postal.auth.models import Role
from postal.auth.service import (
    CITIZEN_TOKEN_PREFIX,
    Principal,
    integration_principal,
    require_role,
    staff_principal,
)
from postal.booking.service import citizen_booking
from postal.config import Settings
from postal.db import utcnow
from postal.errors import NotFound, Unauthenticated
from postal.i18n import pick_language

SESSION_COOKIE = "postal_session"


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """A session per request; rolled back unless the route committed."""
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


async def get_now() -> dt.datetime:
    """The current time (a dependency so tests can move the clock)."""
    return utcnow()


def request_language(request: Request, accept_language: str | None) -> str:
    """The reply language: ?lang=, then the page cookie, then Accept-Language (vi default)."""
    explicit = request.query_params.get("lang") or request.cookies.get("lang")
    if explicit in ("vi", "en"):
        return explicit
    return pick_language(accept_language)


async def get_language(request: Request, accept_language: str | None = Header(None)) -> str:
    """The reply language of a request (a dependency; see ``request_language``)."""
    return request_language(request, accept_language)


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
LangDep = Annotated[str, Depends(get_language)]

_bearer = HTTPBearer(auto_error=False, description="Staff or citizen bearer token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="One-stop system key")


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Who is calling: API key, bearer token (staff or citizen) or the page cookie; 401 if none.

    Resolved in one worker-thread call with a short session of its own, so a request's sign-in
    costs one hop off the event loop and holds no transaction open while the route runs; then
    remembered for ``auth_cache_seconds`` (api/principals.py).
    """
    token = bearer.credentials if bearer else request.cookies.get(SESSION_COOKIE)
    if not api_key and not token:
        raise Unauthenticated("missing_credentials")
    if api_key and bearer:  # who would the request act as? Neither: say so.
        raise Unauthenticated("two_credentials")
    cache: PrincipalCache = request.app.state.principals
    key = cache_key(token=token, api_key=api_key)
    principal = cache.get(key)
    if principal is None:
        engine: Engine = request.app.state.engine
        read_at = cache.clock()
        principal = await run_in_threadpool(_resolve_principal, engine, api_key, token)
        cache.put(key, principal, read_at)
    return principal


def _resolve_principal(engine: Engine, api_key: str | None, token: str | None) -> Principal:
    with Session(engine, expire_on_commit=False) as session:
        try:
            if api_key:
                return integration_principal(session, api_key)
            assert token is not None
            if token.startswith(CITIZEN_TOKEN_PREFIX):
                try:
                    booking = citizen_booking(session, token)
                except NotFound as exc:
                    raise Unauthenticated("invalid_token") from exc
                return Principal(role=Role.citizen, booking_reference=booking.reference)
            return staff_principal(session, token)
        finally:
            session.rollback()


PrincipalDep = Annotated[Principal, Depends(get_principal)]

MAX_ID = 2**31 - 1  # the database's integer ids: a larger one is refused here, never there
DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row's id")]


def roles(*allowed: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency admitting only ``allowed`` roles (deny by default)."""

    async def _check(principal: PrincipalDep) -> Principal:
        require_role(principal, *allowed)
        return principal

    return _check
