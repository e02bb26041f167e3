"""Rate limits at the edge: the client's address and the per-address limits as dependencies.

The counters are postal/ratelimit.py's (the database or Redis, shared by every process). The
dependencies run before the route's session writes anything, so on SQLite the counter's own
short transaction never waits behind the request's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from api.deps import NowDep, SettingsDep
from postal.auth import service as auth
from postal.auth.models import StaffUser
from postal.auth.service import HashGate
from postal.config import Settings
from postal.errors import TooManyRequests, Unauthenticated
from postal.ratelimit import Counters, Rule, enforce


def client_address(request: Request, settings: Settings) -> str:
    """The caller's address: the connection's, or, when that is a trusted proxy, the last
    X-Forwarded-For hop that is not one of the trusted proxies."""
    peer = request.client.host if request.client else "unknown"
    trusted = set(settings.trusted_proxies)
    if not trusted or peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if hop in trusted:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a forged or broken header: count the proxy, not a made-up name
    return peer


def counters(request: Request) -> Counters:
    """The app's rate-limit counters."""
    store: Counters = request.app.state.rate_limits
    return store


def tracking_rule(settings: Settings) -> Rule:
    """Public tracking look-ups per client address."""
    return Rule("track", settings.tracking_limit_per_address, settings.tracking_limit_window_s)


def booking_rule(settings: Settings) -> Rule:
    """Bookings without credentials per client address."""
    return Rule("book", settings.booking_limit_per_address, settings.booking_limit_window_s)


async def limit_tracking(request: Request, settings: SettingsDep, now: NowDep) -> None:
    """Count a public tracking look-up of the client; 429 beyond the limit."""
    address = client_address(request, settings)
    await run_in_threadpool(
        enforce, counters(request), tracking_rule(settings), address, now, "tracking_rate_limited"
    )


async def limit_tracking_page(request: Request, settings: SettingsDep, now: NowDep) -> None:
    """The /track page counts only when it looks an item up (with ``?number=``)."""
    if request.query_params.get("number"):
        await limit_tracking(request, settings, now)


_optional_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def limit_anonymous_booking(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    api_key: Annotated[str | None, Depends(_optional_key)] = None,
) -> None:
    """Count a booking made without credentials by the client; 429 beyond the limit. (The
    one-stop system's key is checked by the route and is not limited here.)"""
    if api_key:
        return
    address = client_address(request, settings)
    await run_in_threadpool(
        enforce, counters(request), booking_rule(settings), address, now, "booking_rate_limited"
    )


TrackingLimit = Depends(limit_tracking)
TrackingPageLimit = Depends(limit_tracking_page)
AnonymousBookingLimit = Depends(limit_anonymous_booking)


def login_rules(settings: Settings) -> tuple[Rule, Rule]:
    """Failed sign-ins per user name and per client address."""
    return (
        Rule("login-user", settings.login_max_failures, settings.login_lockout_s),
        Rule("login-addr", settings.login_max_failures_per_address, settings.login_lockout_s),
    )


def sign_in(
    request: Request,
    session: Session,
    settings: Settings,
    now: dt.datetime,
    username: str,
    password: str,
) -> tuple[str, StaffUser]:
    """Sign in under the failure counts: a user name or address with too many recent failures
    is locked out (429 naming the wait) whatever the password; a failure counts on both, a
    success clears the user name's count. The caller commits."""
    store = counters(request)
    by_user, by_address = login_rules(settings)
    user_key = username.strip().casefold()
    address = client_address(request, settings)
    for rule, key in ((by_user, user_key), (by_address, address)):
        window = store.peek(rule, key, now)
        if not window.allowed:
            raise TooManyRequests("login_locked", retry_after=window.retry_after)
    gate: HashGate = request.app.state.hash_gate
    try:
        token, user = auth.login(session, username, password, settings.token_ttl_hours, gate)
    except Unauthenticated:
        session.rollback()  # end the read before the counters write (SQLite: one writer)
        for rule, key in ((by_user, user_key), (by_address, address)):
            store.hit(rule, key, now)
        raise
    session.commit()
    store.clear(by_user, user_key)
    return token, user
