"""GeoJSON exports of routes: one LineString per route and one Point per stop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maps.lines import route_line
from maps.types import MapRoute
from postal.geo.roadgraph import RoadGraph


def route_features(route: MapRoute, graph: RoadGraph | None = None) -> list[dict[str, Any]]:
    """The route's line (depot to depot) and its stops as GeoJSON Features ([lon, lat])."""
    path = [route.depot, *(s.point for s in route.stops), route.depot]
    line = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[lon, lat] for lat, lon in route_line(path, graph)],
        },
        "properties": {
            "route_id": route.route_id,
            "courier": route.courier_label,
            "color": route.color,
            "stop_count": len(route.stops),
        },
    }
    stops = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.point.lon, s.point.lat]},
            "properties": {
                "route_id": route.route_id,
                "sequence": s.sequence,
                "kind": s.kind,
                "place": s.place,
                "eta": s.eta.isoformat() if s.eta else None,
                "slot": s.slot_text,
                "label": s.label,
                "item_numbers": list(s.item_numbers),
            },
        }
        for s in route.stops
    ]
    return [line, *stops]


def routes_geojson(routes: Sequence[MapRoute], graph: RoadGraph | None = None) -> dict[str, Any]:
    """A FeatureCollection of every route's line and stops."""
    features = [f for r in routes for f in route_features(r, graph)]
    return {"type": "FeatureCollection", "features": features}
