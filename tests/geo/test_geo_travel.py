"""Travel providers: road-graph matrices on a hand-made graph and on Hà Nội's, the factory."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
from typer.testing import CliRunner

from postal.config import Settings
from postal.geo.bench import bench_matrix
from postal.geo.cli import app
from postal.geo.matrix import (
    SpeedProfile,
    TravelModel,
    geodesic_m,
    great_circle_matrix_m,
    haversine_m,
)
from postal.geo.roadgraph import RoadGraph
from postal.geo.travel import (
    OsrmProvider,
    RoadGraphProvider,
    TravelProvider,
    TravelProviderUnavailable,
    travel_provider,
)
from tests.geo.helpers import node_feature, way_feature

# A square of four nodes about 104 m (east-west) by 111 m (north-south) at 21° N, and an
# island of two nodes 2.2 km north that no road joins to the square.
NODES = {
    1: (21.000, 105.800),
    2: (21.000, 105.801),
    3: (21.001, 105.801),
    4: (21.001, 105.800),
    5: (21.020, 105.800),
    6: (21.020, 105.801),
}
# 10 m/s, so seconds are a tenth of the metres.
MODEL = TravelModel(circuity=1.3, speed_kmh=36.0)


def _node(i: int) -> dict[str, Any]:
    return node_feature(NODES, i)


def _way(src: int, tgt: int, **tags: str) -> dict[str, Any]:
    return way_feature(NODES, src, tgt, **tags)


def _length(*nodes: int) -> float:
    return sum(geodesic_m(*NODES[a], *NODES[b]) for a, b in itertools.pairwise(nodes))


@pytest.fixture(scope="module")
def square() -> RoadGraphProvider:
    """The square with 1 -> 2 one-way (back from 2 to 1 goes round by 3 and 4), the island."""
    ways = [_way(1, 2, oneway="yes"), _way(2, 3), _way(3, 4), _way(4, 1), _way(5, 6)]
    graph = RoadGraph.from_features([_node(i) for i in NODES] + ways)
    return RoadGraphProvider(graph, MODEL, max_snap_m=500.0)


def test_roadgraph_shortest_paths_follow_one_way_streets(square: RoadGraphProvider) -> None:
    points = [NODES[1], NODES[2], NODES[3]]
    road = square.road_m(points)
    assert np.diag(road).tolist() == [0.0, 0.0, 0.0]
    assert road[0, 1] == pytest.approx(_length(1, 2))
    assert road[1, 0] == pytest.approx(_length(2, 3, 4, 1))
    assert road[0, 2] == pytest.approx(min(_length(1, 2, 3), _length(1, 4, 3)))
    assert road[1, 2] == pytest.approx(_length(2, 3))

    metres, seconds = square.matrices(points)
    assert metres.dtype == np.int64 and seconds.dtype == np.int32
    assert metres[1, 0] == round(_length(2, 3, 4, 1))
    # 36 km/h is 10 m/s.
    assert seconds[1, 0] == round(_length(2, 3, 4, 1) / 10.0)
    assert seconds[0, 1] == round(_length(1, 2) / 10.0)


def test_roadgraph_adds_the_snap_at_both_ends(square: RoadGraphProvider) -> None:
    lat, lon = NODES[1]
    off = (lat - 0.0001, lon)  # 11.06 m south of node 1
    road = square.road_m([off, NODES[2], (NODES[3][0] + 0.0001, NODES[3][1])])
    assert road[0, 1] == pytest.approx(11.06 + _length(1, 2), rel=1e-3)
    assert road[1, 0] == pytest.approx(_length(2, 3, 4, 1) + 11.06, rel=1e-3)
    path = min(_length(1, 2, 3), _length(1, 4, 3))
    assert road[0, 2] == pytest.approx(11.06 + path + 11.06, rel=1e-3)


def test_roadgraph_durations_use_the_speed_profile(square: RoadGraphProvider) -> None:
    rush = RoadGraphProvider(square.graph, TravelModel(1.3, 36.0, SpeedProfile.default(36.0, 0.5)))
    points = [NODES[1], NODES[2]]
    _, calm = rush.matrices(points, depart_at_minute=12 * 60)
    _, slow = rush.matrices(points, depart_at_minute=8 * 60)
    assert calm[0, 1] == round(_length(1, 2) / 10.0)
    assert slow[0, 1] == round(_length(1, 2) / 5.0)


def test_roadgraph_disconnected_island_falls_back_to_geodesic(square: RoadGraphProvider) -> None:
    # The island is not connected to the square: its point would snap 2.1 km away to node 4,
    # past max_snap_m, so its pairs are geodesic x circuity rather than inf or a detour.
    points = np.array([NODES[1], NODES[2], NODES[5], NODES[6]])
    road = square.road_m(points)
    assert np.isinf(road[2, :2]).all() and np.isinf(road[:2, 2]).all()
    assert np.isinf(road[2, 3]) and road[2, 2] == 0.0

    metres, seconds = square.matrices(points)
    geodesic = great_circle_matrix_m(points[:, 0], points[:, 1]) * MODEL.circuity
    for i, j in [(0, 2), (2, 0), (1, 3), (2, 3), (3, 2)]:
        assert metres[i, j] == round(geodesic[i, j])
        assert seconds[i, j] == round(geodesic[i, j] / 10.0)
    assert metres[0, 1] == round(_length(1, 2))  # on-graph pairs keep their road distance
    assert np.diag(metres).tolist() == [0, 0, 0, 0]


def test_roadgraph_with_a_wide_snap_routes_the_island_point_by_road(
    square: RoadGraphProvider,
) -> None:
    wide = RoadGraphProvider(square.graph, MODEL, max_snap_m=5_000.0)
    road = wide.road_m([NODES[5], NODES[3]])
    # The snap is measured on the sphere, the road on the ellipsoid.
    snap = float(haversine_m(*NODES[5], *NODES[4]))
    assert road[0, 1] == pytest.approx(snap + _length(4, 3))


def test_roadgraph_empty_and_single_point(square: RoadGraphProvider) -> None:
    metres, seconds = square.matrices(np.zeros((0, 2)))
    assert metres.shape == seconds.shape == (0, 0)
    metres, _ = square.matrices([NODES[3]])
    assert metres.tolist() == [[0]]


@pytest.fixture(scope="module")
def hanoi_provider(data_dir: Path) -> RoadGraphProvider:
    """The provider over the real 2023 OSM road graph of central Hà Nội."""
    return RoadGraphProvider(RoadGraph.load(data_dir), TravelModel(1.4, 22.0))


def test_real_graph_road_distance_is_never_shorter_than_geodesic(
    hanoi_provider: RoadGraphProvider,
) -> None:
    g = hanoi_provider.graph
    rng = np.random.default_rng(11)
    lats = rng.uniform(g.lats.min(), g.lats.max(), 60)
    lons = rng.uniform(g.lons.min(), g.lons.max(), 60)
    points = np.column_stack([lats, lons])
    road = hanoi_provider.road_m(points)
    answered = np.isfinite(road)
    assert answered.mean() > 0.5  # most of the graph's box is within reach of a road
    straight = great_circle_matrix_m(lats, lons)
    # Haversine is within 0.5% of the ellipsoid the edge lengths are measured on.
    assert (road[answered] >= straight[answered] * 0.995 - 1e-6).all()
    for i, j in rng.integers(0, 60, size=(10, 2)):
        if answered[i, j] and i != j:
            assert road[i, j] >= geodesic_m(lats[i], lons[i], lats[j], lons[j]) * 0.995

    metres, seconds = hanoi_provider.matrices(points)
    assert (metres >= np.rint(straight * 0.995) - 1).all()
    assert (seconds >= 0).all() and (np.diag(metres) == 0).all()
    # Off-graph pairs are exactly the geodesic fallback.
    fallback = np.rint(straight * 1.4)
    assert (metres[~answered] == fallback[~answered]).all()


def test_factory_picks_the_provider_by_settings(data_dir: Path) -> None:
    geodesic = travel_provider(Settings(circuity_factor=1.5))
    assert isinstance(geodesic, TravelModel) and geodesic.name == "geodesic"
    assert geodesic.circuity == 1.5

    road = travel_provider(Settings(travel_provider="roadgraph", data_dir=data_dir))
    assert isinstance(road, RoadGraphProvider) and road.name == "roadgraph"
    again = travel_provider(Settings(travel_provider="roadgraph", data_dir=data_dir))
    assert isinstance(again, RoadGraphProvider) and again.graph is road.graph  # loaded once

    settings = Settings(travel_provider="osrm", osrm_url="http://127.0.0.1:5000/")
    osrm = travel_provider(settings)
    assert isinstance(osrm, OsrmProvider) and osrm.name == "osrm"
    assert (osrm.profile, osrm.max_table_size) == ("driving", 100)


def test_factory_reads_the_environment_when_settings_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTAL_TRAVEL_PROVIDER", "osrm")
    monkeypatch.setenv("POSTAL_OSRM_URL", "http://osrm.internal:5000")
    monkeypatch.setenv("POSTAL_OSRM_PROFILE", "motorbike")
    provider: TravelProvider = travel_provider(Settings())
    assert isinstance(provider, OsrmProvider)
    assert (provider.base_url, provider.profile) == ("http://osrm.internal:5000", "motorbike")


def test_factory_refuses_osrm_without_url_and_unknown_providers() -> None:
    with pytest.raises(TravelProviderUnavailable) as caught:
        travel_provider(Settings(travel_provider="osrm"))
    assert caught.value.code == "osrm_url_missing"
    with pytest.raises(pydantic.ValidationError):
        Settings(travel_provider="teleport")


def test_bench_matrix_times_the_roadgraph_provider(data_dir: Path, tmp_path: Path) -> None:
    [row] = bench_matrix(40, 1, data_dir=data_dir, provider="roadgraph")
    assert row["provider"] == "roadgraph" and row["points"] == 40
    args = ["matrix", "--points", "30", "--repeat", "1", "--provider", "roadgraph"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "roadgraph" in (tmp_path / "matrix.csv").read_text()


def test_bench_matrix_osrm_needs_a_url(data_dir: Path) -> None:
    args = ["matrix", "--points", "5", "--provider", "osrm", "--data-dir", str(data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "osrm-url" in result.output
