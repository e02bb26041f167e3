"""Travel providers: distance and duration matrices from geodesics, a road graph or OSRM.

Every provider satisfies TravelProvider: ``matrices(points, depart_at_minute)`` returns
(metres int64, seconds int32) for (lat, lon) points, square, zero diagonal, rows = origins.
Where a road-based provider has no answer for a pair it uses geodesic x circuity instead, so
a matrix never holds inf or null. ``travel_provider(settings)`` picks one by
``settings.travel_provider``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from postal.errors import TravelProviderUnavailable, ValidationFailed
from postal.geo.matrix import (
    FloatArray,
    Points,
    SpeedProfile,
    TravelModel,
    as_point_array,
    distance_matrix_m,
    seconds_from_metres,
)
from postal.geo.roadgraph import RoadGraph

if TYPE_CHECKING:
    from postal.config import Settings

Matrices = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]


class TravelProvider(Protocol):
    """Anything that turns points into distance (m) and duration (s) matrices."""

    @property
    def name(self) -> str:
        """The provider's name: geodesic, roadgraph or osrm."""
        ...

    def matrices(self, points: Points, depart_at_minute: int | None = None) -> Matrices:
        """(distance in metres int64, duration in seconds int32) for (lat, lon) points."""
        ...


def _geodesic_fill(
    distance_m: FloatArray, missing: npt.NDArray[np.bool_], arr: FloatArray, circuity: float
) -> None:
    """Put geodesic x circuity into the missing entries of distance_m, in place."""
    if missing.any():
        np.copyto(distance_m, distance_matrix_m(arr[:, 0], arr[:, 1], circuity), where=missing)


@dataclass(frozen=True, slots=True)
class RoadGraphProvider:
    """Shortest paths on the locality's road graph; durations at the model's speed.

    Each point is snapped to its nearest node of the graph's largest strongly connected part;
    the great-circle distance of the snap is added at both ends, crow-fly, at the same speed.
    Pairs without a road answer fall back to the model's geodesic x circuity instead of inf:
    a point farther than ``max_snap_m`` from the graph (outside its coverage, or in a part of
    the network not connected to the rest) and any pair the graph has no path for.
    """

    graph: RoadGraph
    model: TravelModel
    max_snap_m: float = 500.0

    @property
    def name(self) -> str:
        """The provider's name in settings and benches."""
        return "roadgraph"

    @classmethod
    def from_settings(cls, settings: Settings) -> RoadGraphProvider:
        """The settings' locality road graph (loaded once per file) and travel model."""
        return cls(
            graph=RoadGraph.load(settings.data_dir, settings.locality),
            model=TravelModel.from_settings(settings),
            max_snap_m=settings.roadgraph_max_snap_m,
        )

    def road_m(self, points: Points) -> FloatArray:
        """Road distances in metres (float64); inf where the graph has no answer."""
        arr = as_point_array(points)
        n = len(arr)
        nodes, access = self.graph.snap_many(arr[:, 0], arr[:, 1])
        out = np.full((n, n), np.inf)
        on = np.flatnonzero(access <= self.max_snap_m)
        if len(on):
            out[np.ix_(on, on)] = self.graph.node_matrix_m(nodes[on], access[on])
        np.fill_diagonal(out, 0.0)
        return out

    def matrices(self, points: Points, depart_at_minute: int | None = None) -> Matrices:
        """(metres int64, seconds int32): road distances, geodesic x circuity where none."""
        arr = as_point_array(points)
        d = self.road_m(arr)
        _geodesic_fill(d, ~np.isfinite(d), arr, self.model.circuity)
        return self.model.from_distances(d, depart_at_minute)


@dataclass(frozen=True, slots=True)
class OsrmProvider:
    """An OSRM server's table service (HTTP GET /table/v1/{profile}/{lon,lat;...}).

    Big matrices are asked for in blocks of at most ``max_table_size`` sources by as many
    destinations (OSRM refuses more than its --max-table-size squared with ``TooBig``).
    OSRM's durations are for its profile's free-flowing speeds: with a SpeedProfile, a
    departure in a slower period stretches them by base speed over the period's speed. Null
    entries (no route) fall back to geodesic x circuity at the model's speed. HTTP errors,
    timeouts and a ``code`` other than ``Ok`` raise TravelProviderUnavailable.
    """

    base_url: str
    model: TravelModel
    profile: str = "driving"
    max_table_size: int = 100
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_table_size < 1:
            raise ValidationFailed(
                "invalid_max_table_size", "max_table_size must be positive.", field="max_table_size"
            )

    @property
    def name(self) -> str:
        """The provider's name in settings and benches."""
        return "osrm"

    @classmethod
    def from_settings(cls, settings: Settings) -> OsrmProvider:
        """The settings' OSRM server, profile, block size and timeout."""
        if not settings.osrm_url:
            raise TravelProviderUnavailable(
                "osrm_url_missing", "POSTAL_OSRM_URL must be set to use the osrm travel provider."
            )
        return cls(
            base_url=settings.osrm_url,
            model=TravelModel.from_settings(settings),
            profile=settings.osrm_profile,
            max_table_size=settings.osrm_max_table_size,
            timeout_s=settings.osrm_timeout_s,
        )

    def table_url(self, arr: FloatArray, sources: range, destinations: range) -> str:
        """The table request for one block of sources by destinations (indices into arr)."""
        same = sources == destinations
        indices = list(sources) if same else [*sources, *destinations]
        coords = ";".join(f"{arr[i, 1]:.6f},{arr[i, 0]:.6f}" for i in indices)
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
        url += "?annotations=distance,duration"
        if not same:
            k = len(sources)
            url += "&sources=" + ";".join(str(i) for i in range(k))
            url += "&destinations=" + ";".join(str(k + j) for j in range(len(destinations)))
        return url

    def _block(
        self, client: httpx.Client, arr: FloatArray, sources: range, destinations: range
    ) -> tuple[FloatArray, FloatArray]:
        url = self.table_url(arr, sources, destinations)
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            raise TravelProviderUnavailable(
                "osrm_unreachable", f"OSRM at {self.base_url} did not answer: {exc!r}"
            ) from exc
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        osrm_code = body.get("code") if isinstance(body, dict) else None
        if response.status_code != 200 or osrm_code != "Ok":
            message = body.get("message", "") if isinstance(body, dict) else response.text[:200]
            raise TravelProviderUnavailable(
                "osrm_failed",
                f"OSRM table request failed: HTTP {response.status_code}, code {osrm_code}: "
                f"{message}",
                http_status=response.status_code,
                osrm_code=osrm_code,
            )
        shape = (len(sources), len(destinations))
        try:
            # None (no route) becomes NaN.
            distances = np.array(body["distances"], dtype=np.float64).reshape(shape)
            durations = np.array(body["durations"], dtype=np.float64).reshape(shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise TravelProviderUnavailable(
                "osrm_bad_response", f"OSRM table response lacks {shape} distances and durations."
            ) from exc
        return distances, durations

    def tables(self, points: Points) -> tuple[FloatArray, FloatArray]:
        """OSRM's (metres, seconds) as float64, NaN where it found no route."""
        arr = as_point_array(points)
        n = len(arr)
        distances = np.full((n, n), np.nan)
        durations = np.full((n, n), np.nan)
        b = self.max_table_size
        blocks = [range(i, min(i + b, n)) for i in range(0, n, b)]
        with httpx.Client(timeout=self.timeout_s) as client:
            for src in blocks:
                for dst in blocks:
                    rows, cols = slice(src.start, src.stop), slice(dst.start, dst.stop)
                    distances[rows, cols], durations[rows, cols] = self._block(
                        client, arr, src, dst
                    )
        return distances, durations

    def matrices(self, points: Points, depart_at_minute: int | None = None) -> Matrices:
        """(metres int64, seconds int32) from OSRM; geodesic x circuity where it has none."""
        arr = as_point_array(points)
        distances, durations = self.tables(arr)
        missing = np.isnan(distances) | np.isnan(durations)
        np.fill_diagonal(missing, False)
        speed = self.model.speed()
        if isinstance(speed, SpeedProfile):
            durations *= speed.base_kmh / speed.speed_at(depart_at_minute)
        if missing.any():
            _geodesic_fill(distances, missing, arr, self.model.circuity)
            fallback_s = seconds_from_metres(distances, speed, depart_at_minute)
            np.copyto(durations, fallback_s, where=missing)
        np.fill_diagonal(distances, 0.0)
        np.fill_diagonal(durations, 0.0)
        np.rint(distances, out=distances)
        np.rint(durations, out=durations)
        return distances.astype(np.int64), durations.astype(np.int32)


def travel_provider(settings: Settings) -> TravelProvider:
    """The provider named by settings.travel_provider (geodesic, roadgraph or osrm)."""
    if settings.travel_provider == "roadgraph":
        return RoadGraphProvider.from_settings(settings)
    if settings.travel_provider == "osrm":
        return OsrmProvider.from_settings(settings)
    return TravelModel.from_settings(settings)
