"""Map objects: markers in visit order, bounds, layers, clustering, road-following, GeoJSON."""

from __future__ import annotations

import dataclasses
from typing import Any

import folium
from folium.plugins import FastMarkerCluster

from maps.export import routes_geojson
from maps.lines import along_roads
from maps.render import (
    GROUP_RADIUS_PX,
    DivMarker,
    Legend,
    StopGroups,
    StopMarker,
    overview_map,
    route_map,
    tracking_map,
)
from maps.synthetic import make_overview, make_route
from maps.types import Point
from postal.geo.roadgraph import RoadGraph


def _children(element: Any, kind: type) -> list[Any]:
    return [c for c in element._children.values() if isinstance(c, kind)]


def _stop_markers(m: folium.Map) -> list[StopMarker]:
    """The numbered markers: all of them inside the map's one group layer."""
    [groups] = _children(m, StopGroups)
    assert not _children(m, StopMarker)  # none outside the groups
    return _children(groups, StopMarker)


def test_route_map_numbers_stops_in_visit_order() -> None:
    route = make_route(12)
    m = route_map(route)
    markers = _stop_markers(m)
    assert [mk.stop.sequence for mk in markers] == list(range(1, 13))
    assert [mk.location for mk in markers] == [[s.point.lat, s.point.lon] for s in route.stops]
    assert [mk.label for mk in markers] == [str(n) for n in range(1, 13)]
    [line] = _children(m, folium.PolyLine)
    # The line leaves the post office, visits the stops in order and returns.
    assert line.locations[0] == line.locations[-1] == [route.depot.lat, route.depot.lon]
    assert line.locations[1] == [
        round(route.stops[0].point.lat, 5),
        round(route.stops[0].point.lon, 5),
    ]
    # The post office marker, a legend, and popups carrying ETA and items.
    assert len(_children(m, folium.Marker)) == 1 and len(markers) == 12
    assert any(type(c).__name__ == "Legend" for c in m._children.values())
    assert (
        "08:00" in markers[0].popup_html and route.stops[0].item_numbers[0] in markers[0].popup_html
    )
    assert "square" in markers[4].icon_html and "round" in markers[0].icon_html


def test_route_map_bounds_cover_every_stop() -> None:
    route = make_route(30)
    m = route_map(route)
    (south, west), (north, east) = m.get_bounds()
    assert south is not None and west is not None and north is not None and east is not None
    for s in route.stops:
        assert south <= s.point.lat <= north and west <= s.point.lon <= east


def test_popup_text_is_escaped_and_translated() -> None:
    route = make_route(1)
    bad = dataclasses.replace(route.stops[0], label="<script>x</script>")
    m = route_map(
        dataclasses.replace(route, stops=(bad,)), t=lambda k: {"ui.map.pickup": "P"}.get(k, k)
    )
    [marker] = _stop_markers(m)
    assert "<script>" not in marker.popup_html and "&lt;script&gt;" in marker.popup_html


def test_overview_has_a_layer_per_courier_and_flags_unassigned() -> None:
    overview = make_overview(30, per_route=10, unassigned=2)
    boundary = {
        "type": "Feature",
        "properties": {"name": "X"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[105.8, 21.0], [105.9, 21.0], [105.9, 21.1], [105.8, 21.0]]],
        },
    }
    m = overview_map(dataclasses.replace(overview, boundaries=(boundary,)))
    groups = _children(m, folium.FeatureGroup)
    names = [g.layer_name for g in groups]
    assert names[:3] == ["Courier 1 (10)", "Courier 2 (10)", "Courier 3 (10)"]
    assert any(n.startswith("Chưa xếp được (2)") for n in names)
    assert _children(m, folium.LayerControl) and _children(m, folium.GeoJson)
    first = groups[0]
    [line] = _children(first, folium.PolyLine)
    assert line.options["color"] == overview.routes[0].color
    assert len(_children(first, folium.CircleMarker)) == 10
    unassigned = next(g for g in groups if g.layer_name.startswith("Chưa"))
    assert len(_children(unassigned, folium.Marker)) == 2


def test_big_overview_clusters_stops() -> None:
    overview = make_overview(600, per_route=200)
    m = overview_map(overview, cluster_threshold=500)
    groups = [g for g in _children(m, folium.FeatureGroup) if g.layer_name.startswith("Courier")]
    assert len(groups) == 3
    for g in groups:
        [cluster] = _children(g, FastMarkerCluster)
        assert len(cluster.data) == 200 and not _children(g, folium.CircleMarker)


def test_tracking_map_shows_address_and_desk_only() -> None:
    home, desk = Point(21.02, 105.84), Point(21.03, 105.85)
    m = tracking_map(home, desk, "Desk")
    markers = _children(m, folium.Marker)
    assert [mk.location for mk in markers] == [[21.02, 105.84], [21.03, 105.85]]
    assert not _children(m, folium.PolyLine)
    # An address the page does not know (given as the desk's point) is not drawn on the desk.
    [desk_only] = _children(tracking_map(desk, desk, "Desk"), folium.Marker)
    assert desk_only.tooltip_text == "Desk"
    # An address a few metres from the desk is drawn beside it, not under it.
    near = _children(tracking_map(Point(21.03005, 105.85005), desk, "Desk"), DivMarker)
    assert [mk.shift_px < 0 for mk in near] == [True, False] and near[1].shift_px > 0
    assert near[1].shift_px - near[0].shift_px >= near[0].icon_width


def _grid() -> RoadGraph:
    # A 3x3 grid of two-way streets 0.01 degrees apart; no diagonal.
    import numpy as np

    lats = np.array([21.0 + 0.01 * (i // 3) for i in range(9)])
    lons = np.array([105.0 + 0.01 * (i % 3) for i in range(9)])
    edges: dict[tuple[int, int], float] = {}
    for i in range(9):
        for j in (i + 1, i + 3):
            if j < 9 and (j == i + 3 or i // 3 == j // 3):
                edges[(i, j)] = edges[(j, i)] = 1000.0
    return RoadGraph(lats, lons, edges)


def test_lines_follow_roads_when_a_graph_is_given() -> None:
    a, b = Point(21.0, 105.0), Point(21.02, 105.02)
    path = along_roads([a, b], _grid())
    # Corner to corner on a grid: 5 nodes, never the diagonal's midpoint.
    assert len(path) == 2 + 5
    for lat, lon in path[1:-1]:
        assert round((lat - 21.0) / 0.01, 6) % 1 == 0 and round((lon - 105.0) / 0.01, 6) % 1 == 0
    route = dataclasses.replace(make_route(2), depot=a)
    m = route_map(route, graph=_grid())
    [line] = _children(m, folium.PolyLine)
    assert len(line.locations) > len(route.stops) + 2


def test_geojson_export() -> None:
    routes = make_overview(5, per_route=3).routes
    fc = routes_geojson(routes)
    lines = [f for f in fc["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in fc["features"] if f["geometry"]["type"] == "Point"]
    assert len(lines) == 2 and len(points) == 5
    first = routes[0].stops[0]
    assert points[0]["geometry"]["coordinates"] == [first.point.lon, first.point.lat]
    assert [p["properties"]["sequence"] for p in points] == [1, 2, 3, 1, 2]
    assert lines[0]["properties"]["color"] == routes[0].color


def test_local_assets_replace_the_cdns() -> None:
    from maps.assets import use_local_assets

    m = use_local_assets(
        overview_map(make_overview(600, per_route=300), cluster_threshold=100), "/v"
    )
    page = m.get_root().render()
    assert '<script src="/v/leaflet.js">' in page and "/v/leaflet.markercluster.js" in page
    assert "/v/MarkerCluster.css" in page
    assert "cdn" not in page.split("<body>")[0].lower() and "jquery" not in page.lower()
    small = use_local_assets(overview_map(make_overview(20, per_route=10, unassigned=1)), "/v")
    assert "$(" not in small.get_root().render()  # popups without jQuery


# -- Readable without tiles, readable in the city core ---------------------------------------


def _square(code: str, name: str, south: float, west: float, size: float) -> dict[str, Any]:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


# A 3x3 grid of communes around the synthetic routes (21.03, 105.85), and one far away.
COMMUNES = (
    *(
        _square(f"{i}{j}", f"Xã {i}{j}", 20.97 + 0.04 * i, 105.79 + 0.04 * j, 0.04)
        for i in range(3)
        for j in range(3)
    ),
    _square("far", "Xa", 22.5, 104.0, 0.04),
)


def _outlines(m: folium.Map) -> list[str]:
    """The names of the communes outlined on the map (its GeoJson layer's features)."""
    [layer] = _children(m, folium.GeoJson)
    return [f["properties"]["name"] for f in layer.data["features"]]


def _legend_texts(m: folium.Map) -> list[str]:
    [legend] = _children(m, Legend)
    return list(legend.texts)


def test_every_map_kind_draws_commune_outlines_under_everything_and_a_legend() -> None:
    route = make_route(20)
    overview = dataclasses.replace(make_overview(30, per_route=10), boundaries=COMMUNES)
    maps = {
        "route": route_map(route, boundaries=COMMUNES),  # the courier's map and the dispatcher's
        "overview": overview_map(overview),
        "tracking": tracking_map(Point(21.02, 105.84), Point(21.03, 105.85), boundaries=COMMUNES),
    }
    for kind, m in maps.items():
        names = _outlines(m)
        # The communes around the points, not the far one (the page stays small).
        assert "Xã 11" in names and "Xa" not in names, kind
        layers = [c for c in m._children.values() if not isinstance(c, folium.TileLayer)]
        assert isinstance(layers[0], folium.GeoJson), f"{kind}: outlines are the first layer"
        assert "Ranh giới xã/phường" in _legend_texts(m), kind
        page = m.get_root().render()
        assert 'createPane("communeLabels")' in page and "X\\u00e3 11" in page, kind
    assert "Điểm tại Một cửa (vuông)" in _legend_texts(maps["route"])
    assert any("3–5" in text for text in _legend_texts(maps["route"]))
    assert "Courier 1" in _legend_texts(maps["overview"])
    assert _legend_texts(maps["tracking"])[:2] == ["Địa chỉ của bạn", "Bộ phận Một cửa"]
    # No outlines given: no outline layer and no legend line for it.
    assert not _children(route_map(route), folium.GeoJson)
    assert "Ranh giới xã/phường" not in _legend_texts(route_map(route))


def _city_core_route() -> Any:
    """40 stops inside about 400 m, the 5 items of one desk at the same point."""
    route = make_route(40)
    squeezed = [
        dataclasses.replace(
            s,
            point=Point(21.03 + (s.point.lat - 21.03) / 25, 105.85 + (s.point.lon - 105.85) / 25),
        )
        for s in route.stops
    ]
    desk = Point(21.0301, 105.8502)
    for k in (9, 10, 11, 12, 30):  # visits 10-13 in a row, and 31 later in the day
        squeezed[k] = dataclasses.replace(squeezed[k], point=desk, place="desk")
    return dataclasses.replace(route, stops=tuple(squeezed))


def test_city_core_markers_are_one_per_place_and_grouped_with_their_numbers() -> None:
    route = _city_core_route()
    m = route_map(route)
    markers = _stop_markers(m)
    locations = [tuple(mk.location or ()) for mk in markers]
    assert len(set(locations)) == len(locations), "two numbered markers at the same point"
    # The desk's five items are one marker naming their visits, in order.
    desk = next(mk for mk in markers if mk.location == [21.0301, 105.8502])
    assert desk.sequences == [10, 11, 12, 13, 31] and desk.label == "10–13, 31"
    assert desk.popup_html.count("<hr>") == 4 and "square" in desk.icon_html
    assert desk.icon_width >= 8 * len(desk.label)  # the label fits its marker
    # Every visit number is on exactly one marker, and the markers follow the visit order.
    numbers = [n for mk in markers for n in mk.sequences]
    assert sorted(numbers) == list(range(1, 41)) and len(numbers) == 40
    assert [mk.sequences[0] for mk in markers] == sorted(mk.sequences[0] for mk in markers)
    # Markers closer than their own size on screen are drawn as one group naming the visits.
    [groups] = _children(m, StopGroups)
    assert groups.options["max_cluster_radius"] >= GROUP_RADIUS_PX >= 26
    assert groups.options["spiderfy_on_max_zoom"] is True
    assert groups.icon_create_function is not None
    assert "sequences" in groups.icon_create_function
    page = m.get_root().render()
    assert "iconCreateFunction" in page and "sequences: [10, 11, 12, 13, 31]" in page


def test_sequence_labels_and_marker_text_colours() -> None:
    from maps.render import sequence_label, text_color

    assert sequence_label([7]) == "7"
    assert sequence_label([5, 3, 4, 9]) == "3–5, 9"
    assert sequence_label([1, 3, 5, 7]) == "1…7"
    assert sequence_label([2, 2]) == "2"
    # Numbers on light route colours are black, on dark ones white (contrast >= 4.5).
    assert text_color("#bcbd22") == "#000" and text_color("#17becf") == "#000"
    assert text_color("#0b4a8b") == "#fff" and text_color("#1f77b4") == "#fff"
