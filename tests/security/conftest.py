"""The security tests' marker: ``limits(**settings)`` sets the ``limited`` client's settings."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line("markers", "limits(**settings): settings of the limited client")
