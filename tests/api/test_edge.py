"""Input refused at the edge with 422 naming the field: control characters, ids beyond the
database's integers; and one credential per request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from postal.auth.models import Role
from postal.auth.service import create_api_key, create_user
from tests.booking.helpers import booking_body

TEMPLATES = Path(__file__).parents[2] / "api" / "templates"


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("get", "/api/v1/desks?commune_code=00%0004", "commune_code"),
        ("get", "/api/v1/communes?q=ba%00", "q"),
        ("get", "/api/v1/procedures/abc%00", "path"),
        ("get", "/api/v1/bookings?desk_code=MC%1F1", "desk_code"),
    ],
)
def test_control_characters_in_the_url_are_422(
    client: TestClient, method: str, url: str, field: str
) -> None:
    r = client.request(method, url)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "control_character"
    assert r.json()["errors"][0]["field"] == field


def test_control_characters_in_bodies_are_422_naming_the_field(
    client: TestClient, session: Session
) -> None:
    body = booking_body(session, service_form="dossier_pickup", phone="0912000001")
    body["citizen_name"] = "Nguyễn Văn\u0000A"
    r = client.post("/api/v1/bookings", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "citizen_name"
    form = client.post("/staff/login", data={"username": "a\x00b", "password": "x"})
    assert form.status_code == 422 and form.json()["errors"][0]["field"] == "username"
    # A line break in an address is text, not a control character to refuse.
    body["citizen_name"] = "Nguyễn Văn A"
    body["address_text"] = "Số 1\nNgõ 2"
    assert client.post("/api/v1/bookings", json=body).status_code == 201


def test_ids_beyond_the_databases_integers_are_422(client: TestClient, session: Session) -> None:
    create_user(session, username="disp", password="secret-pass-1", role=Role.dispatcher,
                full_name="D", post_office_codes=["115100"])  # fmt: skip
    session.commit()
    token = client.post(
        "/api/v1/auth/token", data={"username": "disp", "password": "secret-pass-1"}
    )
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for path in ("/api/v1/plans/4294967296", "/api/v1/routes/4294967296",
                 "/api/v1/handover-records/4294967296", "/api/v1/plans/0"):  # fmt: skip
        r = client.get(path, headers=auth)
        assert r.status_code == 422, (path, r.text)


def test_two_credentials_in_one_request_are_refused(client: TestClient, session: Session) -> None:
    create_user(session, username="disp", password="secret-pass-1", role=Role.dispatcher,
                full_name="D", post_office_codes=["115100"])  # fmt: skip
    key = create_api_key(session, "one-stop")
    session.commit()
    token = client.post(
        "/api/v1/auth/token", data={"username": "disp", "password": "secret-pass-1"}
    )
    both = {"Authorization": f"Bearer {token.json()['access_token']}", "X-API-Key": key}
    r = client.get("/api/v1/bookings", params={"date": "2026-12-08"}, headers=both)
    assert r.status_code == 401 and r.json()["code"] == "two_credentials"


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/track", "/api/v1/procedures", "/no-such-page"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
        assert r.headers["referrer-policy"] == "same-origin"
        policy = r.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'self'" in policy
        assert "strict-transport-security" not in r.headers  # the tests run without HTTPS
    assert client.get("/my-booking/nothing").headers["cache-control"] == "no-store"


def test_a_cross_site_form_post_with_the_staff_cookie_is_refused(
    client: TestClient, session: Session
) -> None:
    create_user(session, username="clerk", password="secret-pass-1", role=Role.clerk,
                full_name="C", desk_code="MC-00004")  # fmt: skip
    session.commit()
    login = client.post(
        "/staff/login", data={"username": "clerk", "password": "secret-pass-1"},
        follow_redirects=False,
    )  # fmt: skip
    assert login.status_code == 303 and client.cookies.get("postal_session")
    evil = client.post(
        "/staff/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert evil.status_code == 403 and evil.json()["code"] == "cross_site_request"
    assert client.get("/desk", follow_redirects=False).status_code == 200  # still signed in
    same = client.post(
        "/staff/logout", headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert same.status_code == 303


INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=", re.I
)


def test_no_template_holds_inline_code() -> None:
    """The pages' policy forbids inline scripts, handlers and styles: none may be written."""
    found = [
        f"{path.name}: {match.group(0).strip()}"
        for path in sorted(TEMPLATES.glob("*.html"))
        for match in INLINE_CODE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
