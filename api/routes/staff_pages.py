"""Staff sign-in with a secure session cookie, and the staff's booking list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SESSION_COOKIE, LangDep, NowDep, SessionDep, SettingsDep
from api.limits import sign_in
from api.principals import cache_key
from api.routes.pages import _render
from postal.auth import service as auth
from postal.auth.models import Role
from postal.booking import service as bookings
from postal.calendar import to_local
from postal.errors import PostalError, TooManyRequests, Unauthenticated
from postal.i18n import message

router = APIRouter(include_in_schema=False)


ROLE_HOME = {Role.courier: "/courier", Role.clerk: "/desk", Role.dispatcher: "/dispatcher"}


def _safe_next(value: object) -> str:
    """Where to go after signing in: a path of this site only (no open redirect); "" when none."""
    text = str(value or "")
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return ""


def _wait_text(exc: TooManyRequests, lang: str) -> str:
    """The refusal naming the wait: in seconds under a minute, else as the message says."""
    if exc.code == "login_locked" and exc.retry_after < 60:
        return message("ui.shell.login_locked_seconds", lang, seconds=exc.retry_after)
    return message(exc.code, lang, **exc.params)


@router.get("/staff/login", response_class=HTMLResponse)
def login_form(request: Request, lang: LangDep) -> HTMLResponse:
    """The staff sign-in form (with a notice after signing out)."""
    signed_out = request.query_params.get("done") == "signed_out"
    ctx = {
        "error": None,
        "notice": message("ui.shell.signed_out", lang) if signed_out else None,
        "username": "",
        "next": _safe_next(request.query_params.get("next")),
    }
    return _render(request, "staff_login.html", lang, ctx)


@router.post("/staff/login", response_class=HTMLResponse)
async def login_submit(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep, now: NowDep
) -> Response:
    """Check the password and set the session cookie (HttpOnly, SameSite=Strict, Secure)."""
    form = await request.form()
    username = str(form.get("username", "")).strip()
    target = _safe_next(form.get("next"))
    try:
        # Off the event loop: the password hash takes a while (and may wait for a slot).
        token, user = await run_in_threadpool(
            sign_in, request, session, settings, now, username, str(form.get("password", ""))
        )
    except Unauthenticated as exc:
        ctx = {"error": message(exc.code, lang), "username": username, "next": target}
        return _render(request, "staff_login.html", lang, ctx, status=401)
    except TooManyRequests as exc:
        # Locked out (or too many sign-ins at once): the form again, naming the wait.
        ctx = {"error": _wait_text(exc, lang), "username": username, "next": target}
        page = _render(request, "staff_login.html", lang, ctx, status=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    # Without a page asked for, each role lands on the page of its job.
    response = RedirectResponse(target or ROLE_HOME.get(user.role, "/staff"), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_ttl_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
    )
    return response


@router.post("/staff/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Revoke the session and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(session, token)
        session.commit()
        request.app.state.principals.forget(cache_key(token=token))
    response = RedirectResponse("/staff/login?done=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/staff", response_class=HTMLResponse)
def staff_home(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """The bookings of a day that the signed-in staff member may see."""
    token = request.cookies.get(SESSION_COOKIE)
    try:
        if not token:
            raise Unauthenticated("missing_credentials")
        principal = auth.staff_principal(session, token)
    except PostalError:
        return RedirectResponse("/staff/login", status_code=303)
    if principal.role == Role.courier:
        return RedirectResponse(ROLE_HOME[Role.courier], status_code=303)  # the courier's home
    raw_date = request.query_params.get("date")
    try:
        day = dt.date.fromisoformat(raw_date) if raw_date else to_local(now).date()
    except ValueError:
        day = to_local(now).date()
    ctx: dict[str, Any] = {"principal": principal, "day": day, "page": None, "error": None}
    if principal.role in (Role.admin, Role.dispatcher, Role.clerk):
        criteria = bookings.BookingFilter(date=day)
        ctx["page"] = bookings.search(session, settings, principal, criteria, limit=500)
    else:
        ctx["error"] = message("role_not_allowed", lang)
    return _render(request, "staff_home.html", lang, ctx)
