"""Settings of the custody ledger (environment, prefix POSTAL_), read on first use."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrackingSettings(BaseSettings):
    """Delivery attempt rule, one-time code lifetime, device clock skew, group commit."""

    model_config = SettingsConfigDict(env_prefix="POSTAL_", env_file=".env", extra="ignore")

    delivery_max_attempts: int = Field(
        default=2, ge=1, description="Delivery attempts before a result returns to the desk."
    )
    delivery_attempt_gap_days: int = Field(
        default=2, ge=1, description="Working days between two delivery attempts."
    )
    otp_ttl_minutes: int = Field(default=10, ge=1, description="Lifetime of a one-time code.")
    ledger_group_max_events: int = Field(
        default=400,
        ge=1,
        description="Most events one commit of the ledger's group writer records: a server "
        "process records the event batches waiting for it together, in one transaction.",
    )
    ledger_group_writers: int = Field(
        default=1,
        ge=1,
        description="Group writer threads per server process. One measured best on two cores "
        "(postal bench ledger): a second checks the next group while one waits for the chain "
        "head or its commit, but the two contend for the interpreter and the head.",
    )
    ledger_lock_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="PostgreSQL: how long a group waits for an item row held elsewhere before "
        "its batches are recorded one by one (the blocked one then fails alone, 503).",
    )
    ledger_reply_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a request waits for its group's commit before answering 503 "
        "(the batch may still be recorded; a re-send gets the replay).",
    )
    device_clock_skew_minutes: int = Field(
        default=10,
        ge=1,
        description="A device time this far ahead of the server is refused (offline capture "
        "may send events late, never from the future).",
    )


@lru_cache
def get_tracking_settings() -> TrackingSettings:
    """The process-wide tracking settings."""
    return TrackingSettings()
