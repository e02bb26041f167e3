"""Commune boundaries: point-in-commune, lookup, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from postal.errors import NotFound
from postal.geo.boundaries import CommuneBoundaries
from postal.geo.gazetteer import Gazetteer

SEA = (20.30, 107.20)  # Gulf of Tonkin, east of Hải Phòng


def test_every_label_point_lies_in_its_own_commune(hanoi: CommuneBoundaries) -> None:
    codes = hanoi.codes()
    assert len(codes) == 126
    for code in codes:
        p = hanoi.properties(code)
        assert hanoi.contains(code, p["labelLat"], p["labelLon"]), code
        assert hanoi.locate(p["labelLat"], p["labelLon"]) == code


def test_boundaries_agree_with_the_gazetteer(
    hanoi: CommuneBoundaries, gazetteer: Gazetteer
) -> None:
    assert sorted(hanoi.codes()) == [c.code for c in gazetteer.communes_of("01")]


def test_a_point_in_the_sea_is_nowhere(hanoi: CommuneBoundaries) -> None:
    assert hanoi.locate(*SEA) is None
    assert not hanoi.contains("00004", *SEA)


def test_a_label_point_is_not_in_a_neighbour(hanoi: CommuneBoundaries) -> None:
    ba_dinh = hanoi.properties("00004")
    assert not hanoi.contains("00070", ba_dinh["labelLat"], ba_dinh["labelLon"])


def test_bounds_enclose_the_commune(hanoi: CommuneBoundaries) -> None:
    b = hanoi.bounds("00070")
    p = hanoi.properties("00070")
    assert b.min_lat < p["labelLat"] < b.max_lat
    assert b.min_lon < p["labelLon"] < b.max_lon
    whole = hanoi.total_bounds()
    assert whole.min_lat <= b.min_lat and b.max_lon <= whole.max_lon


def test_sample_points_fall_inside_and_are_reproducible(hanoi: CommuneBoundaries) -> None:
    points = hanoi.sample_points("00070", 300, np.random.default_rng(7))
    assert len(points) == 300
    assert all(hanoi.contains("00070", lat, lon) for lat, lon in points)
    assert points == hanoi.sample_points("00070", 300, np.random.default_rng(7))
    assert len(set(points)) == 300
    assert hanoi.sample_points("00070", 0, np.random.default_rng(7)) == []


def test_sample_points_spread_over_the_polygon(hanoi: CommuneBoundaries) -> None:
    b = hanoi.bounds("00004")
    points = np.array(hanoi.sample_points("00004", 2000, np.random.default_rng(1)))
    # Uniform sampling reaches near every edge of the bounding box, not just the centre.
    assert points[:, 0].min() < b.min_lat + 0.1 * (b.max_lat - b.min_lat)
    assert points[:, 0].max() > b.max_lat - 0.1 * (b.max_lat - b.min_lat)


def test_geojson_feature(hanoi: CommuneBoundaries) -> None:
    feature = hanoi.geojson("00004")
    assert feature["type"] == "Feature"
    assert feature["properties"]["code"] == "00004"
    assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_unknown_code_and_locality(hanoi: CommuneBoundaries, data_dir: object) -> None:
    with pytest.raises(NotFound) as exc:
        hanoi.contains("26734", 10.77, 106.70)  # a Hồ Chí Minh City ward
    assert exc.value.code == "unknown_commune"
    with pytest.raises(NotFound):
        CommuneBoundaries.load(data_dir, "atlantis")  # type: ignore[arg-type]
