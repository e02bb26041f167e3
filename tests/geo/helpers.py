"""GeoJSON features of hand-made road graphs, as RoadGraph.from_features reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Nodes = Mapping[int, tuple[float, float]]


def node_feature(nodes: Nodes, i: int) -> dict[str, Any]:
    """The Point feature of node i, at nodes[i] = (lat, lon)."""
    lat, lon = nodes[i]
    return {"type": "Feature", "id": i, "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def way_feature(nodes: Nodes, src: int, tgt: int, **tags: str) -> dict[str, Any]:
    """A straight residential way drawn from src to tgt, with extra OSM tags."""
    coords = [[nodes[n][1], nodes[n][0]] for n in (src, tgt)]
    return {
        "type": "Feature",
        "src": src,
        "tgt": tgt,
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {"tags": {"highway": "residential", **tags}},
    }
