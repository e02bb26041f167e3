"""Lines between consecutive stops: along the road graph when one is given, else straight."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse.csgraph import dijkstra  # type: ignore[import-untyped]

from maps.types import Point
from postal.geo.roadgraph import RoadGraph

LatLon = tuple[float, float]


def straight(points: Sequence[Point]) -> list[LatLon]:
    """The polyline through ``points`` in order."""
    return [(p.lat, p.lon) for p in points]


def _walk(predecessors: np.ndarray, source: int, target: int) -> list[int] | None:
    nodes = [target]
    while nodes[-1] != source:
        prev = int(predecessors[nodes[-1]])
        if prev < 0:
            return None
        nodes.append(prev)
    nodes.reverse()
    return nodes


def along_roads(points: Sequence[Point], graph: RoadGraph) -> list[LatLon]:
    """The polyline through ``points`` following the graph's shortest paths between them.

    A leg whose ends do not connect in the graph falls back to the straight segment.
    """
    if len(points) < 2:
        return straight(points)
    nodes = [graph.snap(p.lat, p.lon)[0] for p in points]
    sources = np.unique(np.asarray(nodes[:-1], dtype=np.int64))
    # One Dijkstra per distinct source (many stops share a desk node).
    _, preds = dijkstra(graph.adjacency, directed=True, indices=sources, return_predecessors=True)
    row = {int(s): i for i, s in enumerate(sources)}
    out: list[LatLon] = [(points[0].lat, points[0].lon)]
    for k in range(len(points) - 1):
        a, b = nodes[k], nodes[k + 1]
        path = _walk(preds[row[a]], a, b) if a != b else [a]
        if path is not None:
            out.extend((float(graph.lats[n]), float(graph.lons[n])) for n in path)
        out.append((points[k + 1].lat, points[k + 1].lon))
    return out


def route_line(points: Sequence[Point], graph: RoadGraph | None = None) -> list[LatLon]:
    """Road-following when ``graph`` is given, straight otherwise."""
    return along_roads(points, graph) if graph is not None else straight(points)
