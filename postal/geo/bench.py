"""Benchmarks of the geography layer: matrix building time and measured road circuity."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from postal.geo.boundaries import CommuneBoundaries
from postal.geo.matrix import SpeedProfile, TravelModel
from postal.geo.roadgraph import RoadGraph, measure_circuity
from postal.geo.travel import OsrmProvider, RoadGraphProvider, TravelProvider

# The matrix bench times the arithmetic, not these parameters: any sensible values will do.
_BENCH_CIRCUITY = 1.4
_BENCH_SPEED_KMH = 22.0
_RUSH_MINUTE = 8 * 60


def _random_points(
    data_dir: Path, locality: str, n: int, rng: np.random.Generator
) -> np.ndarray[Any, np.dtype[np.float64]]:
    box = CommuneBoundaries.load(data_dir, locality).total_bounds()
    lats = rng.uniform(box.min_lat, box.max_lat, n)
    lons = rng.uniform(box.min_lon, box.max_lon, n)
    return np.column_stack([lats, lons])


def _bench_provider(
    provider: str, data_dir: Path, locality: str, osrm_url: str | None, max_table_size: int
) -> TravelProvider:
    model = TravelModel(_BENCH_CIRCUITY, _BENCH_SPEED_KMH, SpeedProfile.default(_BENCH_SPEED_KMH))
    if provider == "roadgraph":
        return RoadGraphProvider(RoadGraph.load(data_dir, locality), model)
    if provider == "osrm":
        if not osrm_url:
            raise ValueError("the osrm provider needs an OSRM URL")
        return OsrmProvider(osrm_url, model, max_table_size=max_table_size)
    if provider != "geodesic":
        raise ValueError(f"unknown travel provider {provider!r}")
    return model


def bench_matrix(
    points: int,
    repeat: int,
    *,
    data_dir: Path | None = None,
    locality: str = "hanoi",
    seed: int = 0,
    provider: str = "geodesic",
    osrm_url: str | None = None,
    max_table_size: int = 100,
) -> list[dict[str, Any]]:
    """Time a provider's distance+duration matrices for random points of the locality.

    Points are drawn in the locality's bounding box, or in the road graph's for the roadgraph
    provider (outside it every pair would time the geodesic fallback).
    """
    if data_dir is None:
        from postal.config import get_settings

        data_dir = get_settings().data_dir
    rng = np.random.default_rng(seed)
    travel = _bench_provider(provider, data_dir, locality, osrm_url, max_table_size)
    if isinstance(travel, RoadGraphProvider):
        g = travel.graph
        lats = rng.uniform(g.lats.min(), g.lats.max(), points)
        lons = rng.uniform(g.lons.min(), g.lons.max(), points)
        pts = np.column_stack([lats, lons])
    else:
        pts = _random_points(data_dir, locality, points, rng)
    times: list[float] = []
    size_bytes = 0
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        distance, duration = travel.matrices(pts, depart_at_minute=_RUSH_MINUTE)
        times.append(time.perf_counter() - start)
        size_bytes = distance.nbytes + duration.nbytes
    return [
        {
            "provider": travel.name,
            "points": points,
            "repeat": len(times),
            "best_s": round(min(times), 4),
            "median_s": round(statistics.median(times), 4),
            "mb": round(size_bytes / 1e6, 1),
        }
    ]


def bench_circuity(
    data_dir: Path,
    pairs: int,
    *,
    locality: str = "hanoi",
    seed: int = 0,
    min_geodesic_m: float = 500.0,
) -> list[dict[str, Any]]:
    """Measure road/geodesic circuity on the locality's road graph for random node pairs."""
    start = time.perf_counter()
    graph = RoadGraph.load(data_dir, locality)
    loaded = time.perf_counter()
    stats = measure_circuity(graph, pairs, np.random.default_rng(seed), min_geodesic_m)
    done = time.perf_counter()
    return [
        {
            "pairs": stats.n,
            "min_geodesic_m": min_geodesic_m,
            "mean": round(stats.mean, 4),
            "median": round(stats.median, 4),
            "p90": round(stats.p90, 4),
            "nodes": graph.n_nodes,
            "routable_nodes": len(graph.routable),
            "edges": graph.n_edges,
            "load_s": round(loaded - start, 3),
            "measure_s": round(done - loaded, 3),
        }
    ]
