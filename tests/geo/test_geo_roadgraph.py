"""Road graph: one-way streets, motorbike rules, shortest paths, measured circuity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from postal.geo.matrix import geodesic_m
from postal.geo.roadgraph import ANY_VEHICLE, MOTORCYCLE, RoadGraph, measure_circuity
from tests.geo.helpers import node_feature, way_feature

# Three nodes on a line of latitude, about 104 m apart (0.001 degree of longitude at 21° N).
NODES = {1: (21.0, 105.800), 2: (21.0, 105.801), 3: (21.0, 105.802)}


def _node(i: int) -> dict[str, Any]:
    return node_feature(NODES, i)


def _way(src: int, tgt: int, **tags: str) -> dict[str, Any]:
    return way_feature(NODES, src, tgt, **tags)


def _graph(*ways: dict[str, Any], vehicle: str = MOTORCYCLE) -> RoadGraph:
    return RoadGraph.from_features([_node(i) for i in NODES] + list(ways), vehicle)


def _length(a: int, b: int) -> float:
    return geodesic_m(*NODES[a], *NODES[b])


def test_one_way_street_is_respected() -> None:
    # 1 -> 2 is one-way; going back must take the long way round through 3.
    g = _graph(_way(1, 2, oneway="yes"), _way(2, 3), _way(3, 1))
    assert g.path_m(0, 1) == pytest.approx(_length(1, 2))
    assert g.path_m(1, 0) == pytest.approx(_length(2, 3) + _length(3, 1))


def test_reverse_one_way_and_roundabout() -> None:
    # 1-2 may be ridden only from 2 to 1, and 3-2 only from 3 to 2.
    g = _graph(_way(1, 2, oneway="-1"), _way(3, 2, junction="roundabout"), _way(3, 1))
    assert g.path_m(1, 0) == pytest.approx(_length(1, 2))
    assert g.path_m(0, 1) == pytest.approx(_length(1, 3) + _length(3, 2))
    assert g.path_m(1, 2) == pytest.approx(_length(2, 1) + _length(1, 3))


def test_motorbikes_may_ride_against_oneway_when_tagged() -> None:
    ways = (_way(1, 2, oneway="yes", **{"oneway:motorcycle": "no"}), _way(2, 3), _way(3, 1))
    by_motorbike = _graph(*ways)
    by_car = _graph(*ways, vehicle=ANY_VEHICLE)
    assert by_motorbike.path_m(1, 0) == pytest.approx(_length(1, 2))
    assert by_car.path_m(1, 0) > by_motorbike.path_m(1, 0)


def test_motorbikes_stay_off_footways() -> None:
    ways = (_way(1, 2, highway="footway"), _way(2, 3), _way(3, 1))
    assert _graph(*ways).path_m(0, 1) == pytest.approx(_length(1, 3) + _length(3, 2))
    assert _graph(*ways, vehicle=ANY_VEHICLE).path_m(0, 1) == pytest.approx(_length(1, 2))


def test_unreachable_node_is_infinitely_far_and_never_snapped_to() -> None:
    g = _graph(_way(1, 2))
    assert g.path_m(0, 2) == float("inf")
    assert sorted(g.routable.tolist()) == [0, 1]
    assert g.snap(*NODES[3])[0] == 1


def test_shortest_between_points_adds_the_walk_to_the_nodes() -> None:
    g = _graph(_way(1, 2), _way(2, 3))
    lat, lon = NODES[1]
    d = g.shortest_m(lat + 0.0001, lon, *NODES[3])
    assert d == pytest.approx(_length(1, 2) + _length(2, 3) + 11.06, rel=1e-3)


def test_matrix_follows_one_way_streets() -> None:
    g = _graph(_way(1, 2, oneway="yes"), _way(2, 3), _way(3, 1))
    lats = [NODES[i][0] for i in (1, 2)]
    lons = [NODES[i][1] for i in (1, 2)]
    m = g.matrix_m(lats, lons)
    assert m[0, 0] == m[1, 1] == 0.0
    assert m[0, 1] == pytest.approx(_length(1, 2))
    assert m[1, 0] == pytest.approx(_length(2, 3) + _length(3, 1))


@pytest.fixture(scope="module")
def hanoi_roads(data_dir: Path) -> RoadGraph:
    """The 2023 OSM road graph of central Hà Nội."""
    return RoadGraph.load(data_dir)


def test_real_graph_paths_are_never_shorter_than_the_geodesic(hanoi_roads: RoadGraph) -> None:
    rng = np.random.default_rng(5)
    nodes = rng.choice(hanoi_roads.routable, size=(20, 2))
    for a, b in nodes:
        la, lo = hanoi_roads.lats[a], hanoi_roads.lons[a]
        lb, lob = hanoi_roads.lats[b], hanoi_roads.lons[b]
        assert hanoi_roads.shortest_m(la, lo, lb, lob) >= geodesic_m(la, lo, lb, lob) - 1e-6


def test_measured_circuity_is_above_one(hanoi_roads: RoadGraph) -> None:
    stats = measure_circuity(hanoi_roads, 300, np.random.default_rng(0))
    assert stats.n == 300
    assert 1.0 < stats.median <= stats.p90
    assert 1.1 < stats.mean < 2.0


def test_circuity_needs_pairs_far_enough_apart(hanoi_roads: RoadGraph) -> None:
    with pytest.raises(ValueError):
        measure_circuity(hanoi_roads, 10, np.random.default_rng(0), min_geodesic_m=50_000)
