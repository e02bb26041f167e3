"""Map objects: markers in visit order, bounds, layers, clustering, road-following, GeoJSON."""

from __future__ import annotations

import dataclasses
from typing import Any

import folium
from folium.plugins import FastMarkerCluster

from maps.export import routes_geojson
from maps.lines import along_roads
from maps.render import StopMarker, overview_map, route_map, tracking_map
from maps.synthetic import make_overview, make_route
from maps.types import Point
from postal.geo.roadgraph import RoadGraph


def _children(element: Any, kind: type) -> list[Any]:
    return [c for c in element._children.values() if isinstance(c, kind)]


def test_route_map_numbers_stops_in_visit_order() -> None:
    route = make_route(12)
    m = route_map(route)
    markers = _children(m, StopMarker)
    assert [mk.stop.sequence for mk in markers] == list(range(1, 13))
    assert [mk.location for mk in markers] == [[s.point.lat, s.point.lon] for s in route.stops]
    [line] = _children(m, folium.PolyLine)
    # The line leaves the post office, visits the stops in order and returns.
    assert line.locations[0] == line.locations[-1] == [route.depot.lat, route.depot.lon]
    assert line.locations[1] == [
        round(route.stops[0].point.lat, 5),
        round(route.stops[0].point.lon, 5),
    ]
    # The post office marker, a legend, and popups carrying ETA and items.
    assert len(_children(m, folium.Marker)) == 13
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
    [marker] = _children(m, StopMarker)
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
