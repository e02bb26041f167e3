"""The staff page of the outbox: dead and waiting messages and webhooks, with a re-send button."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import LangDep, NowDep, SessionDep, SettingsDep
from api.routes.pages import _render
from api.routes.ui_common import error_text, page_principal, to_login
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.calendar import to_local
from postal.config import Settings
from postal.errors import PostalError
from postal.i18n import message
from postal.notify import service
from postal.notify.channels import configured_channels
from postal.notify.models import ContactChannel, DeliveryStatus, NotificationStatus

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _local(moment: dt.datetime | None) -> str:
    return to_local(moment).strftime("%H:%M %d/%m/%Y") if moment else ""


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    lang: str,
    principal: Principal,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    dead = service.list_messages(session, principal, NotificationStatus.dead, 500).items
    pending = service.list_messages(session, principal, NotificationStatus.pending, 500).items
    webhooks: list[Any] | None = None
    if principal.role == Role.admin:
        webhooks = [
            *service.list_webhook_deliveries(session, principal, DeliveryStatus.dead, 500).items,
            *service.list_webhook_deliveries(session, principal, DeliveryStatus.pending, 500).items,
        ]
    session.commit()
    configured = configured_channels(settings)
    ctx: dict[str, Any] = {
        "principal": principal,
        "dead": dead,
        "pending": pending,
        "webhooks": webhooks,
        "unconfigured": [c.value for c in ContactChannel if c not in configured],
        "local": _local,
        "error": error,
        "notice": message("ui.messages.resent", lang)
        if request.query_params.get("done") == "resent"
        else None,
    }
    return _render(request, "messages.html", lang, ctx, status=status)


@router.get("/staff/messages", response_class=HTMLResponse)
def messages_page(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> Response:
    """Dead and waiting messages (and webhooks, for admins) with a re-send button."""
    principal = page_principal(request, session, Role.admin, Role.dispatcher)
    if principal is None:
        return to_login(request)
    return _page(request, session, settings, lang, principal)


@router.post("/staff/messages/{message_id}/resend", response_class=HTMLResponse)
def messages_resend(
    request: Request,
    message_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Put a dead message back in the outbox."""
    principal = page_principal(request, session, Role.admin, Role.dispatcher)
    if principal is None:
        return to_login(request)
    try:
        service.resend_message(session, principal, message_id, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(request, session, settings, lang, principal, error_text(exc, lang), exc.status)
    return RedirectResponse("/staff/messages?done=resent", status_code=303)


@router.post("/staff/webhook-deliveries/{delivery_id}/resend", response_class=HTMLResponse)
def webhook_resend(
    request: Request,
    delivery_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    now: NowDep,
) -> Response:
    """Put a dead webhook delivery back in the outbox (admins)."""
    principal = page_principal(request, session, Role.admin)
    if principal is None:
        return to_login(request)
    try:
        service.resend_webhook(session, principal, delivery_id, now)
        session.commit()
    except PostalError as exc:
        session.rollback()
        return _page(request, session, settings, lang, principal, error_text(exc, lang), exc.status)
    return RedirectResponse("/staff/messages?done=resent", status_code=303)
