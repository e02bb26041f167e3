"""Retry delays shared by messages and webhooks: exponential, capped, with jitter."""

from __future__ import annotations

import datetime as dt
import random

from postal.config import Settings


def retry_delay(
    settings: Settings, attempts: int, rng: random.Random | None = None
) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed ones: base x 2^(attempts-1), capped,
    then drawn from its upper half (equal jitter) so that senders that failed together do not
    retry together."""
    ceiling = min(
        settings.message_retry_max_s,
        settings.message_retry_base_s * 2 ** max(0, attempts - 1),
    )
    draw = (rng or random).uniform(0.5, 1.0)
    return dt.timedelta(seconds=ceiling * draw)
