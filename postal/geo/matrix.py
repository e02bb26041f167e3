"""Distance and travel-time matrices from coordinates: great-circle x circuity / speed.

Everything over pairs is vectorised numpy; the only per-pair Python code is geodesic_m, which
is meant for single pairs and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from geopy.distance import geodesic

from postal.errors import ValidationFailed

if TYPE_CHECKING:
    from postal.config import Settings

# IUGG mean Earth radius: the sphere that best fits the WGS84 ellipsoid on average.
EARTH_RADIUS_M = 6_371_008.8
MINUTES_PER_DAY = 24 * 60

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
# (lat, lon) pairs in degrees: a list of tuples or an (n, 2) array.
Points = Sequence[tuple[float, float]] | npt.NDArray[np.float64]


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> FloatArray:
    """Great-circle distance in metres between broadcastable arrays of degrees."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    h = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def geodesic_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in metres on the WGS84 ellipsoid (Karney's method), for single pairs."""
    return float(geodesic((lat1, lon1), (lat2, lon2)).meters)


def _as_points(lats: ArrayLike, lons: ArrayLike) -> tuple[FloatArray, FloatArray]:
    la = np.asarray(lats, dtype=np.float64).ravel()
    lo = np.asarray(lons, dtype=np.float64).ravel()
    if la.shape != lo.shape:
        raise ValidationFailed("coordinates_mismatch", "lats and lons differ in length.")
    return la, lo


def great_circle_matrix_m(lats: ArrayLike, lons: ArrayLike) -> FloatArray:
    """Square matrix of great-circle distances in metres (float64, exact zero diagonal)."""
    la, lo = _as_points(lats, lons)
    p, lam = np.radians(la), np.radians(lo)
    sp, cp = np.sin(p / 2.0), np.cos(p / 2.0)
    sl, cl = np.sin(lam / 2.0), np.cos(lam / 2.0)
    cos_lat = np.cos(p)
    # sin((a-b)/2) = sin(a/2)cos(b/2) - cos(a/2)sin(b/2): the trigonometry is done once per
    # point, so the n x n work is multiplications only (about 4x faster than plain haversine).
    h = np.multiply.outer(sp, cp)
    h -= np.multiply.outer(cp, sp)
    np.square(h, out=h)
    dl = np.multiply.outer(sl, cl)
    dl -= np.multiply.outer(cl, sl)
    np.square(dl, out=dl)
    dl *= np.multiply.outer(cos_lat, cos_lat)
    h += dl
    np.clip(h, 0.0, 1.0, out=h)
    np.sqrt(h, out=h)
    np.arcsin(h, out=h)
    h *= 2.0 * EARTH_RADIUS_M
    np.fill_diagonal(h, 0.0)
    return h


def distance_matrix_m(lats: ArrayLike, lons: ArrayLike, circuity: float) -> FloatArray:
    """Estimated road distances in metres (float64): great-circle distance times circuity."""
    if circuity < 1.0:
        raise ValidationFailed("invalid_circuity", "circuity must be at least 1.", field="circuity")
    d = great_circle_matrix_m(lats, lons)
    d *= circuity
    return d


@dataclass(frozen=True, slots=True)
class SpeedPeriod:
    """A speed for minutes [start_minute, end_minute) of the local day."""

    start_minute: int
    end_minute: int
    speed_kmh: float


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Courier speed by period of the local day; base_kmh outside every listed period."""

    base_kmh: float
    periods: tuple[SpeedPeriod, ...] = field(default=())

    def __post_init__(self) -> None:
        for s in (self.base_kmh, *(p.speed_kmh for p in self.periods)):
            if s <= 0:
                raise ValidationFailed("invalid_speed", "speeds must be positive.", field="speed")
        for p in self.periods:
            if not 0 <= p.start_minute < p.end_minute <= MINUTES_PER_DAY:
                raise ValidationFailed("invalid_period", f"bad period {p}.", field="periods")

    @classmethod
    def default(cls, base_kmh: float = 22.0, rush_factor: float = 0.65) -> SpeedProfile:
        """Base speed, slowed by rush_factor in the rush hours 07:00-09:00 and 16:30-19:00."""
        rush = base_kmh * rush_factor
        return cls(
            base_kmh=base_kmh,
            periods=(SpeedPeriod(7 * 60, 9 * 60, rush), SpeedPeriod(16 * 60 + 30, 19 * 60, rush)),
        )

    def speed_at(self, minute: int | None) -> float:
        """Speed in km/h for a departure at this minute of the day (base when None)."""
        if minute is None:
            return self.base_kmh
        m = minute % MINUTES_PER_DAY
        for p in self.periods:
            if p.start_minute <= m < p.end_minute:
                return p.speed_kmh
        return self.base_kmh


def _speed_kmh(speed: float | SpeedProfile, depart_at_minute: int | None) -> float:
    kmh = speed.speed_at(depart_at_minute) if isinstance(speed, SpeedProfile) else float(speed)
    if kmh <= 0:
        raise ValidationFailed("invalid_speed", "speed must be positive.", field="speed")
    return kmh


def seconds_from_metres(
    distance_m: FloatArray, speed: float | SpeedProfile, depart_at_minute: int | None = None
) -> npt.NDArray[np.int32]:
    """Travel times in whole seconds (int32, rounded) for distances at a speed or profile."""
    seconds_per_metre = 3.6 / _speed_kmh(speed, depart_at_minute)
    # float32 is plenty for seconds (a day is 86,400 s) and halves the memory traffic.
    t = distance_m.astype(np.float32)
    t *= np.float32(seconds_per_metre)
    np.rint(t, out=t)
    return t.astype(np.int32)


def duration_matrix_s(
    lats: ArrayLike,
    lons: ArrayLike,
    circuity: float,
    speed: float | SpeedProfile,
    depart_at_minute: int | None = None,
) -> npt.NDArray[np.int32]:
    """Travel times in seconds (int32): road distance over the speed at the departure minute.

    With a profile, the whole matrix uses the speed of the period containing depart_at_minute
    (the base speed when it is None); a trip is not split across periods.
    """
    return seconds_from_metres(distance_matrix_m(lats, lons, circuity), speed, depart_at_minute)


@dataclass(frozen=True, slots=True)
class TravelModel:
    """How couriers move: circuity over great-circle distance and speed (or a profile).

    It is the "geodesic" travel provider (postal.geo.travel.TravelProvider).
    """

    circuity: float
    speed_kmh: float
    profile: SpeedProfile | None = None

    @property
    def name(self) -> str:
        """The provider's name in settings and benches."""
        return "geodesic"

    @classmethod
    def from_settings(cls, settings: Settings, rush_factor: float = 0.65) -> TravelModel:
        """The settings' circuity and speed, with the default rush-hour profile."""
        return cls(
            circuity=settings.circuity_factor,
            speed_kmh=settings.speed_kmh,
            profile=SpeedProfile.default(settings.speed_kmh, rush_factor),
        )

    def speed(self) -> float | SpeedProfile:
        """The profile when one is set, else the constant speed."""
        return self.profile if self.profile is not None else self.speed_kmh

    def matrices(
        self, points: Points, depart_at_minute: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """(distance in metres int64, duration in seconds int32) for (lat, lon) points."""
        arr = as_point_array(points)
        d = distance_matrix_m(arr[:, 0], arr[:, 1], self.circuity)
        return self.from_distances(d, depart_at_minute)

    def from_distances(
        self, distance_m: FloatArray, depart_at_minute: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """(rounded metres int64, seconds int32) for a float distance matrix (reused in place)."""
        seconds = seconds_from_metres(distance_m, self.speed(), depart_at_minute)
        np.rint(distance_m, out=distance_m)
        return distance_m.astype(np.int64), seconds


def as_point_array(points: Points) -> FloatArray:
    """The (lat, lon) points as an (n, 2) float64 array."""
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)
