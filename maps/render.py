"""folium maps: a courier's route, the dispatcher's overview, the citizen's tracking map."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import folium
from branca.element import MacroElement
from folium.plugins import FastMarkerCluster, MarkerCluster
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
OUTLINE_COLOR = "#546e7a"
# Numbered markers closer than this many pixels are drawn as one group marker ("3–5").
GROUP_RADIUS_PX = 30
_MARKER_PX = 24  # height of a numbered marker; its width grows with the label
# The map pages' own styles (they are standalone pages with a looser policy than the site's).
_STOP_CSS = (
    "<style>"
    ".leaflet-container{background:#f3f1ec}"
    ".stop-num{height:24px;line-height:24px;text-align:center;box-sizing:border-box;"
    "font:bold 12px sans-serif;border:1px solid #fff;box-shadow:0 0 2px #000;white-space:nowrap}"
    ".stop-num.round{border-radius:12px}.stop-num.square{border-radius:3px}"
    ".stop-group{height:28px;line-height:24px;padding:0 5px;text-align:center;white-space:nowrap;"
    "box-sizing:border-box;font:bold 12px sans-serif;border:2px solid #1b1b1b;border-radius:6px;"
    "box-shadow:2px 2px 0 #1b1b1b}"
    ".commune-label{background:transparent;border:0;box-shadow:none;color:#37474f;"
    "font:600 11px sans-serif;text-shadow:0 0 3px #fff,0 0 3px #fff}"
    ".commune-label:before{display:none}"
    ".map-legend{position:absolute;bottom:18px;left:8px;z-index:9999;background:#fff;"
    "color:#1b1b1b;padding:4px 8px;border-radius:4px;font:13px/1.35 sans-serif;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:45%;max-width:70%;overflow:auto}"
    ".map-legend summary{cursor:pointer;font-weight:700;min-height:24px}"
    ".map-legend .entry{display:flex;align-items:center;gap:6px;margin:3px 0}"
    ".map-legend .key{flex:none;display:inline-block;min-width:24px;text-align:center}"
    ".map-legend .swatch{width:14px;height:14px;border-radius:2px;display:inline-block}"
    ".map-legend .line{width:24px;height:0;border-top:4px solid;display:inline-block}"
    ".map-legend .outline{width:20px;height:14px;border:2px solid " + OUTLINE_COLOR + ";"
    "background:rgba(84,110,122,.08);display:inline-block}"
    "</style>"
)


def _vi(key: str) -> str:
    return message(key, "vi")


def _channel(hex_pair: str) -> float:
    c = int(hex_pair, 16) / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def text_color(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (``#rrggbb``)."""
    h = background.lstrip("#")
    if len(h) != 6:
        return "#fff"
    r, g, b = (_channel(h[i : i + 2]) for i in (0, 2, 4))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05/(L+.05), with black (L+.05)/.05: pick the larger.
    return "#fff" if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 else "#000"


def sequence_label(sequences: Iterable[int]) -> str:
    """Visit numbers as a short label: [3, 4, 5, 9] -> "3–5, 9"; more than two runs ->
    "first…last". The group markers' script (``_GROUP_ICON``) follows the same rule."""
    numbers = sorted(set(sequences))
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    if len(runs) > 2:
        return f"{numbers[0]}…{numbers[-1]}"
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _label_width(text: str) -> int:
    return max(_MARKER_PX, 8 * len(text) + 10)


def _bounds(points: Iterable[Point]) -> list[list[float]]:
    pts = list(points)
    lats = [p.lat for p in pts]
    lons = [p.lon for p in pts]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _feature_box(feature: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of a GeoJSON feature: its ``bbox`` member or its rings."""
    box = feature.get("bbox")
    if isinstance(box, list | tuple) and len(box) == 4:
        return float(box[1]), float(box[0]), float(box[3]), float(box[2])
    geometry = feature.get("geometry") or {}
    polygons = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        polygons = [polygons]
    lons = [pt[0] for poly in polygons for ring in poly for pt in ring]
    lats = [pt[1] for poly in polygons for ring in poly for pt in ring]
    if not lats:
        return None
    return min(lats), min(lons), max(lats), max(lons)


def outlines_around(
    boundaries: Sequence[dict[str, Any]], points: Sequence[Point], margin: float = 0.01
) -> list[dict[str, Any]]:
    """The commune outlines whose box meets the points' box widened by ``margin`` degrees
    (or a fifth of its size when larger): what can be seen on the map, and little more."""
    if not points:
        return list(boundaries)
    (south, west), (north, east) = _bounds(points)
    pad_lat = max(margin, (north - south) / 5)
    pad_lon = max(margin, (east - west) / 5)
    south, north, west, east = south - pad_lat, north + pad_lat, west - pad_lon, east + pad_lon
    kept = []
    for feature in boundaries:
        box = _feature_box(feature)
        if box is None:
            continue
        s, w, n, e = box
        if s <= north and n >= south and w <= east and e >= west:
            kept.append(feature)
    return kept


#: Commune names show from this zoom in (below it they would crowd the map).
LABEL_MIN_ZOOM = 13


class CommuneLabels(MacroElement):
    """Commune names at their label points, in a pane under the markers that shows from
    ``LABEL_MIN_ZOOM`` in; not interactive (no focus, no clicks)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var pane = map.createPane("communeLabels");
            pane.style.zIndex = 450;
            pane.style.pointerEvents = "none";
            {{ this.labels|tojson }}.forEach(function (row) {
                L.marker([row[0], row[1]], {pane: "communeLabels", interactive: false,
                    keyboard: false, icon: L.divIcon({className: "commune-label",
                    html: row[2], iconSize: null})}).addTo(map);
            });
            function show() {
                pane.style.display = map.getZoom() >= {{ this.min_zoom }} ? "" : "none";
            }
            map.on("zoomend", show);
            map.whenReady(show);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, features: Sequence[dict[str, Any]], min_zoom: int = LABEL_MIN_ZOOM) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "CommuneLabels"
        self.min_zoom = min_zoom
        self.labels: list[list[Any]] = []
        for f in features:
            props = f.get("properties", {})
            box = _feature_box(f)
            if "name" not in props or box is None:
                continue
            lat = props.get("labelLat", (box[0] + box[2]) / 2)
            lon = props.get("labelLon", (box[1] + box[3]) / 2)
            name = html.escape(str(props["name"]))
            self.labels.append([round(float(lat), _DECIMALS), round(float(lon), _DECIMALS), name])


def commune_layer(features: Sequence[dict[str, Any]], t: Translate) -> folium.GeoJson:
    """Commune outlines (names on hover): the base layer that still reads without tiles."""
    named = bool(features) and all("name" in f.get("properties", {}) for f in features)
    tooltip = folium.GeoJsonTooltip(fields=["name"], labels=False) if named else None
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": list(features)},
        name=t("ui.map.communes"),
        style_function=lambda _f: {
            "color": OUTLINE_COLOR,
            "weight": 1.5,
            "fillColor": OUTLINE_COLOR,
            "fillOpacity": 0.06,
            "opacity": 0.8,
        },
        tooltip=tooltip,
        smooth_factor=1.5,
    )


def _new_map(
    points: Sequence[Point],
    boundaries: Sequence[dict[str, Any]],
    t: Translate,
    prefer_canvas: bool = False,
    max_zoom: int = 17,
) -> folium.Map:
    centre = points[0] if points else Point(21.028, 105.854)
    m = folium.Map(
        location=[centre.lat, centre.lon], zoom_start=14, prefer_canvas=prefer_canvas, tiles=None
    )
    # Tiles load from the internet when there is one; without them the commune outlines (the
    # first layer, under everything else) still show where things are.
    folium.TileLayer("OpenStreetMap", control=False).add_to(m)
    m.get_root().header.add_child(folium.Element(_STOP_CSS), name="stop_css")  # type: ignore[attr-defined]
    outlines = outlines_around(boundaries, points)
    if outlines:
        commune_layer(outlines, t).add_to(m)
        CommuneLabels(outlines).add_to(m)
    if len(points) > 1:
        # Never closer than ``max_zoom``: a few points close together keep their surroundings.
        m.fit_bounds(_bounds(points), max_zoom=max_zoom)
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


def group_stops(stops: Sequence[MapStop]) -> list[tuple[MapStop, ...]]:
    """Stops at the same place (to about a metre), in visit order of their first stop: several
    items at one desk are one marker labelled "3–5", not five markers on top of each other."""
    places: dict[tuple[float, float], list[MapStop]] = {}
    for stop in sorted(stops, key=lambda s: s.sequence):
        key = (round(stop.point.lat, _DECIMALS), round(stop.point.lon, _DECIMALS))
        places.setdefault(key, []).append(stop)
    return [tuple(group) for group in places.values()]


class DivMarker(folium.Marker):
    """A marker drawn from HTML with its popup and tooltip, from one class-level template.

    folium's icon, popup and tooltip elements compile a template each: a 300-stop map renders
    several times faster this way, and it needs no icon font from the internet. ``shift_px``
    draws the icon that many pixels to the right of its point (negative: to the left), so two
    symbols at nearly the same point stay apart; ``sequences`` are the visit numbers it shows.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.marker({{ this.location|tojson }}, {icon: L.divIcon({
            html: {{ this.icon_html|tojson }}, className: "stop-icon",
            iconSize: [{{ this.icon_width }}, {{ this.icon_height }}],
            iconAnchor: [{{ this.icon_width / 2 - this.shift_px }}, {{ this.icon_height / 2 }}]}),
            sequences: {{ this.sequences|tojson }}})
            {% if this.popup_html -%}
            .bindPopup({{ this.popup_html|tojson }}, {maxWidth: 280})
            {%- endif %}
            .bindTooltip({{ this.tooltip_text|tojson }})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        point: Point,
        icon_html: str,
        tooltip_text: str,
        popup_html: str = "",
        icon_width: int = _MARKER_PX + 2,
        shift_px: int = 0,
        sequences: Sequence[int] = (),
    ) -> None:
        super().__init__([point.lat, point.lon])
        self._name = "DivMarker"
        self.icon_html = icon_html
        self.popup_html = popup_html
        self.tooltip_text = tooltip_text
        self.icon_width = icon_width
        self.icon_height = _MARKER_PX + 2
        self.shift_px = shift_px
        self.sequences = list(sequences)


def _symbol_html(symbol: str, color: str) -> str:
    return (
        f'<div class="stop-num square" style="width:{_MARKER_PX}px;background:{html.escape(color)};'
        f'color:{text_color(color)}">{html.escape(symbol)}</div>'
    )


def _number_html(label: str, color: str, shape: str) -> str:
    return (
        f'<div class="stop-num {shape}" style="width:{_label_width(label)}px;'
        f'background:{html.escape(color)};color:{text_color(color)}">{html.escape(label)}</div>'
    )


class StopDot(folium.CircleMarker):
    """A place of the overview: a dot in the courier's colour with the popup of each stop
    there (no jQuery)."""

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

    def __init__(
        self, stops: MapStop | Sequence[MapStop], color: str, courier: str, t: Translate
    ) -> None:
        group = (stops,) if isinstance(stops, MapStop) else tuple(stops)
        first = group[0]
        super().__init__([first.point.lat, first.point.lon], color=color)
        self._name = "StopDot"
        self.stop = first
        self.stops = group
        self.color = color
        self.popup_html = "<hr>".join(_stop_popup(s, t) for s in group)
        self.tooltip_text = f"{courier} · {sequence_label(s.sequence for s in group)}"


def symbol_marker(
    point: Point, symbol: str, color: str, label: str, shift_px: int = 0
) -> DivMarker:
    """A labelled symbol (post office, desk, home, warning) in a coloured square."""
    text = html.escape(label)
    return DivMarker(point, _symbol_html(symbol, color), label, text, shift_px=shift_px)


class StopMarker(DivMarker):
    """The stops at one place: their visit numbers ("7", or "3–5" for several items at one
    desk) on the route's colour, round at a citizen and square at a desk, with a popup."""

    def __init__(self, stops: MapStop | Sequence[MapStop], color: str, t: Translate) -> None:
        group = (stops,) if isinstance(stops, MapStop) else tuple(stops)
        first = group[0]
        shape = "square" if first.place == "desk" else "round"
        label = sequence_label(s.sequence for s in group)
        tooltip = f"{label}. {first.label}"
        super().__init__(
            first.point,
            _number_html(label, color, shape),
            tooltip,
            "<hr>".join(_stop_popup(s, t) for s in group),
            icon_width=_label_width(label) + 2,
            sequences=[s.sequence for s in group],
        )
        self._name = "StopMarker"
        self.stop = first
        self.stops = group
        self.label = label


# The icon of a group of nearby numbered markers: the visit numbers it holds, shortened by
# the rule of ``sequence_label``, in a box with a hard shadow (a "stack").
_GROUP_ICON = """
function (cluster) {
    var seqs = [];
    cluster.getAllChildMarkers().forEach(function (m) {
        seqs = seqs.concat(m.options.sequences || []);
    });
    seqs.sort(function (a, b) { return a - b; });
    var runs = [];
    seqs.forEach(function (n) {
        var last = runs[runs.length - 1];
        if (last && n === last[1] + 1) { last[1] = n; }
        else if (!last || n !== last[1]) { runs.push([n, n]); }
    });
    var text = runs.length > 2 ? seqs[0] + "\\u2026" + seqs[seqs.length - 1]
        : runs.map(function (r) {
            return r[0] === r[1] ? String(r[0]) : r[0] + "\\u2013" + r[1];
        }).join(", ");
    var width = Math.max(28, 8 * text.length + 14);
    return L.divIcon({
        html: '<div class="stop-group" style="width:' + width + 'px;background:%(bg)s;'
            + 'color:%(fg)s">' + text + '</div>',
        className: "stop-icon", iconSize: [width, 28], iconAnchor: [width / 2, 14]});
}
"""


class StopGroups(MarkerCluster):
    """Numbered markers closer than ``GROUP_RADIUS_PX`` on screen drawn as one box naming
    their visit numbers ("3–5"); a tap zooms in, and at the closest zoom fans them out."""

    def __init__(self, color: str) -> None:
        safe = color if color.startswith("#") and len(color) in (4, 7) else "#0b4a8b"
        super().__init__(  # type: ignore[no-untyped-call]
            name=None,
            control=False,
            icon_create_function=_GROUP_ICON % {"bg": safe, "fg": text_color(safe)},
            max_cluster_radius=GROUP_RADIUS_PX,
            show_coverage_on_hover=False,
            spiderfy_on_max_zoom=True,
            zoom_to_bounds_on_click=True,
            spiderfy_distance_multiplier=1.6,
        )
        self._name = "StopGroups"


class Legend(MacroElement):
    """A box (folds away) saying what each colour, number, shape and line of the map means.

    ``entries`` are (key, text): the key is a sample drawn by the ``*_key`` helpers below
    (trusted HTML), the text is escaped here.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <details class="map-legend" id="{{ this.get_name() }}" open>
        <summary>{{ this.title }}</summary>
        {% for key, text in this.entries %}
        <div class="entry"><span class="key">{{ key }}</span><span>{{ text }}</span></div>
        {% endfor %}
        </details>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        // On a small map (a phone's frame) the legend starts folded: its title still shows.
        if (window.innerHeight < 480 || window.innerWidth < 480) {
            document.getElementById({{ this.get_name()|tojson }}).open = false;
        }
        {% endmacro %}
        """
    )

    def __init__(self, title: str, entries: Sequence[tuple[str, str]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.title = html.escape(title)
        self.entries = [(k, html.escape(s)) for k, s in entries]
        self.texts = [s for _, s in entries]


def swatch_key(color: str) -> str:
    """A legend sample: a square of ``color``."""
    return f'<span class="swatch" style="background:{html.escape(color)}"></span>'


def number_key(label: str, color: str, shape: str = "round") -> str:
    """A legend sample: a numbered marker."""
    return _number_html(label, color, shape)


def symbol_key(symbol: str, color: str) -> str:
    """A legend sample: a symbol marker."""
    return _symbol_html(symbol, color)


def group_key(color: str) -> str:
    """A legend sample: a group of nearby stops."""
    return (
        f'<span class="stop-group" style="display:inline-block;background:{html.escape(color)};'
        f'color:{text_color(color)}">3–5</span>'
    )


def line_key(color: str) -> str:
    """A legend sample: a route line."""
    return f'<span class="line" style="border-color:{html.escape(color)}"></span>'


def outline_key() -> str:
    """A legend sample: a commune outline."""
    return '<span class="outline"></span>'


def _outline_entry(m: folium.Map, t: Translate) -> list[tuple[str, str]]:
    has = any(isinstance(c, folium.GeoJson) for c in m._children.values())
    return [(outline_key(), t("ui.map.communes"))] if has else []


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
    route: MapRoute,
    graph: RoadGraph | None = None,
    t: Translate | None = None,
    boundaries: Sequence[dict[str, Any]] = (),
) -> folium.Map:
    """A courier's route: commune outlines, the line, the stops numbered in visit order (one
    marker per place; nearby places grouped as "3–5" until zoomed in), the post office, a
    legend."""
    t = t or _vi
    m = _new_map(_path(route), boundaries, t)
    _line(route, graph).add_to(m)
    _depot_marker(route, t).add_to(m)
    groups = StopGroups(route.color)
    for place in group_stops(route.stops):
        StopMarker(place, route.color, t).add_to(groups)
    groups.add_to(m)
    Legend(
        route.courier_label,
        [
            (number_key("1", route.color), t("ui.map.citizen_stop")),
            (number_key("2", route.color, "square"), t("ui.map.desk_stop")),
            (group_key(route.color), t("ui.map.legend_group")),
            (line_key(route.color), t("ui.map.legend_line")),
            (symbol_key(POST_OFFICE_SYMBOL, POST_OFFICE_COLOR), t("ui.map.post_office")),
            *_outline_entry(m, t),
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
        for place in group_stops(route.stops):
            StopDot(place, route.color, route.courier_label, t).add_to(group)
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
    """The day's plan: commune outlines, a layer per courier in its colour (a dot per place),
    unassigned flagged, the post offices, a legend."""
    t = t or _vi
    points = [p for r in overview.routes for p in _path(r)] + [u.point for u in overview.unassigned]
    total = sum(len(r.stops) for r in overview.routes) + len(overview.unassigned)
    big = total > cluster_threshold
    m = _new_map(points, overview.boundaries, t, prefer_canvas=big)
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
        [(swatch_key(r.color), r.courier_label) for r in overview.routes]
        + (
            [(symbol_key("!", UNASSIGNED_COLOR), t("ui.map.unassigned"))]
            if overview.unassigned
            else []
        )
        + [
            (swatch_key("#7f7f7f"), t("ui.map.legend_dots")),
            (symbol_key(POST_OFFICE_SYMBOL, POST_OFFICE_COLOR), t("ui.map.post_office")),
            *_outline_entry(m, t),
        ],
    ).add_to(m)
    return m


#: The citizen's map shows at least a neighbourhood: the commune's outline and name.
TRACKING_MAX_ZOOM = 15
#: Two symbols closer than this (degrees, about 30 m) are drawn side by side.
_NEAR_DEG = 0.0003


def tracking_map(
    address: Point | None,
    desk: Point,
    desk_label: str = "",
    t: Translate | None = None,
    boundaries: Sequence[dict[str, Any]] = (),
) -> folium.Map:
    """The citizen's map: their address and the desk only (never where a courier is), on the
    commune outlines, with a legend. An address that is None or the desk's very point (the
    page does not know it) is not drawn; one a few metres away is drawn beside the desk."""
    t = t or _vi
    same = address is not None and (
        round(address.lat, _DECIMALS) == round(desk.lat, _DECIMALS)
        and round(address.lon, _DECIMALS) == round(desk.lon, _DECIMALS)
    )
    home = None if address is None or same else address
    points = [home, desk] if home is not None else [desk]
    m = _new_map(points, boundaries, t, max_zoom=TRACKING_MAX_ZOOM)
    shift = 0
    if home is not None and abs(home.lat - desk.lat) + abs(home.lon - desk.lon) < _NEAR_DEG:
        shift = _MARKER_PX // 2 + 2  # side by side: home to the left, desk to the right
    entries: list[tuple[str, str]] = []
    if home is not None:
        label = t("ui.map.your_address")
        symbol_marker(home, HOME_SYMBOL, HOME_COLOR, label, shift_px=-shift).add_to(m)
        entries.append((symbol_key(HOME_SYMBOL, HOME_COLOR), label))
    label = desk_label or t("ui.map.desk")
    symbol_marker(desk, DESK_SYMBOL, DESK_COLOR, label, shift_px=shift).add_to(m)
    entries.append((symbol_key(DESK_SYMBOL, DESK_COLOR), t("ui.map.desk")))
    Legend(t("ui.map.legend"), [*entries, *_outline_entry(m, t)]).add_to(m)
    return m
