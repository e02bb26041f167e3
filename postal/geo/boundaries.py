"""Commune boundaries of one locality, from data/<locality>/communes.geojson ([lon, lat])."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, mapping, shape
from shapely.strtree import STRtree

from postal.errors import NotFound

# Rejection sampling draws this many candidates at least per round; the loop is bounded so a
# degenerate polygon fails loudly instead of spinning.
_MIN_BATCH = 64
_MAX_ROUNDS = 200


@dataclass(frozen=True, slots=True)
class Bounds:
    """A bounding box in degrees."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float


class CommuneBoundaries:
    """Polygons of the communes of a locality, with a spatial index for point lookups."""

    def __init__(self, locality: str, features: list[dict[str, Any]]) -> None:
        self.locality = locality
        self._codes: list[str] = [str(f["properties"]["code"]) for f in features]
        self._index = {code: i for i, code in enumerate(self._codes)}
        self._properties = [dict(f["properties"]) for f in features]
        self._geoms = [shape(f["geometry"]) for f in features]
        for geom in self._geoms:
            shapely.prepare(geom)  # prepared geometries make repeated point tests fast
        self._tree = STRtree(self._geoms)

    @classmethod
    def load(cls, data_dir: Path, locality: str) -> CommuneBoundaries:
        """Load (once per directory and locality) data_dir/<locality>/communes.geojson."""
        return _load(Path(data_dir).resolve(), locality)

    def codes(self) -> list[str]:
        """Codes of the communes of the locality, in file order."""
        return list(self._codes)

    def _geom(self, code: str) -> Any:
        try:
            return self._geoms[self._index[code]]
        except KeyError:
            raise NotFound(
                "unknown_commune",
                f"Commune {code!r} is not in locality {self.locality!r}.",
                field="commune_code",
            ) from None

    def contains(self, code: str, lat: float, lon: float) -> bool:
        """True when (lat, lon) lies inside or on the boundary of the commune."""
        return bool(self._geom(code).covers(Point(lon, lat)))

    def locate(self, lat: float, lon: float) -> str | None:
        """Code of the commune covering (lat, lon), or None outside every commune."""
        hits = self._tree.query(Point(lon, lat), predicate="covered_by")
        # On a shared border two communes cover the point; the lower index keeps it stable.
        return self._codes[int(min(hits))] if len(hits) else None

    def bounds(self, code: str) -> Bounds:
        """Bounding box of one commune."""
        min_lon, min_lat, max_lon, max_lat = self._geom(code).bounds
        return Bounds(min_lat, min_lon, max_lat, max_lon)

    def total_bounds(self) -> Bounds:
        """Bounding box of the whole locality."""
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(self._geoms)
        return Bounds(float(min_lat), float(min_lon), float(max_lat), float(max_lon))

    def sample_points(
        self, code: str, n: int, rng: np.random.Generator
    ) -> list[tuple[float, float]]:
        """n points (lat, lon) drawn uniformly inside the commune's polygon."""
        geom = self._geom(code)
        min_lon, min_lat, max_lon, max_lat = geom.bounds
        box_area = (max_lon - min_lon) * (max_lat - min_lat)
        share = geom.area / box_area if box_area > 0 else 0.0
        if n <= 0:
            return []
        if share <= 0:
            raise ValueError(f"commune {code} has an empty polygon")
        lats: list[float] = []
        lons: list[float] = []
        # Uniform in degrees: across one commune cos(latitude) varies by well under 1%, so the
        # density is uniform in area too.
        for _ in range(_MAX_ROUNDS):
            missing = n - len(lats)
            if missing <= 0:
                break
            batch = max(_MIN_BATCH, int(missing / share * 1.2))
            xs = rng.uniform(min_lon, max_lon, batch)
            ys = rng.uniform(min_lat, max_lat, batch)
            inside = shapely.contains_xy(geom, xs, ys)
            lons.extend(xs[inside][:missing].tolist())
            lats.extend(ys[inside][:missing].tolist())
        if len(lats) < n:
            raise ValueError(f"could not sample {n} points inside commune {code}")
        return list(zip(lats, lons, strict=True))

    def properties(self, code: str) -> dict[str, Any]:
        """The feature properties of one commune (code, name, fullName, labelLat, ...)."""
        self._geom(code)
        return dict(self._properties[self._index[code]])

    def geojson(self, code: str) -> dict[str, Any]:
        """One commune as a GeoJSON Feature."""
        geom = self._geom(code)
        return {
            "type": "Feature",
            "properties": self.properties(code),
            "geometry": mapping(geom),
        }


@lru_cache(maxsize=8)
def _load(data_dir: Path, locality: str) -> CommuneBoundaries:
    path = data_dir / locality / "communes.geojson"
    if not path.is_file():
        raise NotFound("unknown_locality", f"No boundaries at {path}.", field="locality")
    collection = json.loads(path.read_text(encoding="utf-8"))
    return CommuneBoundaries(locality, list(collection["features"]))
