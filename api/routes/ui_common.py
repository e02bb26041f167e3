"""Helpers shared by the staff and tracking pages: the signed-in principal, map pages, flashes."""

from __future__ import annotations

from collections.abc import Callable

import folium
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import SESSION_COOKIE
from maps.assets import use_local_assets
from postal.auth import service as auth
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.config import Settings
from postal.errors import PostalError
from postal.geo.roadgraph import RoadGraph
from postal.i18n import message

LEAFLET_BASE = "/static/vendor/leaflet"


def page_principal(request: Request, session: Session, *allowed: Role) -> Principal | None:
    """The staff member signed in with the page cookie, if any and of an allowed role."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = auth.staff_principal(session, token)
    except PostalError:
        return None
    session.commit()  # end the read transaction (in-memory SQLite shares one connection)
    if allowed and principal.role not in allowed:
        return None
    return principal


def to_login(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the sign-in page."""
    return RedirectResponse(f"/staff/login?next={request.url.path}", status_code=303)


def translator(lang: str) -> Callable[[str], str]:
    """A one-argument message lookup in ``lang`` for the map functions."""
    return lambda key: message(key, lang)


def road_graph(settings: Settings) -> RoadGraph | None:
    """The locality's road graph for road-following route lines; None when it has none."""
    try:
        return RoadGraph.load(settings.data_dir, settings.locality)
    except (OSError, ValueError, KeyError):
        return None


def map_page(m: folium.Map) -> HTMLResponse:
    """A folium map as a standalone HTML page (the pages embed it in an iframe).

    Leaflet comes from the app itself: only the background tiles need the internet.
    """
    return HTMLResponse(use_local_assets(m, LEAFLET_BASE).get_root().render())


def error_text(exc: PostalError, lang: str) -> str:
    """A PostalError's message in ``lang``, with each field error appended."""
    parts = [message(exc.code, lang, **exc.params)]
    parts += [message(e["code"], lang, **e.get("params", {})) for e in exc.errors]
    return " — ".join(dict.fromkeys(parts))
