"""Sign-in cache: a burst of requests signs in once; logout and expiry still refuse the token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.principals import PrincipalCache
from postal.auth.models import AccessToken, Role
from postal.auth.service import Principal, create_user
from postal.config import Settings
from tests.conftest import make_settings

PASSWORD = "password123"


def _client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(settings, engine)) as client:
        yield client


def _login(client: TestClient, session: Session, username: str) -> dict[str, str]:
    create_user(session, username=username, password=PASSWORD, role=Role.admin, full_name="A")
    session.commit()
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _revoke_elsewhere(session: Session) -> None:
    # What another server process's logout leaves in the database.
    session.execute(delete(AccessToken))
    session.commit()


@pytest.fixture
def cached(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    yield from _client(engine, settings.model_copy(update={"auth_cache_seconds": 300.0}))


@pytest.fixture
def uncached(engine: Engine) -> Iterator[TestClient]:
    yield from _client(engine, make_settings(str(engine.url), auth_cache_seconds=0.0))


def test_logout_refuses_the_cached_token_at_once(cached: TestClient, session: Session) -> None:
    auth = _login(cached, session, "admin1")
    assert cached.get("/api/v1/auth/me", headers=auth).status_code == 200  # now cached
    assert cached.post("/api/v1/auth/logout", headers=auth).status_code == 204
    r = cached.get("/api/v1/auth/me", headers=auth)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


def test_a_cached_token_is_remembered_and_an_uncached_one_read_each_time(
    cached: TestClient, uncached: TestClient, session: Session
) -> None:
    auth = _login(cached, session, "admin1")
    assert cached.get("/api/v1/auth/me", headers=auth).status_code == 200
    assert uncached.get("/api/v1/auth/me", headers=auth).status_code == 200
    _revoke_elsewhere(session)
    # Within its lifetime the cache still admits the token; without a cache it is refused.
    assert cached.get("/api/v1/auth/me", headers=auth).status_code == 200
    assert uncached.get("/api/v1/auth/me", headers=auth).status_code == 401


def test_cache_entries_expire_and_the_oldest_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("api.principals.time.monotonic", lambda: clock[0])
    cache = PrincipalCache(ttl=10, size=2)
    alice, bob, carol = (Principal(role=Role.courier, username=n) for n in ("a", "b", "c"))
    cache.put("token-a", alice, cache.clock())
    cache.put("token-b", bob, cache.clock())
    assert cache.get("token-a") == alice  # a is now the most recent
    cache.put("token-c", carol, cache.clock())
    assert cache.get("token-b") is None and cache.get("token-c") == carol
    clock[0] += 10.5
    assert cache.get("token-a") is None
    assert PrincipalCache(ttl=0).get("token-a") is None


def test_a_read_from_before_a_logout_is_not_remembered() -> None:
    cache = PrincipalCache(ttl=10)
    courier = Principal(role=Role.courier, username="c")
    read_at = cache.clock()  # a sign-in reads the token row, still valid...
    cache.forget("token-a")  # ...a logout revokes it meanwhile...
    cache.put("token-a", courier, read_at)  # ...and the stale read comes back
    assert cache.get("token-a") is None
    cache.put("token-a", courier, cache.clock())  # a read after the logout is remembered
    assert cache.get("token-a") == courier


def test_a_staff_token_sent_as_an_api_key_is_refused_even_when_cached(
    cached: TestClient, session: Session
) -> None:
    auth = _login(cached, session, "admin1")
    assert cached.get("/api/v1/auth/me", headers=auth).status_code == 200  # cached as a token
    token = auth["Authorization"].removeprefix("Bearer ")
    assert cached.get("/api/v1/auth/me", headers={"X-API-Key": token}).status_code == 401
