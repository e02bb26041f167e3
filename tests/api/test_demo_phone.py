"""The demo's SMS gateway stand-in and phone page: mounted only when asked for."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.main import create_app
from tests.conftest import make_settings


def test_the_demo_phone_shows_what_the_gateway_took_once(sqlite_engine: Engine) -> None:
    app = create_app(make_settings("sqlite://", demo_phone=True), sqlite_engine)
    with TestClient(app) as client:
        sms = {"to": "+84912000001", "brandname": "VNPOST", "message": "Mã xác nhận 123456",
               "tracking_id": "k-1"}  # fmt: skip
        assert client.post("/demo/sms-gateway", json=sms).json()["error"] == 0
        client.post("/demo/sms-gateway", json=sms)  # a re-send under the same key
        page = client.get("/demo/phone", params={"to": "0912000001"})
        assert page.text.count("Mã xác nhận 123456") == 1
        other = client.get("/demo/phone", params={"to": "0912999999"})
        assert "Mã xác nhận" not in other.text


def test_no_demo_phone_in_a_real_deployment(client: TestClient) -> None:
    assert client.get("/demo/phone").status_code == 404
    assert client.post("/demo/sms-gateway", json={}).status_code == 404
