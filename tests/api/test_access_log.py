"""Citizens' tokens never reach the access log."""

from __future__ import annotations

import logging

import pytest

from api.access_log import RedactTokens, install

TOKEN = "cz_Zq3x9Wm2KpL0aB7yT5uV1nR8sD4fG6hJ"


def _uvicorn_record(path: str) -> logging.LogRecord:
    """An access record as uvicorn's httptools/h11 protocols emit it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/my-booking/{TOKEN}", "/my-booking/[redacted]"),
        (f"/my-booking/{TOKEN}?new=1", "/my-booking/[redacted]?new=1"),
        (f"/my-booking/{TOKEN}/reschedule", "/my-booking/[redacted]/reschedule"),
        (f"/track?token={TOKEN}&lang=en", "/track?token=[redacted]&lang=en"),
        ("/api/v1/desks", "/api/v1/desks"),
    ],
)
def test_filter_redacts_token_paths(path: str, logged: str) -> None:
    record = _uvicorn_record(path)
    assert RedactTokens().filter(record) is True
    text = record.getMessage()
    assert TOKEN not in text and text == f'127.0.0.1:50000 - "GET {logged} HTTP/1.1" 200'


def test_the_app_installs_it(caplog: pytest.LogCaptureFixture) -> None:
    from api.main import create_app
    from tests.conftest import make_settings

    create_app(make_settings("sqlite://"))
    install()  # idempotent
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactTokens) for f in access.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d', "1.2.3.4:1", "GET", f"/my-booking/{TOKEN}", "1.1", 200
        )
    assert TOKEN not in caplog.text and "/my-booking/[redacted]" in caplog.text
