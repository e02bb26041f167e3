"""Distance and duration matrices against the ellipsoid and against hand arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from postal.config import Settings
from postal.errors import ValidationFailed
from postal.geo.matrix import (
    EARTH_RADIUS_M,
    SpeedPeriod,
    SpeedProfile,
    TravelModel,
    distance_matrix_m,
    duration_matrix_s,
    geodesic_m,
    great_circle_matrix_m,
    haversine_m,
)

# Hà Nội's extent, roughly: the sample area for random points.
LAT = (20.56, 21.39)
LON = (105.28, 106.02)


def _points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(*LAT, n), rng.uniform(*LON, n)


def test_haversine_of_one_degree_of_latitude() -> None:
    assert haversine_m(21.0, 105.8, 22.0, 105.8) == pytest.approx(EARTH_RADIUS_M * math.pi / 180)
    assert haversine_m(21.0, 105.8, 21.0, 105.8) == 0.0


def test_matrix_equals_pairwise_haversine() -> None:
    lats, lons = _points(60)
    expected = haversine_m(lats[:, None], lons[:, None], lats[None, :], lons[None, :])
    np.testing.assert_allclose(great_circle_matrix_m(lats, lons), expected, rtol=1e-9, atol=1e-6)


def test_matrix_is_symmetric_with_zero_diagonal() -> None:
    lats, lons = _points(200)
    d = distance_matrix_m(lats, lons, 1.4)
    assert d.dtype == np.float64 and d.shape == (200, 200)
    assert np.array_equal(d, d.T)
    assert not np.diagonal(d).any()
    assert (d[~np.eye(200, dtype=bool)] > 0).all()


def test_haversine_is_within_half_a_percent_of_the_geodesic() -> None:
    lats, lons = _points(41, seed=3)
    d = great_circle_matrix_m(lats, lons)
    for i in range(40):
        exact = geodesic_m(lats[i], lons[i], lats[i + 1], lons[i + 1])
        assert abs(d[i, i + 1] / exact - 1) < 0.005


def test_geodesic_of_a_known_pair() -> None:
    # Hoàn Kiếm lake to Ba Đình square: about 2.1 km.
    assert geodesic_m(21.0287, 105.8524, 21.0368, 105.8347) == pytest.approx(2070, rel=0.02)


def test_circuity_scales_distances_and_must_be_at_least_one() -> None:
    lats, lons = _points(30)
    np.testing.assert_allclose(
        distance_matrix_m(lats, lons, 1.5), 1.5 * great_circle_matrix_m(lats, lons)
    )
    with pytest.raises(ValidationFailed):
        distance_matrix_m(lats, lons, 0.9)


def test_duration_by_hand() -> None:
    # Two points 1 degree of longitude apart on the equator; 36 km/h is 10 m/s.
    metres = EARTH_RADIUS_M * math.pi / 180
    t = duration_matrix_s([0.0, 0.0], [0.0, 1.0], 1.0, 36.0)
    assert t.dtype == np.int32
    assert t[0, 1] == t[1, 0] == round(metres / 10)
    assert t[0, 0] == 0


def test_speed_profile_periods() -> None:
    profile = SpeedProfile.default(base_kmh=20.0, rush_factor=0.5)
    assert profile.speed_at(None) == 20.0
    assert profile.speed_at(6 * 60 + 59) == 20.0
    assert profile.speed_at(7 * 60) == 10.0
    assert profile.speed_at(9 * 60) == 20.0
    assert profile.speed_at(17 * 60) == 10.0
    assert profile.speed_at(19 * 60) == 20.0
    custom = SpeedProfile(30.0, (SpeedPeriod(0, 60, 60.0),))
    assert custom.speed_at(30) == 60.0
    with pytest.raises(ValidationFailed):
        SpeedProfile(30.0, (SpeedPeriod(600, 500, 10.0),))
    with pytest.raises(ValidationFailed):
        SpeedProfile(0.0)


def test_rush_hour_trips_take_longer() -> None:
    lats, lons = _points(50)
    profile = SpeedProfile.default(base_kmh=22.0)
    off_peak = duration_matrix_s(lats, lons, 1.4, profile, depart_at_minute=11 * 60)
    rush = duration_matrix_s(lats, lons, 1.4, profile, depart_at_minute=8 * 60)
    off_diag = ~np.eye(50, dtype=bool)
    assert (rush[off_diag] > off_peak[off_diag]).all()
    np.testing.assert_array_equal(off_peak, duration_matrix_s(lats, lons, 1.4, 22.0))


def test_travel_model_matrices() -> None:
    lats, lons = _points(80)
    model = TravelModel(circuity=1.4, speed_kmh=18.0)
    distance, duration = model.matrices(np.column_stack([lats, lons]))
    assert distance.dtype == np.int64 and duration.dtype == np.int32
    assert distance.shape == duration.shape == (80, 80)
    expected = distance_matrix_m(lats, lons, 1.4)
    assert np.abs(distance - expected).max() <= 0.5
    np.testing.assert_allclose(duration, expected / (18.0 / 3.6), atol=1.0)
    listed = model.matrices(list(zip(lats.tolist(), lons.tolist(), strict=True)))
    np.testing.assert_array_equal(listed[0], distance)


def test_mismatched_coordinates_are_rejected() -> None:
    with pytest.raises(ValidationFailed):
        great_circle_matrix_m([21.0, 21.1], [105.8])


def test_travel_model_from_settings() -> None:
    model = TravelModel.from_settings(Settings(circuity_factor=1.5, speed_kmh=30.0))
    assert (model.circuity, model.speed_kmh) == (1.5, 30.0)
    assert model.profile is not None and model.profile.speed_at(8 * 60) < 30.0
