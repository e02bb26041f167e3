"""Keep the citizens' access tokens out of the access log.

A citizen's booking page is ``/my-booking/<token>``; uvicorn's access log would write the token
with every request. ``install`` puts a filter on the ``uvicorn.access`` logger (the app factory
calls it, so `postal serve`, `postal demo` and tests all have it) that rewrites the path of each
record: the token segment and any ``token=`` query value become ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_PATH_TOKEN = re.compile(r"(/my-booking/)[^/?#\s\"]+")
_QUERY_TOKEN = re.compile(r"([?&](?:access_)?token=)[^&#\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with booking tokens in paths and ``token=`` query values replaced."""
    return _QUERY_TOKEN.sub(rf"\g<1>{REDACTED}", _PATH_TOKEN.sub(rf"\g<1>{REDACTED}", text))


class RedactTokens(logging.Filter):
    """Rewrites access-log records (uvicorn passes the path among the message's args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Add the filter to the access logger once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
