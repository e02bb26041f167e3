"""A directed road graph from an OSM-derived GeoJSON, shortest paths, and measured circuity.

The file holds Point features (nodes, by feature id) and LineString features (edges) carrying
``src``/``tgt`` node ids, drawn from src to tgt, with the OSM way's tags. Edge lengths are
ellipsoidal (WGS84). Shortest paths use scipy's compiled Dijkstra.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components, dijkstra  # type: ignore[import-untyped]
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from postal.geo.matrix import haversine_m

MOTORCYCLE = "motorcycle"
ANY_VEHICLE = "any"

# OSM highway kinds a motorbike may not ride on (sidewalks, paths, stairs).
_NOT_FOR_MOTORBIKES = frozenset(
    {"footway", "pedestrian", "path", "steps", "cycleway", "bridleway", "corridor", "platform"}
)
_NO = frozenset({"no"})
_YES = frozenset({"yes", "designated", "permissive", "destination", "true", "1"})
_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
# Snapping and zero-length edges: scipy drops explicit zeros from a sparse graph, so an edge is
# never shorter than this.
_MIN_EDGE_M = 1e-3


def _may_ride(tags: Mapping[str, str], vehicle: str) -> bool:
    """Whether a vehicle of this kind may use the way at all."""
    if vehicle == ANY_VEHICLE:
        return True
    for key in ("motorcycle", "moped", "motor_vehicle", "vehicle", "access"):
        value = tags.get(key)
        if value in _YES:
            return True
        if value in _NO:
            return False
    return tags.get("highway") not in _NOT_FOR_MOTORBIKES


def _directions(tags: Mapping[str, str], vehicle: str) -> tuple[bool, bool]:
    """(forward allowed, backward allowed) for the way's drawing direction."""
    keys = ["oneway"]
    if vehicle == MOTORCYCLE:
        # Hanoi tags many one-way streets oneway:motorcycle=no: motorbikes may go both ways.
        keys = ["oneway:motorcycle", "oneway:moped", "oneway"]
    for key in keys:
        value = tags.get(key)
        if value is None:
            continue
        if value in _FORWARD:
            return True, False
        if value in _BACKWARD:
            return False, True
        if value == "no":
            return True, True
    if tags.get("junction") in {"roundabout", "circular"}:
        return True, False
    return True, True


def _line_length_m(coords: list[list[float]]) -> float:
    return float(
        sum(
            Geodesic.WGS84.Inverse(a[1], a[0], b[1], b[0])["s12"]
            for a, b in itertools.pairwise(coords)
        )
    )


@dataclass(frozen=True, slots=True)
class CircuityStats:
    """Road distance over geodesic distance for random node pairs."""

    mean: float
    median: float
    p90: float
    n: int


class RoadGraph:
    """A directed graph of road nodes with edge lengths in metres."""

    def __init__(
        self,
        lats: npt.NDArray[np.float64],
        lons: npt.NDArray[np.float64],
        edges: Mapping[tuple[int, int], float],
    ) -> None:
        self.lats = np.asarray(lats, dtype=np.float64)
        self.lons = np.asarray(lons, dtype=np.float64)
        n = len(self.lats)
        if edges:
            rows, cols = zip(*edges, strict=True)
            weights = [max(w, _MIN_EDGE_M) for w in edges.values()]
        else:
            rows, cols, weights = (), (), []
        self.adjacency = csr_matrix((weights, (rows, cols)), shape=(n, n), dtype=np.float64)
        self.n_edges = len(weights)
        # Snap only to nodes of the largest strongly connected part, so every snapped pair has
        # a path both ways (dead-end service roads and lone crossings are left out).
        _, labels = connected_components(self.adjacency, directed=True, connection="strong")
        counts = np.bincount(labels) if n else np.zeros(1, dtype=np.int64)
        self.routable = np.flatnonzero(labels == int(np.argmax(counts))) if n else labels
        self._tree: Any = None

    @classmethod
    def from_geojson(cls, path: Path, vehicle: str = MOTORCYCLE) -> RoadGraph:
        """Build the graph of the ways a vehicle ("motorcycle" or "any") may use."""
        collection = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_features(collection["features"], vehicle)

    @classmethod
    def from_features(cls, features: list[dict[str, Any]], vehicle: str = MOTORCYCLE) -> RoadGraph:
        """Build the graph from GeoJSON features (Points with ids, LineStrings with src/tgt)."""
        ids: dict[Any, int] = {}
        lats: list[float] = []
        lons: list[float] = []
        for f in features:
            if f["geometry"]["type"] == "Point":
                ids[f["id"]] = len(lats)
                lons.append(float(f["geometry"]["coordinates"][0]))
                lats.append(float(f["geometry"]["coordinates"][1]))
        edges: dict[tuple[int, int], float] = {}
        for f in features:
            if f["geometry"]["type"] != "LineString":
                continue
            tags = f.get("properties", {}).get("tags", {}) or {}
            if not _may_ride(tags, vehicle):
                continue
            u, v = ids[f["src"]], ids[f["tgt"]]
            length = _line_length_m(f["geometry"]["coordinates"])
            forward, backward = _directions(tags, vehicle)
            # Parallel ways between the same nodes: keep the shortest (csr would add them up).
            for a, b, allowed in ((u, v, forward), (v, u, backward)):
                if allowed and a != b:
                    edges[(a, b)] = min(length, edges.get((a, b), math.inf))
        return cls(np.array(lats), np.array(lons), edges)

    @classmethod
    def load(
        cls, data_dir: Path, locality: str = "hanoi", name: str = "roadgraph_ocd_2023"
    ) -> RoadGraph:
        """Load (once per file) data_dir/<locality>/<name>.geojson for motorbikes."""
        return _load(Path(data_dir).resolve() / locality / f"{name}.geojson")

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.lats)

    def snap(self, lat: float, lon: float) -> tuple[int, float]:
        """(nearest routable node, its great-circle distance in metres) for a point."""
        nodes, metres = self.snap_many([lat], [lon])
        return int(nodes[0]), float(metres[0])

    def snap_many(
        self, lats: npt.ArrayLike, lons: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(nearest routable node, great-circle metres to it) for each point, vectorised."""
        la = np.asarray(lats, dtype=np.float64).ravel()
        lo = np.asarray(lons, dtype=np.float64).ravel()
        if not len(self.routable):
            return np.zeros(len(la), dtype=np.int64), np.full(len(la), np.inf)
        if self._tree is None:
            # Chord length on the unit sphere grows with the great-circle distance, so the
            # nearest node in 3-D is the nearest node on the sphere.
            self._tree = cKDTree(_unit_vectors(self.lats[self.routable], self.lons[self.routable]))
        _, i = self._tree.query(_unit_vectors(la, lo))
        nodes = self.routable[np.asarray(i, dtype=np.int64)]
        return nodes, haversine_m(la, lo, self.lats[nodes], self.lons[nodes])

    def path_m(self, source: int, target: int) -> float:
        """Shortest road distance in metres between two nodes (inf when unreachable)."""
        dist = dijkstra(self.adjacency, directed=True, indices=source)
        return float(dist[target])

    def shortest_m(self, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        """Road distance in metres: walk to the nearest nodes, plus the shortest path between."""
        u, du = self.snap(lat1, lon1)
        v, dv = self.snap(lat2, lon2)
        return du + self.path_m(u, v) + dv

    def distances_from(self, sources: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Shortest distances in metres from each source node to every node (rows = sources)."""
        return np.asarray(
            dijkstra(self.adjacency, directed=True, indices=sources), dtype=np.float64
        )

    def matrix_m(self, lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Road distance matrix in metres between points, each snapped to its nearest node."""
        return self.node_matrix_m(*self.snap_many(lats, lons))

    def node_matrix_m(
        self, nodes: npt.NDArray[np.int64], access_m: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Road distances in metres between snapped points: access + shortest path + access.

        Entries are inf where the graph has no path; the diagonal is zero.
        """
        if not len(nodes):
            return np.zeros((0, 0), dtype=np.float64)
        unique, inverse = np.unique(nodes, return_inverse=True)
        out = self.distances_from(unique)[inverse][:, nodes]
        out += access_m[:, None]
        out += access_m[None, :]
        np.fill_diagonal(out, 0.0)
        return out


def _unit_vectors(lats: npt.ArrayLike, lons: npt.ArrayLike) -> npt.NDArray[np.float64]:
    p = np.radians(np.asarray(lats, dtype=np.float64))
    lam = np.radians(np.asarray(lons, dtype=np.float64))
    return np.column_stack([np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)])


def measure_circuity(
    graph: RoadGraph, n_pairs: int, rng: np.random.Generator, min_geodesic_m: float = 500.0
) -> CircuityStats:
    """Road over geodesic distance for random routable node pairs more than min_geodesic_m apart."""
    nodes = graph.routable
    if len(nodes) < 2 or n_pairs <= 0:
        raise ValueError("the graph has no routable pair of nodes")
    sources: list[int] = []
    targets: list[int] = []
    straight: list[float] = []
    # Draw in vectorised batches and keep the far-enough pairs; bounded so it always ends.
    for _ in range(100):
        if len(sources) >= n_pairs:
            break
        a = rng.choice(nodes, size=4 * n_pairs)
        b = rng.choice(nodes, size=4 * n_pairs)
        rough = haversine_m(graph.lats[a], graph.lons[a], graph.lats[b], graph.lons[b])
        # haversine is within 0.5% of the ellipsoid: pre-filter, then measure exactly.
        for i in np.flatnonzero(rough > min_geodesic_m * 0.99):
            s, t = int(a[i]), int(b[i])
            g = Geodesic.WGS84.Inverse(graph.lats[s], graph.lons[s], graph.lats[t], graph.lons[t])
            if g["s12"] > min_geodesic_m:
                sources.append(s)
                targets.append(t)
                straight.append(float(g["s12"]))
                if len(sources) == n_pairs:
                    break
    if not sources:
        raise ValueError(f"no node pair is more than {min_geodesic_m} m apart")
    src = np.array(sources, dtype=np.int64)
    unique, inverse = np.unique(src, return_inverse=True)
    road = graph.distances_from(unique)[inverse, np.array(targets, dtype=np.int64)]
    ratio = road / np.array(straight)
    return CircuityStats(
        mean=float(ratio.mean()),
        median=float(np.median(ratio)),
        p90=float(np.percentile(ratio, 90)),
        n=len(ratio),
    )


@lru_cache(maxsize=4)
def _load(path: Path) -> RoadGraph:
    return RoadGraph.from_geojson(path)
