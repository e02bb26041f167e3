"""folium maps: a courier's route, the dispatcher's overview, the citizen's tracking map."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import folium
from branca.element import MacroElement
from folium.plugins import FastMarkerCluster
from jinja2 import Template

from maps.lines import route_line
from maps.types import MapRoute, MapStop, Overview, Point, UnassignedPoint
from postal.geo.roadgraph import RoadGraph
from postal.i18n import message

Translate = Callable[[str], str]
# Above this many stops in an overview, stops go into clusters of compact data, not markers.
CLUSTER_THRESHOLD = 400
_DECIMALS = 5  # about 1 m: enough for a doorstep, and keeps big maps small
UNASSIGNED_COLOR = "#d32f2f"
POST_OFFICE_COLOR, POST_OFFICE_SYMBOL = "#0b4a8b", "✉"
DESK_COLOR, DESK_SYMBOL = "#7b1fa2", "M"
HOME_COLOR, HOME_SYMBOL = "#1e6b34", "⌂"
_STOP_CSS = (
    "<style>.stop-num{width:24px;height:24px;line-height:24px;text-align:center;color:#fff;"
    "font:bold 12px sans-serif;border:1px solid #fff;box-shadow:0 0 2px #000}"
    ".stop-num.round{border-radius:50%}.stop-num.square{border-radius:3px}</style>"
)


def _vi(key: str) -> str:
    return message(key, "vi")


def _bounds(points: Iterable[Point]) -> list[list[float]]:
    pts = list(points)
    lats = [p.lat for p in pts]
    lons = [p.lon for p in pts]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _new_map(points: Sequence[Point], prefer_canvas: bool = False) -> folium.Map:
    centre = points[0] if points else Point(21.028, 105.854)
    m = folium.Map(
        location=[centre.lat, centre.lon], zoom_start=14, prefer_canvas=prefer_canvas, tiles=None
    )
    # Tiles load from the internet when there is one; the page's list works without them.
    folium.TileLayer("OpenStreetMap", control=False).add_to(m)
    m.get_root().header.add_child(folium.Element(_STOP_CSS), name="stop_css")  # type: ignore[attr-defined]
    if len(points) > 1:
        m.fit_bounds(_bounds(points))
    return m


def _stop_popup(stop: MapStop, t: Translate) -> str:
    rows = [
        f"<b>{stop.sequence}. {html.escape(t('ui.map.' + stop.kind))}</b>",
        html.escape(stop.label),
    ]
    if stop.eta is not None:
        rows.append(f"{html.escape(t('ui.map.eta'))}: {stop.eta:%H:%M}")
    if stop.slot_text:
        rows.append(f"{html.escape(t('ui.map.slot'))}: {html.escape(stop.slot_text)}")
    if stop.item_numbers:
        items = ", ".join(stop.item_numbers)
        rows.append(f"{html.escape(t('ui.map.items'))}: {html.escape(items)}")
    if stop.name_masked:
        rows.append(html.escape(f"{stop.name_masked} {stop.phone_masked}".strip()))
    return "<br>".join(r for r in rows if r)


class DivMarker(folium.Marker):
    """A marker drawn from HTML with its popup and tooltip, from one class-level template.

    folium's icon, popup and tooltip elements compile a template each: a 300-stop map renders
    several times faster this way, and it needs no icon font from the internet.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.marker({{ this.location|tojson }}, {icon: L.divIcon({
            html: {{ this.icon_html|tojson }}, className: "stop-icon",
            iconSize: [26, 26], iconAnchor: [13, 13]})})
            {% if this.popup_html -%}
            .bindPopup({{ this.popup_html|tojson }}, {maxWidth: 280})
            {%- endif %}
            .bindTooltip({{ this.tooltip_text|tojson }})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self, point: Point, icon_html: str, tooltip_text: str, popup_html: str = ""
    ) -> None:
        super().__init__([point.lat, point.lon])
        self._name = "DivMarker"
        self.icon_html = icon_html
        self.popup_html = popup_html
        self.tooltip_text = tooltip_text


class StopDot(folium.CircleMarker):
    """A stop of the overview: a dot in the courier's colour with its popup (no jQuery)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.circleMarker({{ this.location|tojson }},
            {radius: 6, color: {{ this.color|tojson }}, fillColor: {{ this.color|tojson }},
             fillOpacity: 0.9, weight: 1})
            .bindPopup({{ this.popup_html|tojson }}, {maxWidth: 280})
            .bindTooltip({{ this.tooltip_text|tojson }})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, stop: MapStop, color: str, courier: str, t: Translate) -> None:
        super().__init__([stop.point.lat, stop.point.lon], color=color)
        self._name = "StopDot"
        self.stop = stop
        self.color = color
        self.popup_html = _stop_popup(stop, t)
        self.tooltip_text = f"{courier} · {stop.sequence}"


def symbol_marker(point: Point, symbol: str, color: str, label: str) -> DivMarker:
    """A labelled symbol (post office, desk, home, warning) in a coloured square."""
    text = html.escape(label)
    icon = (
        f'<div class="stop-num square" style="background:{html.escape(color)}">'
        f"{html.escape(symbol)}</div>"
    )
    return DivMarker(point, icon, label, text)


class StopMarker(DivMarker):
    """A numbered stop: a coloured number (round at a citizen, square at a desk) with a popup."""

    def __init__(self, stop: MapStop, color: str, t: Translate) -> None:
        shape = "square" if stop.place == "desk" else "round"
        icon = (
            f'<div class="stop-num {shape}" style="background:{html.escape(color)}">'
            f"{stop.sequence}</div>"
        )
        super().__init__(stop.point, icon, f"{stop.sequence}. {stop.label}", _stop_popup(stop, t))
        self._name = "StopMarker"
        self.stop = stop


class Legend(MacroElement):
    """A fixed box naming each colour or symbol of the map."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="map-legend" style="position:absolute;bottom:18px;left:8px;z-index:9999;
             background:#fff;padding:6px 8px;border-radius:4px;font:13px sans-serif;
             box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:40%;overflow:auto">
        <b>{{ this.title }}</b>
        {% for color, text in this.entries %}
        <div><span style="display:inline-block;width:12px;height:12px;background:{{ color }};
             margin-right:4px;border-radius:2px"></span>{{ text }}</div>
        {% endfor %}
        </div>
        {% endmacro %}
        """
    )

    def __init__(self, title: str, entries: Sequence[tuple[str, str]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.title = html.escape(title)
        self.entries = [(c, html.escape(s)) for c, s in entries]


def _depot_marker(route: MapRoute, t: Translate) -> DivMarker:
    label = route.depot_label or t("ui.map.post_office")
    return symbol_marker(route.depot, POST_OFFICE_SYMBOL, POST_OFFICE_COLOR, label)


def _path(route: MapRoute) -> list[Point]:
    return [route.depot, *(s.point for s in route.stops), route.depot]


def _line(route: MapRoute, graph: RoadGraph | None, weight: int = 4) -> folium.PolyLine:
    coords = [
        (round(a, _DECIMALS), round(b, _DECIMALS)) for a, b in route_line(_path(route), graph)
    ]
    return folium.PolyLine(  # type: ignore[no-untyped-call]
        coords, color=route.color, weight=weight, opacity=0.8, tooltip=route.courier_label
    )


def route_map(
    route: MapRoute, graph: RoadGraph | None = None, t: Translate | None = None
) -> folium.Map:
    """A courier's route: the line, numbered stops in visit order, the post office, a legend."""
    t = t or _vi
    m = _new_map(_path(route))
    _line(route, graph).add_to(m)
    _depot_marker(route, t).add_to(m)
    for stop in route.stops:
        StopMarker(stop, route.color, t).add_to(m)
    Legend(
        route.courier_label,
        [
            (POST_OFFICE_COLOR, t("ui.map.post_office")),
            (route.color, t("ui.map.citizen_stop")),
            (route.color, t("ui.map.desk_stop")),
        ],
    ).add_to(m)
    return m


_CLUSTER_CALLBACK = """
function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 5, color: row[3], fillOpacity: 0.9, weight: 1});
    marker.bindTooltip(row[2]);
    return marker;
}
"""


def _stop_rows(stops: Sequence[MapStop], color: str) -> list[list[Any]]:
    return [
        [
            round(s.point.lat, _DECIMALS),
            round(s.point.lon, _DECIMALS),
            f"{s.sequence}. {' '.join(s.item_numbers)}",
            color,
        ]
        for s in stops
    ]


def _add_route_layer(
    m: folium.Map, route: MapRoute, big: bool, graph: RoadGraph | None, t: Translate
) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=f"{route.courier_label} ({len(route.stops)})")
    _line(route, graph, weight=3).add_to(group)
    if big:
        FastMarkerCluster(  # type: ignore[no-untyped-call]
            _stop_rows(route.stops, route.color), callback=_CLUSTER_CALLBACK, name=None
        ).add_to(group)
    else:
        for stop in route.stops:
            StopDot(stop, route.color, route.courier_label, t).add_to(group)
    group.add_to(m)
    return group


def _add_unassigned(
    m: folium.Map, unassigned: Sequence[UnassignedPoint], big: bool, t: Translate
) -> None:
    group = folium.FeatureGroup(name=f"{t('ui.map.unassigned')} ({len(unassigned)})")
    if big:
        rows = [
            [
                round(u.point.lat, _DECIMALS),
                round(u.point.lon, _DECIMALS),
                f"{u.item_number}: {u.reason}",
                UNASSIGNED_COLOR,
            ]
            for u in unassigned
        ]
        FastMarkerCluster(rows, callback=_CLUSTER_CALLBACK).add_to(group)  # type: ignore[no-untyped-call]
    else:
        for u in unassigned:
            text = f"{t('ui.map.unassigned')}: {u.item_number} — {u.reason}"
            symbol_marker(u.point, "!", UNASSIGNED_COLOR, text).add_to(group)
    group.add_to(m)


def overview_map(
    overview: Overview,
    graph: RoadGraph | None = None,
    t: Translate | None = None,
    cluster_threshold: int = CLUSTER_THRESHOLD,
) -> folium.Map:
    """The day's plan: a layer per courier in its colour, unassigned flagged, commune outlines."""
    t = t or _vi
    points = [p for r in overview.routes for p in _path(r)] + [u.point for u in overview.unassigned]
    total = sum(len(r.stops) for r in overview.routes) + len(overview.unassigned)
    big = total > cluster_threshold
    m = _new_map(points, prefer_canvas=big)
    if overview.boundaries:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": list(overview.boundaries)},
            name=t("ui.map.communes"),
            style_function=lambda _f: {
                "color": "#607d8b",
                "weight": 1,
                "fillOpacity": 0.03,
                "opacity": 0.5,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False)
            if all("name" in f.get("properties", {}) for f in overview.boundaries)
            else None,
            smooth_factor=1.5,
        ).add_to(m)
    depots: dict[Point, str] = {}
    for route in overview.routes:
        _add_route_layer(m, route, big, graph, t)
        depots.setdefault(route.depot, route.depot_label)
    offices = folium.FeatureGroup(name=t("ui.map.post_office"))
    for point, label in depots.items():
        symbol_marker(
            point, POST_OFFICE_SYMBOL, POST_OFFICE_COLOR, label or t("ui.map.post_office")
        ).add_to(offices)
    offices.add_to(m)
    if overview.unassigned:
        _add_unassigned(m, overview.unassigned, big, t)
    folium.LayerControl(collapsed=True).add_to(m)
    Legend(
        t("ui.map.couriers"),
        [(r.color, r.courier_label) for r in overview.routes]
        + ([(UNASSIGNED_COLOR, t("ui.map.unassigned"))] if overview.unassigned else []),
    ).add_to(m)
    return m


def tracking_map(
    address: Point, desk: Point, desk_label: str = "", t: Translate | None = None
) -> folium.Map:
    """The citizen's map: their address and the desk only (never where a courier is)."""
    t = t or _vi
    m = _new_map([address, desk])
    symbol_marker(address, HOME_SYMBOL, HOME_COLOR, t("ui.map.your_address")).add_to(m)
    label = desk_label or t("ui.map.desk")
    symbol_marker(desk, DESK_SYMBOL, DESK_COLOR, label).add_to(m)
    return m
