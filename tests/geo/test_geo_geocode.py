"""Geocoders: offline label points, and Nominatim through a local fake server with a cache."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from postal.config import Settings
from postal.geo.gazetteer import Gazetteer
from postal.geo.geocode import (
    SOURCE_NOMINATIM,
    SOURCE_OFFLINE,
    ChainGeocoder,
    NominatimGeocoder,
    OfflineGeocoder,
    make_geocoder,
)


@dataclass
class FakeNominatim:
    """What the fake server answers and what it was asked."""

    url: str
    status: int = 200
    answer: list[dict[str, object]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    """A Nominatim-shaped HTTP server on 127.0.0.1, in a thread, for one test."""
    state = FakeNominatim(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append(
                (parts.path, parse_qs(parts.query), self.headers.get("User-Agent", ""))
            )
            body = json.dumps(state.answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


HIT = {
    "place_id": 1,
    "lat": "21.0445",
    "lon": "105.8410",
    "display_name": "12, Phố Trúc Bạch, Phường Ba Đình, Hà Nội, Việt Nam",
    "type": "house",
}


def _geocoder(url: str, gazetteer: Gazetteer, cache: Path | None = None) -> NominatimGeocoder:
    return NominatimGeocoder(
        url, "postal-test", cache, gazetteer=gazetteer, min_delay_seconds=0.0, max_retries=0
    )


def test_offline_uses_the_commune_label_point(gazetteer: Gazetteer) -> None:
    ba_dinh = gazetteer.commune("00004")
    result = OfflineGeocoder(gazetteer).geocode("12 Trúc Bạch", ba_dinh)
    assert result is not None
    assert (result.lat, result.lon) == (ba_dinh.label_lat, ba_dinh.label_lon)
    assert result.approximate and result.source == SOURCE_OFFLINE


def test_offline_reads_the_commune_from_the_address(gazetteer: Gazetteer) -> None:
    geocoder = OfflineGeocoder(gazetteer)
    result = geocoder.geocode("12 phố Trúc Bạch, phường Ba Đình, TP Hà Nội", None)
    assert result is not None and result.display_name == "Phường Ba Đình"
    # "Hoà Bình" names wards in three provinces: the province part picks one.
    assert geocoder.geocode("Số 5, Phường Hoà Bình", None) is None
    hai_phong = geocoder.geocode("Số 5, Phường Hoà Bình, Thành phố Hải Phòng", None)
    assert hai_phong is not None
    expected = gazetteer.commune("11533")
    assert (hai_phong.lat, hai_phong.lon) == (expected.label_lat, expected.label_lon)
    assert geocoder.geocode("somewhere, nowhere", None) is None


def test_offline_reads_old_addresses(gazetteer: Gazetteer) -> None:
    geocoder = OfflineGeocoder(gazetteer)
    # Phúc Xá ward of the former Ba Đình district is now part of Phường Hồng Hà.
    result = geocoder.geocode("Ngõ 1, Phường Phúc Xá, Quận Ba Đình, Hà Nội", None)
    assert result is not None and result.display_name == "Phường Hồng Hà"
    # Cống Vị was split between two new wards: the address alone cannot say which.
    assert geocoder.geocode("Ngõ 2, Phường Cống Vị, Quận Ba Đình, Hà Nội", None) is None


def test_nominatim_request_and_cache(nominatim: FakeNominatim, gazetteer: Gazetteer) -> None:
    nominatim.answer = [HIT]
    geocoder = _geocoder(nominatim.url, gazetteer)
    ba_dinh = gazetteer.commune("00004")
    result = geocoder.geocode("12 Phố Trúc Bạch", ba_dinh)
    assert result is not None
    assert (result.lat, result.lon) == (21.0445, 105.8410)
    assert result.source == SOURCE_NOMINATIM and not result.approximate
    [(path, params, agent)] = nominatim.requests
    assert path == "/search"
    assert params["countrycodes"] == ["vn"]
    assert params["q"] == ["12 Phố Trúc Bạch, Phường Ba Đình, Thành phố Hà Nội"]
    assert agent == "postal-test"
    # The same address, typed without accents, is answered from the cache.
    again = geocoder.geocode("12 pho truc bach", ba_dinh)
    assert again == result
    assert len(nominatim.requests) == 1


def test_nominatim_cache_file_survives_a_restart(
    nominatim: FakeNominatim, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    nominatim.answer = [HIT]
    cache = tmp_path / "cache" / "geocode.json"
    first = _geocoder(nominatim.url, gazetteer, cache).geocode("12 Phố Trúc Bạch, Hà Nội", None)
    assert cache.is_file() and len(nominatim.requests) == 1
    second = _geocoder(nominatim.url, gazetteer, cache).geocode("12 Phố Trúc Bạch, Hà Nội", None)
    assert second == first
    assert len(nominatim.requests) == 1


def test_nominatim_miss_is_cached(nominatim: FakeNominatim, gazetteer: Gazetteer) -> None:
    geocoder = _geocoder(nominatim.url, gazetteer)
    assert geocoder.geocode("ngõ không tồn tại", None) is None
    assert geocoder.geocode("ngõ không tồn tại", None) is None
    assert len(nominatim.requests) == 1


def test_nominatim_error_is_not_cached(nominatim: FakeNominatim, gazetteer: Gazetteer) -> None:
    nominatim.status = 500
    geocoder = _geocoder(nominatim.url, gazetteer)
    assert geocoder.geocode("12 Phố Trúc Bạch", None) is None
    nominatim.status, nominatim.answer = 200, [HIT]
    result = geocoder.geocode("12 Phố Trúc Bạch", None)
    assert result is not None and result.lat == 21.0445
    assert len(nominatim.requests) == 2


def test_make_geocoder_offline_by_default(gazetteer: Gazetteer) -> None:
    geocoder = make_geocoder(Settings(geocoder_url=None), gazetteer)
    assert isinstance(geocoder, OfflineGeocoder)


def test_make_geocoder_falls_back_to_the_label_point(
    nominatim: FakeNominatim, gazetteer: Gazetteer
) -> None:
    geocoder = make_geocoder(Settings(geocoder_url=nominatim.url), gazetteer)
    assert isinstance(geocoder, ChainGeocoder)
    assert isinstance(geocoder.geocoders[0], NominatimGeocoder)
    result = geocoder.geocode("ngõ không tồn tại", gazetteer.commune("00070"))
    assert result is not None and result.approximate
    assert len(nominatim.requests) == 1


def test_a_damaged_cache_file_is_ignored(
    nominatim: FakeNominatim, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    cache = tmp_path / "geocode.json"
    cache.write_text("{not json", encoding="utf-8")
    nominatim.answer = [HIT]
    result = _geocoder(nominatim.url, gazetteer, cache).geocode("12 Phố Trúc Bạch", None)
    assert result is not None and len(nominatim.requests) == 1
    assert json.loads(cache.read_text(encoding="utf-8"))  # rewritten whole
