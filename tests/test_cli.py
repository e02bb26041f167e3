"""The `postal` command: migrations, serve's refusal, load twice, staff and API keys, demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from postal.catalogue.models import Commune, Desk, DeskWindow, PostOffice, Procedure
from postal.cli import app
from postal.config import get_settings
from postal.db import get_engine, make_engine

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("POSTAL_DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield url
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_serve_refuses_an_unmigrated_database(db_url: str) -> None:
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 3
    assert "postal db upgrade" in result.output


def test_load_before_upgrade_is_refused(db_url: str) -> None:
    result = runner.invoke(app, ["load", "hanoi"])
    assert result.exit_code != 0


def test_upgrade_load_twice_and_accounts(db_url: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["load", "hanoi"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["load", "hanoi"])
    assert second.exit_code == 0 and first.output == second.output
    engine = make_engine(db_url)
    with Session(engine) as s:
        count = lambda m: s.exec(select(func.count()).select_from(m)).one()  # noqa: E731
        assert count(Commune) == 3321
        assert count(Desk) == 126
        assert 8 <= count(PostOffice) <= 12
        assert count(Procedure) >= 30
        assert count(DeskWindow) > 126 * 5
    ok = runner.invoke(
        app,
        [
            "user",
            "create",
            "--username",
            "hoa",
            "--role",
            "clerk",
            "--full-name",
            "Lê Thị Hoa",
            "--desk",
            "MC-00004",
            "--password",
            "secret-pass-1",
        ],
    )
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(
        app,
        [
            "user",
            "create",
            "--username",
            "hoa",
            "--role",
            "clerk",
            "--full-name",
            "X",
            "--desk",
            "MC-00004",
            "--password",
            "secret-pass-1",
        ],
    )
    assert dup.exit_code == 2 and "username_taken" in dup.output
    no_desk = runner.invoke(
        app,
        [
            "user",
            "create",
            "--username",
            "lan",
            "--role",
            "clerk",
            "--full-name",
            "X",
            "--password",
            "secret-pass-1",
        ],
    )
    assert no_desk.exit_code == 2 and "clerk_needs_desk" in no_desk.output
    key = runner.invoke(app, ["apikey", "create", "one-stop"])
    assert key.exit_code == 0 and key.output.strip().startswith("pk_")
    engine.dispose()


def test_demo_builds_a_database_with_bookings(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--database", str(tmp_path / "demo.db"), "--bookings", "40", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "Bookings for" in result.output and ": 40" in result.output
    assert "http://127.0.0.1:8000/" in result.output and "admin" in result.output


def test_serve_refuses_the_built_in_secret_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    monkeypatch.delenv("POSTAL_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "POSTAL_SECRET_KEY" in result.output
