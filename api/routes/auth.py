"""Staff sign-in: bearer tokens for the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import NowDep, PrincipalDep, SessionDep, SettingsDep
from api.limits import sign_in
from api.principals import cache_key
from postal.auth import service
from postal.auth.models import Role

router = APIRouter(prefix="/auth", tags=["auth"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class TokenReply(BaseModel):
    """A staff bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: Role


class Me(BaseModel):
    """Who the token belongs to."""

    role: Role
    username: str | None
    full_name: str | None
    desk_code: str | None
    post_office_codes: list[str]
    booking_reference: str | None


@router.post(
    "/token",
    response_model=TokenReply,
    summary="Sign in (staff)",
    description="OAuth2 password form: `username`, `password`. Returns a bearer token.",
    responses={
        401: {"description": "Wrong username or password", **_PROBLEM},
        429: {
            "description": "Too many failed sign-ins for this user name or address "
            "(`login_locked`, Retry-After says how long), or too many at once (`sign_in_busy`)",
            **_PROBLEM,
        },
    },
)
def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenReply:
    """Exchange a staff password for a bearer token (failures counted, then locked out)."""
    token, user = sign_in(request, session, settings, now, form.username, form.password)
    return TokenReply(
        access_token=token, expires_in=settings.token_ttl_hours * 3600, role=user.role
    )


@router.post(
    "/logout",
    status_code=204,
    summary="Revoke the current staff token",
    responses={401: {"description": "Missing or wrong credentials", **_PROBLEM}},
)
def revoke_token(request: Request, session: SessionDep, principal: PrincipalDep) -> None:
    """Revoke the bearer token used for this request."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        service.logout(session, token)
        session.commit()
        request.app.state.principals.forget(cache_key(token=token))


@router.get(
    "/me",
    response_model=Me,
    summary="Who am I",
    responses={401: {"description": "Missing or wrong credentials", **_PROBLEM}},
)
def who_am_i(principal: PrincipalDep) -> Me:
    """The caller's role and bindings."""
    return Me(
        role=principal.role,
        username=principal.username,
        full_name=principal.full_name,
        desk_code=principal.desk_code,
        post_office_codes=sorted(principal.post_office_codes),
        booking_reference=principal.booking_reference,
    )
