"""Settings: one pydantic-settings class, read from the environment (prefix POSTAL_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every tunable of the service; documented in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="POSTAL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./postal.db",
        description="SQLAlchemy URL: an SQLite file by default, or postgresql+psycopg://...",
    )
    secret_key: str = Field(
        default="change-me-in-production-0123456789abcdef",
        description="Key for the keyed hash of ID numbers and for signing; set it in production.",
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Reference data directory.")
    locality: str = Field(default="hanoi", description="Locality served by default.")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Local time zone shown to users.")
    s10_service_indicator: str = Field(
        default="EB", description="S10 service indicator (2 letters)."
    )
    s10_country: str = Field(default="VN", description="S10 country code.")
    s10_serial_start: int = Field(
        default=10_000_000, description="First serial of the issued range."
    )
    s10_serial_end: int = Field(default=99_999_999, description="Last serial of the issued range.")
    s10_reuse_after_days: int = Field(default=366, description="A number is never reissued sooner.")
    booking_lead_minutes: int = Field(
        default=60, description="A slot can be booked until this many minutes before it starts."
    )
    booking_horizon_days: int = Field(default=30, description="How far ahead a slot can be booked.")
    geocoder_url: str | None = Field(
        default=None, description="Nominatim-compatible geocoder base URL; offline when unset."
    )
    geocoder_user_agent: str = Field(default="postal-onestop", description="Geocoder User-Agent.")
    circuity_factor: float = Field(
        default=1.4,
        description="Road over geodesic distance, measured by `postal bench circuity` (1.38-1.42).",
    )
    speed_kmh: float = Field(default=22.0, description="Courier motorbike speed in the city.")
    travel_provider: Literal["geodesic", "roadgraph", "osrm"] = Field(
        default="geodesic",
        description="Where plans get distances and times: geodesic x circuity, the locality's "
        "road graph, or an OSRM server's table service.",
    )
    roadgraph_max_snap_m: float = Field(
        default=500.0,
        description="Road graph provider: a point farther than this from the graph's roads "
        "is off the graph and its pairs use geodesic x circuity.",
    )
    osrm_url: str | None = Field(
        default=None, description="OSRM server base URL, e.g. http://127.0.0.1:5000."
    )
    osrm_profile: str = Field(default="driving", description="OSRM profile in the table URL.")
    osrm_max_table_size: int = Field(
        default=100,
        description="Sources (and destinations) per OSRM table request: the server's "
        "--max-table-size.",
    )
    osrm_timeout_s: float = Field(default=30.0, description="Timeout of one OSRM request.")
    plan_time_limit_s: float = Field(default=30.0, description="Solver budget of one plan.")
    courier_capacity: int = Field(default=40, description="Items a courier's box holds.")
    courier_shift: str = Field(default="07:30-17:30", description="Courier shift, local time.")
    courier_break: str = Field(
        default="11:30-13:00/30",
        description="Courier lunch break: earliest-latest start / minutes.",
    )
    courier_fleet_factor: float = Field(
        default=1.5,
        description="Couriers offered to the optimiser per post office: items / 12 times this.",
    )
    service_citizen_s: int = Field(default=420, description="Time at a citizen's door.")
    service_desk_s: int = Field(default=180, description="Time per item at a desk.")
    token_ttl_hours: int = Field(default=12, description="Lifetime of a staff bearer token.")
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a server process remembers who holds a token or API key (0: "
        "never); a token revoked elsewhere or a deactivated user is refused at most this late.",
    )
    cookie_secure: bool = Field(
        default=True, description="Send the session cookie over HTTPS only."
    )
    demo_bookings: int = Field(default=500, description="Bookings `postal demo` creates.")
    host: str = Field(default="127.0.0.1", description="Address `postal serve` listens on.")
    port: int = Field(default=8000, description="Port `postal serve` listens on.")


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once, on first use, never at import)."""
    return Settings()
