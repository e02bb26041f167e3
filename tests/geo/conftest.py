"""Fixtures of the geography tests: the project's own data directory, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from postal.geo.boundaries import CommuneBoundaries
from postal.geo.gazetteer import Gazetteer

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The repository's data/ directory."""
    return DATA_DIR


@pytest.fixture(scope="session")
def gazetteer(data_dir: Path) -> Gazetteer:
    """The national gazetteer."""
    return Gazetteer.load(data_dir)


@pytest.fixture(scope="session")
def hanoi(data_dir: Path) -> CommuneBoundaries:
    """Hà Nội's commune boundaries."""
    return CommuneBoundaries.load(data_dir, "hanoi")
