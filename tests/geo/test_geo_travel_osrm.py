"""The OSRM provider against a real local HTTP server speaking OSRM's table format."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from typer.testing import CliRunner

from postal.errors import TravelProviderUnavailable
from postal.geo.cli import app
from postal.geo.matrix import SpeedProfile, TravelModel, great_circle_matrix_m, haversine_m
from postal.geo.travel import OsrmProvider

MAX_TABLE_SIZE = 3
ROAD_FACTOR = 1.5  # the fake server's road distance over the great circle
ROAD_SPEED_MS = 10.0  # and its speed, metres per second
ISLAND_LAT = 21.5  # no route to or from a coordinate north of this
# 10 m/s too, so fallback seconds are a tenth of the fallback metres.
MODEL = TravelModel(circuity=1.3, speed_kmh=36.0)


@dataclass
class FakeOsrm:
    """What the server saw: the raw request targets, in order."""

    url: str
    targets: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _reply(self, status: int, body: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Answer /table/v1/{profile}/{lon,lat;...} as osrm-routed does."""
        self.server.fake.targets.append(self.path)
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        if len(segments) != 5 or segments[1:3] != ["table", "v1"]:
            return self._reply(400, {"code": "InvalidUrl", "message": "URL string malformed"})
        profile, coords = segments[3], segments[4]
        if profile == "crash":
            return self._reply(500, None, raw=b"<html>internal error</html>")
        if profile == "slow":
            time.sleep(0.5)
        if profile == "notable":
            return self._reply(200, {"code": "NoTable", "message": "No table found"})
        lonlat = np.array([[float(v) for v in c.split(",")] for c in coords.split(";")])
        lons, lats = lonlat[:, 0], lonlat[:, 1]
        if (np.abs(lats) > 90).any():
            return self._reply(400, {"code": "InvalidValue", "message": "bad coordinates"})
        query = parse_qs(parts.query)
        everyone = list(range(len(lonlat)))
        sources = (
            [int(i) for i in query["sources"][0].split(";")] if "sources" in query else everyone
        )
        targets = (
            [int(i) for i in query["destinations"][0].split(";")]
            if "destinations" in query
            else everyone
        )
        if len(sources) * len(targets) > MAX_TABLE_SIZE**2:
            return self._reply(400, {"code": "TooBig", "message": "Too many table coordinates"})
        annotations = query.get("annotations", ["duration"])[0].split(",")
        distances: list[list[float | None]] = []
        for i in sources:
            row: list[float | None] = []
            for j in targets:
                island = lats[i] > ISLAND_LAT or lats[j] > ISLAND_LAT
                d = ROAD_FACTOR * float(haversine_m(lats[i], lons[i], lats[j], lons[j]))
                row.append(None if island and i != j else round(d, 1))
            distances.append(row)
        body: dict[str, Any] = {"code": "Ok", "sources": [], "destinations": []}
        body["durations"] = [
            [None if d is None else round(d / ROAD_SPEED_MS, 1) for d in row] for row in distances
        ]
        if "distance" in annotations:
            body["distances"] = distances
        return self._reply(200, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOsrm

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has gone: nothing to report."""


@pytest.fixture(scope="module")
def osrm_server() -> Iterator[_Server]:
    """A local HTTP server on a free port implementing OSRM's /table/v1."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeOsrm(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def osrm(osrm_server: _Server) -> FakeOsrm:
    """The server's record, emptied for this test."""
    osrm_server.fake.targets.clear()
    return osrm_server.fake


def _points(n: int, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float64]]:
    rng = np.random.default_rng(seed)
    # Six decimals, as the provider sends them, so both sides compute on the same numbers.
    lats = np.round(rng.uniform(20.98, 21.05, n), 6)
    lons = np.round(rng.uniform(105.78, 105.86, n), 6)
    return np.column_stack([lats, lons])


def _expected(points: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[Any, Any]:
    road = np.round(ROAD_FACTOR * great_circle_matrix_m(points[:, 0], points[:, 1]), 1)
    return np.rint(road), np.rint(np.round(road / ROAD_SPEED_MS, 1))


def test_url_has_lon_lat_order_and_asks_for_both_annotations(osrm: FakeOsrm) -> None:
    provider = OsrmProvider(osrm.url + "/", MODEL, max_table_size=MAX_TABLE_SIZE)
    points = [(21.028511, 105.804817), (21.0245, 105.84117)]
    metres, seconds = provider.matrices(points)
    assert osrm.targets == [
        "/table/v1/driving/105.804817,21.028511;105.841170,21.024500?annotations=distance,duration"
    ]
    expected_m, expected_s = _expected(np.array(points))
    assert metres.dtype == np.int64 and seconds.dtype == np.int32
    assert metres.tolist() == expected_m.astype(int).tolist()
    assert seconds.tolist() == expected_s.astype(int).tolist()


def test_big_matrices_are_asked_for_in_blocks(osrm: FakeOsrm) -> None:
    points = _points(7)
    provider = OsrmProvider(osrm.url, MODEL, profile="motorbike", max_table_size=MAX_TABLE_SIZE)
    metres, seconds = provider.matrices(points)
    # Blocks of 3, 3 and 1 points: 3 x 3 requests, none above the server's limit.
    assert len(osrm.targets) == 9
    assert all(t.startswith("/table/v1/motorbike/") for t in osrm.targets)
    off_diagonal = [t for t in osrm.targets if "sources=" in t]
    assert len(off_diagonal) == 6
    assert any(t.endswith("&sources=0;1;2&destinations=3") for t in off_diagonal)
    expected_m, expected_s = _expected(points)
    assert (metres == expected_m).all() and (seconds == expected_s).all()


def test_one_block_too_big_for_the_server_is_a_typed_error(osrm: FakeOsrm) -> None:
    provider = OsrmProvider(osrm.url, MODEL, max_table_size=MAX_TABLE_SIZE + 1)
    with pytest.raises(TravelProviderUnavailable) as caught:
        provider.matrices(_points(4))
    assert caught.value.code == "osrm_failed"
    assert caught.value.params["osrm_code"] == "TooBig"
    assert caught.value.params["http_status"] == 400
    assert caught.value.status == 503


@pytest.mark.parametrize(
    ("profile", "http_status", "osrm_code"), [("crash", 500, None), ("notable", 200, "NoTable")]
)
def test_server_errors_and_codes_other_than_ok_are_typed_errors(
    osrm: FakeOsrm, profile: str, http_status: int, osrm_code: str | None
) -> None:
    provider = OsrmProvider(osrm.url, MODEL, profile=profile)
    with pytest.raises(TravelProviderUnavailable) as caught:
        provider.matrices(_points(2))
    assert caught.value.code == "osrm_failed"
    assert caught.value.params == {"http_status": http_status, "osrm_code": osrm_code}


def test_timeout_and_refused_connection_are_typed_errors(osrm: FakeOsrm) -> None:
    with pytest.raises(TravelProviderUnavailable) as caught:
        OsrmProvider(osrm.url, MODEL, profile="slow", timeout_s=0.1).matrices(_points(2))
    assert caught.value.code == "osrm_unreachable"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(TravelProviderUnavailable) as caught:
        OsrmProvider(f"http://127.0.0.1:{free}", MODEL, timeout_s=1.0).matrices(_points(2))
    assert caught.value.code == "osrm_unreachable"


def test_null_entries_fall_back_to_geodesic(osrm: FakeOsrm) -> None:
    points = _points(5)
    points[3] = (21.6, 105.8)  # an island: OSRM has no route to or from it
    provider = OsrmProvider(osrm.url, MODEL, max_table_size=MAX_TABLE_SIZE)
    metres, seconds = provider.matrices(points)
    expected_m, expected_s = _expected(points)
    geodesic = great_circle_matrix_m(points[:, 0], points[:, 1]) * MODEL.circuity
    for i in range(5):
        for j in range(5):
            if i == j:
                assert metres[i, j] == seconds[i, j] == 0
            elif 3 in (i, j):
                assert metres[i, j] == round(geodesic[i, j])
                assert seconds[i, j] == round(geodesic[i, j] / 10.0)
            else:
                assert (metres[i, j], seconds[i, j]) == (expected_m[i, j], expected_s[i, j])


def test_rush_hour_stretches_osrm_durations(osrm: FakeOsrm) -> None:
    profile = SpeedProfile.default(36.0, rush_factor=0.5)
    provider = OsrmProvider(osrm.url, TravelModel(1.3, 36.0, profile))
    points = _points(3)
    _, calm = provider.matrices(points, depart_at_minute=12 * 60)
    metres, rush = provider.matrices(points, depart_at_minute=8 * 60)
    road = np.round(ROAD_FACTOR * great_circle_matrix_m(points[:, 0], points[:, 1]), 1)
    seconds = np.round(road / ROAD_SPEED_MS, 1)
    assert (calm == np.rint(seconds)).all()
    assert (rush == np.rint(2 * seconds)).all()
    assert (metres == np.rint(road)).all()  # distances do not depend on the hour


def test_bench_matrix_command_times_osrm(osrm: FakeOsrm, data_dir: Path, tmp_path: Path) -> None:
    args = ["matrix", "--points", "4", "--repeat", "1", "--provider", "osrm"]
    args += ["--osrm-url", osrm.url, "--max-table-size", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert len(osrm.targets) == 4  # two blocks of two, both ways
    assert "osrm" in (tmp_path / "matrix.csv").read_text()


def test_every_travel_error_code_reads_in_vietnamese_and_english() -> None:
    from postal.i18n import message

    codes = ["travel_provider_unavailable", "osrm_url_missing", "osrm_unreachable"]
    codes += ["osrm_failed", "osrm_bad_response"]
    for code in codes:
        for lang in ("vi", "en"):
            text = message(code, lang, http_status=400, osrm_code="InvalidQuery")
            assert text != code and "{" not in text
    assert "Máy chủ" in message("osrm_unreachable", "vi")
