"""The citizen's tracking page: enter an item number, see the timeline and the map."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import LangDep, SessionDep, SettingsDep
from api.limits import TrackingLimit, TrackingPageLimit
from api.routes.pages import _citizen
from api.routes.ui_common import commune_outlines, error_text, map_page, translator
from maps.render import tracking_map
from maps.types import Point
from postal.booking.models import Booking
from postal.catalogue.models import Desk
from postal.errors import NotFound, PostalError
from postal.ids import format_s10
from postal.tracking import public
from postal.tracking.items import find_item

router = APIRouter(include_in_schema=False)
# The public map shows the address to about 100 m: enough to recognise, not to locate a door.
_PUBLIC_DECIMALS = 3


@router.get("/track", response_class=HTMLResponse, dependencies=[TrackingPageLimit])
def track_page(
    request: Request, session: SessionDep, settings: SettingsDep, lang: LangDep
) -> HTMLResponse:
    """The lookup form; with ``?number=`` the item's state, timeline and map."""
    number = (request.query_params.get("number") or "").strip().upper().replace(" ", "")
    last4 = "".join(c for c in request.query_params.get("phone_last4") or "" if c.isdigit())[-4:]
    ctx: dict[str, object] = {
        "number": number,
        "phone_last4": last4,
        "tracking": None,
        "error": None,
        # An example that passes its own check digit (S10: EB 12345678 5 VN).
        "example": format_s10("EB", 12345678, "VN"),
    }
    status = 200
    if number:
        try:
            ctx["tracking"] = public.track(session, settings, number, lang, last4 or None)
        except PostalError as exc:
            ctx["error"] = error_text(exc, lang)
            status = exc.status
    return _citizen(request, session, settings, "track.html", lang, ctx, status=status)


@router.get("/track/{number}/map", response_class=HTMLResponse, dependencies=[TrackingLimit])
def track_map(
    number: str,
    session: SessionDep,
    settings: SettingsDep,
    lang: LangDep,
    phone_last4: str = "",
) -> Response:
    """The item's map: the desk, and with the phone's last four digits the citizen's address
    (rounded); never a courier."""
    try:
        item = find_item(session, number)
    except PostalError:
        return HTMLResponse("", status_code=404)
    booking = session.get(Booking, item.booking_id)
    desk = session.get(Desk, item.desk_code)
    if booking is None or desk is None:
        raise NotFound("unknown_item")
    if (
        not public.holds_phone(booking, phone_last4[-4:])
        or booking.lat is None
        or booking.lon is None
    ):
        home = Point(desk.lat, desk.lon)  # the home point is for the citizen only
    else:
        home = Point(round(booking.lat, _PUBLIC_DECIMALS), round(booking.lon, _PUBLIC_DECIMALS))
    desk_point, outlines = Point(desk.lat, desk.lon), commune_outlines(settings)
    return map_page(tracking_map(home, desk_point, desk.name, translator(lang), outlines))
