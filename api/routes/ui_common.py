"""Helpers shared by the staff and tracking pages: the signed-in principal, map pages, flashes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from api.deps import SESSION_COOKIE
from api.edge import LOOSE_CONTENT_SECURITY_POLICY
from maps.assets import use_local_assets
from postal.auth import service as auth
from postal.auth.models import Role
from postal.auth.service import Principal
from postal.config import Settings
from postal.errors import PostalError
from postal.geo.boundaries import CommuneBoundaries
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


def _rounded(coords: Any) -> Any:
    if coords and isinstance(coords[0], int | float):
        return [round(float(c), 5) for c in coords]
    return [_rounded(c) for c in coords]


@lru_cache(maxsize=4)
def _outlines(data_dir: Path, locality: str) -> tuple[dict[str, Any], ...]:
    communes = CommuneBoundaries.load(data_dir, locality)
    features = []
    for code in communes.codes():
        feature = communes.geojson(code)
        props = feature["properties"]
        box = communes.bounds(code)
        features.append(
            {
                "type": "Feature",
                # [west, south, east, north]: the maps keep the communes in view by it.
                "bbox": [box.min_lon, box.min_lat, box.max_lon, box.max_lat],
                "properties": {
                    k: props[k] for k in ("code", "name", "labelLat", "labelLon") if k in props
                },
                "geometry": {
                    "type": feature["geometry"]["type"],
                    "coordinates": _rounded(feature["geometry"]["coordinates"]),
                },
            }
        )
    return tuple(features)


def commune_outlines(settings: Settings) -> tuple[dict[str, Any], ...]:
    """The locality's commune outlines (coordinates to about a metre) for the maps' base
    layer, loaded once per process; () when the locality has none."""
    try:
        return _outlines(Path(settings.data_dir).resolve(), settings.locality)
    except (PostalError, OSError, ValueError, KeyError):
        return ()


def map_page(m: folium.Map) -> HTMLResponse:
    """A folium map as a standalone HTML page (the pages embed it in an iframe).

    Leaflet comes from the app itself: only the background tiles need the internet.
    """
    html = use_local_assets(m, LEAFLET_BASE).get_root().render()
    # Folium writes inline scripts and styles: this page alone allows them.
    return HTMLResponse(html, headers={"Content-Security-Policy": LOOSE_CONTENT_SECURITY_POLICY})


def error_text(exc: PostalError, lang: str) -> str:
    """A PostalError's message in ``lang``, with each field error appended."""
    parts = [message(exc.code, lang, **exc.params)]
    parts += [message(e["code"], lang, **e.get("params", {})) for e in exc.errors]
    return " — ".join(dict.fromkeys(parts))


_STAFF_AREAS = ("/staff", "/courier", "/desk", "/dispatcher")


def wants_page(request: Request) -> bool:
    """True for a browser asking for a page (HTML first), not for the JSON API."""
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: Request,
    lang: str,
    status: int,
    text: str,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse | None:
    """An error (404, 405, 429, ...) as a page of the site when a browser asked for a page;
    None otherwise (the caller answers with problem details)."""
    if not wants_page(request):
        return None
    from api.routes.pages import _render  # the page renderer (imported late: no cycle)

    generic = {404: "not_found", 405: "method_not_allowed"}.get(status)
    if generic and text == message(generic, lang):
        text = ""  # the heading says it already
    heading_key = f"ui.shell.error.{status}"
    heading = message(heading_key, lang)
    ctx = {
        "status": status,
        "heading": heading if heading != heading_key else message("ui.shell.error.heading", lang),
        "text": text,
        "staff_area": request.url.path.startswith(_STAFF_AREAS),
    }
    page = _render(request, "error.html", lang, ctx, status=status)
    for name, value in (headers or {}).items():
        page.headers[name] = value
    return page
