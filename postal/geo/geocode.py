"""Geocoders: addresses to coordinates, offline (commune label points) or through Nominatim."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from postal.geo.gazetteer import Commune, Gazetteer
from postal.geo.text import fold, unit_type

if TYPE_CHECKING:
    from postal.config import Settings

log = logging.getLogger(__name__)

SOURCE_OFFLINE = "commune_label"
SOURCE_NOMINATIM = "nominatim"
_COMMUNE_TYPES = frozenset({"phuong", "xa", "thi tran", "dac khu"})


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """Where an address is; approximate when only its commune could be placed."""

    lat: float
    lon: float
    display_name: str
    source: str
    approximate: bool


class Geocoder(Protocol):
    """Anything that turns an address (and optionally its known commune) into a point."""

    def geocode(self, address: str, commune: Commune | None) -> GeocodeResult | None:
        """Place the address, or None when it cannot be placed."""
        ...


class OfflineGeocoder:
    """Places an address at its commune's label point: no network, always approximate."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self._gazetteer = gazetteer

    def _commune_in(self, address: str) -> Commune | None:
        """The one commune an address names, new or pre-2025; None when unsure."""
        parts = [p.strip() for p in address.split(",") if p.strip()]
        province_code: str | None = None
        rest: list[str] = []
        # Vietnamese addresses run from the house to the province: read them from the end.
        for part in reversed(parts):
            kind = unit_type(part)
            if province_code is None and kind not in _COMMUNE_TYPES:
                province = self._gazetteer.find_province(part)
                if province is not None:
                    province_code = province.code
                    continue
            rest.append(part)
        # Old districts (quận, huyện) no longer exist and share names with new wards.
        typed = [p for p in rest if unit_type(p) in _COMMUNE_TYPES]
        untyped = [p for p in rest if unit_type(p) is None]
        for part in typed + untyped:
            found = self._gazetteer.exact(part, province_code) or [
                c
                for c in self._gazetteer.resolve_old(part)
                if province_code is None or c.province_code == province_code
            ]
            if len(found) == 1:
                return found[0]
        return None

    def geocode(self, address: str, commune: Commune | None) -> GeocodeResult | None:
        """The label point of the given commune, or of the one the address names."""
        found = commune or self._commune_in(address)
        if found is None:
            return None
        return GeocodeResult(
            lat=found.label_lat,
            lon=found.label_lon,
            display_name=found.full_name,
            source=SOURCE_OFFLINE,
            approximate=True,
        )


class GeocodeCache:
    """Results by folded query, in memory and optionally in a JSON file that survives restarts."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any] | None] = {}
        if path is not None and path.is_file():
            try:
                self._entries = dict(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError) as exc:
                # A damaged cache only costs requests; it must not stop the service.
                log.warning("ignoring unreadable geocode cache %s: %s", path, exc)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> GeocodeResult | None:
        """The cached result (None for a cached miss or an absent key)."""
        entry = self._entries.get(key)
        return GeocodeResult(**entry) if entry is not None else None

    def put(self, key: str, result: GeocodeResult | None) -> None:
        """Remember a result, or a miss, and write the file when there is one."""
        with self._lock:
            self._entries[key] = asdict(result) if result is not None else None
            if self._path is not None:
                self._write(self._path)

    def _write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves half a cache file behind.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self._entries, f, ensure_ascii=False, indent=0, sort_keys=True)
        os.replace(tmp, path)


class NominatimGeocoder:
    """Geocodes through a Nominatim server (bounded to Vietnam), rate-limited and cached."""

    def __init__(
        self,
        url: str,
        user_agent: str,
        cache_path: Path | None = None,
        *,
        gazetteer: Gazetteer | None = None,
        min_delay_seconds: float = 1.0,
        max_retries: int = 2,
        timeout: float = 10.0,
        language: str = "vi",
    ) -> None:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        domain = (parts.netloc + parts.path).rstrip("/")
        self._nominatim = Nominatim(
            user_agent=user_agent, domain=domain, scheme=parts.scheme, timeout=timeout
        )
        # The public server's policy is one request a second; the limiter also retries errors.
        self._limited: Callable[..., Any] = RateLimiter(
            self._nominatim.geocode,
            min_delay_seconds=min_delay_seconds,
            max_retries=max_retries,
            error_wait_seconds=min_delay_seconds,
            swallow_exceptions=False,
        )
        self._gazetteer = gazetteer
        self._language = language
        self.cache = GeocodeCache(cache_path)

    def query_for(self, address: str, commune: Commune | None) -> str:
        """The text sent to Nominatim: the address, completed with its commune and province."""
        parts = [address.strip()]
        if commune is not None:
            context = [commune.full_name]
            if self._gazetteer is not None:
                context.append(self._gazetteer.province(commune.province_code).full_name)
            parts += [c for c in context if fold(c) not in fold(address)]
        return ", ".join(p for p in parts if p)

    def geocode(self, address: str, commune: Commune | None) -> GeocodeResult | None:
        """Place the address; a repeated query is answered from the cache without a request."""
        query = self.query_for(address, commune)
        key = fold(query)
        if not key:
            return None
        if key in self.cache:
            return self.cache.get(key)
        try:
            location = self._limited(
                query, exactly_one=True, country_codes="vn", language=self._language
            )
        except GeopyError as exc:
            # An outage must not block a booking; the miss is not cached so it is retried.
            log.warning("geocoder failed for %r: %s", query, exc)
            return None
        result = (
            GeocodeResult(
                lat=float(location.latitude),
                lon=float(location.longitude),
                display_name=str(location.address),
                source=SOURCE_NOMINATIM,
                approximate=False,
            )
            if location is not None
            else None
        )
        self.cache.put(key, result)
        return result


class ChainGeocoder:
    """Asks each geocoder in turn and returns the first answer."""

    def __init__(self, geocoders: Sequence[Geocoder]) -> None:
        self.geocoders = tuple(geocoders)

    def geocode(self, address: str, commune: Commune | None) -> GeocodeResult | None:
        """The first geocoder's answer that is not None."""
        for g in self.geocoders:
            result = g.geocode(address, commune)
            if result is not None:
                return result
        return None


def make_geocoder(
    settings: Settings, gazetteer: Gazetteer, cache_path: Path | None = None
) -> Geocoder:
    """Nominatim (falling back to commune label points) when geocoder_url is set, else offline."""
    offline = OfflineGeocoder(gazetteer)
    if not settings.geocoder_url:
        return offline
    online = NominatimGeocoder(
        settings.geocoder_url,
        settings.geocoder_user_agent,
        cache_path,
        gazetteer=gazetteer,
    )
    return ChainGeocoder([online, offline])
